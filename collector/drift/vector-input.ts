// Vectors (embeddings) in files: which column holds them and how a value is read. One definition for
// the offline CLI (`driftwatch drift`, cli.ts) and for uploaded reference files (api/baselines.ts),
// so a file means the same to both. A vector is a typed (Parquet) array of numbers, or in a text
// file (CSV, TSV, JSON lines, which have no vector type) a bracketed list in JSON syntax.
import { ident, literal } from '../store/sql.js';

/** A typed (Parquet) vector column: an array of numbers, NULL elements allowed. */
export const VECTOR_TYPE = /^Array\((Nullable\()?(U?Int\d+|Float\d+|BFloat16|Decimal.*)\)+$/;
export const STRING_TYPE = /^(Nullable\()?(LowCardinality\()?(Nullable\()?(String|FixedString\(\d+\))\)*$/;

/** Strings that mean "no value" in a text file, compared after trimming and lower-casing. */
export const MISSING_TEXT = ['', 'null', 'nan'];

export function missingText(x: string): string {
  return `(${x} IS NULL OR lower(trimBoth(${x})) IN (${MISSING_TEXT.map(literal).join(', ')}))`;
}

/**
 * A vector in a text file (CSV, TSV, JSON lines): a bracketed list of numbers, as JSON writes it
 * (`[0.12, -3.5e-2, 7]`; a JSON array is read as its text). Elements may be quoted; "nan", "inf",
 * null make the vector non-finite (missing). `[]` is an empty vector (missing).
 */
const LIST_RE = String.raw`^\s*\[\s*(?:"?[^,\s"\[\]]+"?(?:\s*,\s*"?[^,\s"\[\]]+"?)*)?\s*\]\s*$`;

/** SQL: the text value x has a list's shape (LIST_RE); its elements may still not be numbers. */
export const listShape = (x: string) => `match(${x}, ${literal(LIST_RE)})`;

/** The elements of a list matching LIST_RE, as Array(Nullable(Float64)): NULL for one that is not a number. */
export function listElements(x: string): string {
  const tokens = `arrayFilter(t -> t != '', splitByChar(',', replaceRegexpAll(${x}, ${literal(String.raw`[\s"\[\]]`)}, '')))`;
  return `arrayMap(t -> if(lower(t) = 'null', nan, toFloat64OrNull(t)), ${tokens})`;
}

/** SQL: every element of elems (listElements of a value) is a number or a missing marker. */
export const allNumbers = (elems: string) => `arrayAll(e -> isNotNull(e), ${elems})`;

/**
 * SQL: the text value x is a list of numbers (or of missing markers). A text column is a vector
 * column when every non-missing value is one, and at least one is there.
 */
export const isVectorText = (x: string) => `(${listShape(x)} AND ${allNumbers(listElements(x))})`;

/**
 * vectorExpr of a text value x; elems is listElements(x), given when it is computed once for
 * several expressions (the CLI parses a text vector column once, into Array(Float64)).
 */
export function textVector(x: string, elems = listElements(x)): string {
  return `if(${missingText(x)} OR NOT ${listShape(x)}, CAST([] AS Array(Float64)), arrayMap(e -> ifNull(e, nan), ${elems}))`;
}

/** A vector column's values as Array(Float64): [] when missing, NaN for a NULL element. */
export function vectorExpr(col: string, type: string): string {
  if (VECTOR_TYPE.test(type)) {
    return type.startsWith('Array(Nullable(') ? `arrayMap(x -> ifNull(x, nan), CAST(${ident(col)} AS Array(Nullable(Float64))))` : `CAST(${ident(col)} AS Array(Float64))`;
  }
  return textVector(STRING_TYPE.test(type) ? ident(col) : `toString(${ident(col)})`);
}
