// The offline drift command's core: `driftwatch drift --reference REF --current CUR ...`.
// Files are read by the embedded engine (file() table function), so their rows never enter the JS
// heap; the report is the engine's. Bad input is one line on stderr and exit code 2. Columns are
// typed by their values: numerical, vectors (embeddings: numeric arrays, or bracketed lists in text
// files; vector-input.ts, shared with uploaded reference files), else categorical.
import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore, queryRows, type Store } from '../store/client.js';
import { numericScanSql, scanNumericColumns } from './column-scan.js';
import { EMBEDDING_METHOD } from './embedding.js';
import { driftDetails, type ColumnMethod, type DriftOptions, type SqlSource } from './engine.js';
import { DriftInputError, isMethod, METHODS, type DriftReport } from './report.js';
import { ident, literal } from '../store/sql.js';
import { allNumbers, listElements, listShape, missingText, STRING_TYPE, textVector, VECTOR_TYPE, vectorExpr } from './vector-input.js';

export const DRIFT_USAGE = `usage: driftwatch drift --reference FILE --current FILE [options]

Compares the distribution of every column present in both files (CSV, TSV, JSONL or Parquet).
A column of numeric arrays (Parquet Array(Float32|Float64|...), JSON arrays of numbers, or in CSV/TSV
a bracketed list "[0.1, 0.2]") is a vector column (embedding), compared with method centroid.
  --reference FILE     the baseline data
  --current FILE       the data to check
  --columns a,b        only these columns
  --categorical a,b    treat these columns as categorical
  --numerical a,b      treat these columns as numerical (values that are not numbers are missing)
  --method M           auto (default), ${METHODS.join(', ')} or ${EMBEDDING_METHOD};
                       or per column: a=psi,b=ks (others auto). Vector columns take only centroid
                       (auto's choice for them), other columns anything else: a global method that
                       does not fit a selected column is an error (select with --columns)
  --threshold X        drift threshold of the method (with auto or per-column methods: of every
                       method, centroid's p-value threshold included)
  --drift-share S      share of drifted columns at which the dataset drifts (default 0.5)
  --bh                 Benjamini-Hochberg correction of p-values across columns
  --min-effect SPEC    effect-size guard of the p-value methods (on by default): ks drifts only when
                       also D >= 0.04, chisquare only when Cramér's V >= 0.1, so that huge samples do
                       not flag negligible differences. SPEC: off (the conventions' verdicts exactly),
                       one number for both, or ks=X,chisquare=Y
  --format F           json (default), text or html (a self-contained page with a chart per column)
  --out FILE           write the report there instead of stdout
  --fail-on-drift      exit 1 when the dataset drifts
Exit codes: 0 report written, 1 dataset drift with --fail-on-drift, 2 bad input.`;

export interface DriftCliIo {
  stdout?: { write(s: string): unknown };
  stderr?: { write(s: string): unknown };
  /** An open ClickHouse client to use instead of a temporary embedded engine. */
  client?: ClickHouseClient;
  /** With `client` on the embedded engine: its store's streamNative (numerical columns are then scanned). */
  streamNative?: Store['streamNative'];
}

class CliError extends Error {}

const FORMATS: Record<string, { format: string; text: boolean }> = {
  '.csv': { format: 'CSVWithNames', text: true },
  '.tsv': { format: 'TSVWithNames', text: true },
  '.jsonl': { format: 'JSONEachRow', text: true },
  '.ndjson': { format: 'JSONEachRow', text: true },
  '.json': { format: 'JSONEachRow', text: true },
  '.parquet': { format: 'Parquet', text: false },
};

function list(v: string | undefined): string[] {
  return v === undefined ? [] : v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

interface InputFile {
  role: 'reference' | 'current';
  path: string;
  format: string;
  text: boolean;
}

function inputFile(role: InputFile['role'], path: string | undefined): InputFile {
  if (!path) throw new CliError(`missing --${role} FILE`);
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new CliError(`${role} file not found: ${path}`);
  }
  if (!st.isFile()) throw new CliError(`${role} file is not a file: ${path}`);
  const f = FORMATS[extname(abs).toLowerCase()];
  if (!f) throw new CliError(`${role} file ${path}: unsupported type (expected .csv, .tsv, .jsonl, .ndjson, .json or .parquet)`);
  if (st.size === 0) throw new CliError(`${role} file ${abs} has no rows`);
  return { role, path: abs, ...f };
}

interface Column {
  name: string;
  /** Type in each loaded table. */
  refType: string;
  curType: string;
  /** The column holding its values in each table, when not `name` (a text vector column parsed by parseLists). */
  refCol?: string;
  curCol?: string;
}

/** At most this many numerical values (both files) are scanned in memory (8 bytes each): 2 GiB. */
const SCAN_MAX_VALUES = 2 ** 28;

const NUMERIC_TYPE = /^(Nullable\()?(LowCardinality\()?(U?Int\d+|Float\d+|BFloat16|Decimal.*)\)*$/;
/**
 * Makes a file queryable: text files are parsed once into a Memory table (as strings, typed below);
 * a Parquet file read by a single scan is queried where it lies (`direct`): each column's part then
 * decodes only its own column, and nothing is copied. Returns the column types and what to select from.
 */
async function loadTable(client: ClickHouseClient, f: InputFile, table: string, direct: boolean): Promise<{ types: Map<string, string>; from: string; created: boolean; rows: number }> {
  if (direct && !f.text) {
    const types = await describe(client, f);
    const from = `file(${literal(f.path)}, 'Parquet')`;
    const rows = Number((await queryRows<{ n: string }>(client, `SELECT count() AS n FROM ${from}`))[0].n);
    if (rows === 0) throw new CliError(`${f.role} file ${f.path} has no rows`);
    return { types: new Map(types.map((d) => [d.name, d.type])), from, created: false, rows };
  }
  return { ...(await loadMemoryTable(client, f, table)), from: table, created: true };
}

async function describe(client: ClickHouseClient, f: InputFile): Promise<{ name: string; type: string }[]> {
  let described: { name: string; type: string }[];
  try {
    described = await queryRows<{ name: string; type: string }>(client, `DESCRIBE TABLE file({path:String}, '${f.format}')`, { path: f.path });
  } catch (e) {
    // ClickHouse infers the columns from the first rows: a file with a header only (or nothing) has none.
    if (/Cannot read rows|is empty|empty file|no data/i.test(oneLine(e))) throw new CliError(`${f.role} file ${f.path} has no rows`);
    throw new CliError(`${f.role} file ${f.path}: ${oneLine(e)}`);
  }
  if (described.length === 0) throw new CliError(`${f.role} file ${f.path} has no columns`);
  return described;
}

async function loadMemoryTable(client: ClickHouseClient, f: InputFile, table: string): Promise<{ types: Map<string, string>; rows: number }> {
  const params = { path: f.path };
  const described = await describe(client, f);
  // Text files are read as strings and typed here, by the conventions' rule, over every row
  // (schema inference only samples the first rows).
  const structure = f.text ? `, ${literal(described.map((d) => `${ident(d.name)} Nullable(String)`).join(', '))}` : '';
  await client.command({ query: `CREATE TABLE ${table} ENGINE = Memory AS SELECT * FROM file({path:String}, '${f.format}'${structure})`, query_params: params });
  const rows = Number((await queryRows<{ n: string }>(client, `SELECT count() AS n FROM ${table}`))[0].n);
  if (rows === 0) throw new CliError(`${f.role} file ${f.path} has no rows`);
  return { types: new Map(described.map((d) => [d.name, f.text ? 'Nullable(String)' : d.type])), rows };
}

function numberExpr(col: string, type: string): string {
  // A plain number column stays plain: no Nullable wrapper to carry through every row.
  if (NUMERIC_TYPE.test(type)) return type.startsWith('Nullable(') ? `CAST(${ident(col)} AS Nullable(Float64))` : `toFloat64(${ident(col)})`;
  return `toFloat64OrNull(trimBoth(toString(${ident(col)})))`;
}

function textExpr(col: string, type: string): string {
  const v = STRING_TYPE.test(type) ? ident(col) : `toString(${ident(col)})`;
  return `CAST(if(${missingText(v)}, NULL, ${v}) AS Nullable(String))`;
}

/**
 * Types the columns by their values on both sides. Numerical: every non-missing value parses as a
 * finite number. Vector: an array type. List: text whose every non-missing value has a list's shape
 * (LIST_RE), with at least one such value; it is a vector column when every element is a number too,
 * which parseLists checks as it parses the elements (once: parsing them is what costs). Everything
 * else is categorical.
 */
async function classify(client: ClickHouseClient, cols: Column[], ref: string, cur: string): Promise<{ numerical: Set<string>; vector: Set<string>; lists: Set<string> }> {
  const numerical = new Set<string>();
  const vector = new Set<string>();
  const lists = new Set<string>();
  const text = (t: string) => STRING_TYPE.test(t);
  const toCheck = cols.filter((c) => {
    if (NUMERIC_TYPE.test(c.refType) && NUMERIC_TYPE.test(c.curType)) {
      numerical.add(c.name);
      return false;
    }
    if (VECTOR_TYPE.test(c.refType) && VECTOR_TYPE.test(c.curType)) {
      vector.add(c.name);
      return false;
    }
    return [c.refType, c.curType].some((t) => text(t) || NUMERIC_TYPE.test(t) || VECTOR_TYPE.test(t));
  });
  if (toCheck.length === 0) return { numerical, vector, lists };
  // Per side and column: b = values that are not numbers, v = values that are not lists, l = lists.
  const counts = (c: Column, type: string, i: number) => {
    const v = `toString(${ident(c.name)})`;
    if (NUMERIC_TYPE.test(type)) return `0 AS b${i}, countIf(${ident(c.name)} IS NOT NULL) AS v${i}, 0 AS l${i}`;
    if (VECTOR_TYPE.test(type)) return `count() AS b${i}, 0 AS v${i}, count() AS l${i}`;
    const present = `NOT ${missingText(v)}`;
    const b = `countIf(${present} AND NOT isFinite(ifNull(toFloat64OrNull(trimBoth(${v})), nan))) AS b${i}`;
    // Only text holds lists; a value of another type (a date, ...) is never a vector.
    return text(type) ? `${b}, countIf(${present} AND NOT ${listShape(v)}) AS v${i}, countIf(${present}) AS l${i}` : `${b}, countIf(${present}) AS v${i}, 0 AS l${i}`;
  };
  const count = async (table: string, side: 'refType' | 'curType') =>
    (await queryRows<Record<string, string>>(client, `SELECT ${toCheck.map((c, i) => counts(c, c[side], i)).join(', ')} FROM ${table}`))[0];
  const [r, c] = [await count(ref, 'refType'), await count(cur, 'curType')];
  toCheck.forEach((col, i) => {
    const zero = (k: string) => Number(r[`${k}${i}`]) === 0 && Number(c[`${k}${i}`]) === 0;
    // A value like "inf" parses but is missing, not a number: only text that is neither missing nor
    // a finite number makes a column categorical.
    if (zero('b')) numerical.add(col.name);
    else if (zero('v') && !zero('l')) lists.add(col.name);
  });
  return { numerical, vector, lists };
}

interface ParsedLists {
  /** What to select the side's columns from now. */
  from: string;
  /** Per list column: its values with an element that is not a number (none: a vector column). */
  notNumbers: Map<string, number>;
  /** Per list column parsed into Array(Float64): the column holding it in `from`. */
  parsed: Map<string, string>;
  /** Keeps the parsed columns of these vector columns (and their text no more), drops the others'. */
  keep(vectors: ReadonlySet<string>): Promise<void>;
}

/**
 * Checks the elements of a side's list columns (classify) and, when the side is a Memory table of
 * ours, parses them once: the table is replaced by a copy with each list column also as vectorExpr's
 * Array(Float64) (the same values: [] when missing, NaN for a null element), so the engine's passes
 * over a vector column (moments, Gram sample) read numbers instead of parsing text each time (see
 * bench/README.md). The elements are parsed once for both the check and the copy. The text table is
 * dropped once copied; keep() then drops the vectors' text. `prefix` starts no column name of either file.
 */
async function parseLists(client: ClickHouseClient, lists: Column[], key: 'refType' | 'curType', from: string, table: string | undefined, prefix: string, track: (table: string) => void): Promise<ParsedLists> {
  // Only text holds lists (classify): a list column of another type here has no value at all.
  const text = lists.filter((c) => STRING_TYPE.test(c[key]));
  const notNumbers = (c: Column, elems: string) => `NOT ${missingText(ident(c.name))} AND NOT ${allNumbers(elems)}`;
  const counts = async (exprs: string[], src: string) => {
    const row = (await queryRows<Record<string, string>>(client, `SELECT ${exprs.map((x, i) => `countIf(${x}) AS b${i}`).join(', ')} FROM ${src}`))[0];
    return new Map(text.map((c, i) => [c.name, Number(row[`b${i}`])]));
  };
  const none: ParsedLists = { from, notNumbers: new Map(), parsed: new Map(), keep: async () => undefined };
  if (text.length === 0) return none;
  // A file read where it lies (Parquet) is not copied: only checked.
  if (table === undefined) return { ...none, notNumbers: await counts(text.map((c) => notNumbers(c, listElements(ident(c.name)))), from) };
  const [elems, vec, bad] = (['e', 'v', 'b'] as const).map((k) => (i: number) => ident(`${prefix}${k}${i}`));
  const typed = `${table}_vec`;
  track(typed);
  // The elements are a column of the copy (dropped in keep): as a subquery's column or a WITH alias,
  // ClickHouse parsed them twice (2.5 s instead of 1.4 s for 50k x 384).
  const columns = text.map((c, i) => `${listElements(ident(c.name))} AS ${elems(i)}, ${textVector(ident(c.name), elems(i))} AS ${vec(i)}, ${notNumbers(c, elems(i))} AS ${bad(i)}`);
  await client.command({ query: `CREATE TABLE ${typed} ENGINE = Memory AS SELECT *, ${columns.join(', ')} FROM ${table}` });
  await client.command({ query: `DROP TABLE ${table}` });
  const found = await counts(text.map((_, i) => bad(i)), typed);
  const parsed = new Map(text.map((c, i) => [c.name, `${prefix}v${i}`]));
  return {
    from: typed,
    notNumbers: found,
    parsed,
    keep: async (vectors) => {
      const drop = text.flatMap((c, i) => [vectors.has(c.name) ? ident(c.name) : vec(i), elems(i), bad(i)]);
      for (const c of text) if (!vectors.has(c.name)) parsed.delete(c.name);
      await client.command({ query: `ALTER TABLE ${typed} ${drop.map((c) => `DROP COLUMN ${c}`).join(', ')}` });
    },
  };
}

function source(cols: Column[], ref: string, cur: string, expr: (c: string, type: string) => string): string {
  const side = (s: number, table: string, key: 'refType' | 'curType') =>
    `SELECT ${s} AS side, dw_cell.1 AS column, dw_cell.2 AS value FROM ${table} ARRAY JOIN [${cols.map((c) => `(${literal(c.name)}, ${expr((key === 'refType' ? c.refCol : c.curCol) ?? c.name, c[key])})`).join(', ')}] AS dw_cell`;
  return `${side(0, ref, 'refType')}\nUNION ALL\n${side(1, cur, 'curType')}`;
}

/**
 * The numerical columns as a few sources, one per core, each yielding its share of the columns in
 * long form (ARRAY JOIN of each row's values with the column names): the engine aggregates the parts
 * in parallel, and each part reads its columns of each file once. One part per column would make
 * ClickHouse analyse and plan the engine's long per-column query once per column (about 15 ms each,
 * one after the other), one part for all would run on one core; hence at most 8 parts.
 */
function numericParts(cols: Column[], ref: string, cur: string): SqlSource[] {
  const k = Math.max(1, Math.min(cols.length, availableParallelism(), 8));
  const groups = Array.from({ length: k }, (_, i) => cols.filter((_, j) => j % k === i));
  return groups.map((g) => {
    const names = `[${g.map((c) => literal(c.name)).join(', ')}]`;
    const values = (key: 'refType' | 'curType') => `[${g.map((c) => numberExpr(c.name, c[key])).join(', ')}]`;
    return {
      sql: `SELECT side, column, value FROM (
        SELECT 0 AS side, ${values('refType')} AS dw_values FROM ${ref}
        UNION ALL SELECT 1 AS side, ${values('curType')} AS dw_values FROM ${cur})
      ARRAY JOIN dw_values AS value, ${names} AS column`,
      columns: g.map((c) => c.name),
    };
  });
}

/** --min-effect: off, one number for both p-value methods, or ks=X,chisquare=Y (others default). */
function minEffectOption(v: string | undefined): DriftOptions['minEffectSize'] {
  if (v === undefined || v === 'on') return true;
  if (v === 'off') return false;
  const number = (x: string, what: string) => {
    const n = Number(x);
    if (x.trim() === '' || !(n >= 0) || !Number.isFinite(n)) throw new CliError(`--min-effect ${what} must be a number >= 0, got "${x}"`);
    return n;
  };
  if (!v.includes('=')) {
    const n = number(v, 'value');
    return { ks: n, chisquare: n };
  }
  const out: Record<string, number> = {};
  for (const part of list(v)) {
    const [m, x, ...extra] = part.split('=');
    if (extra.length || (m !== 'ks' && m !== 'chisquare') || x === undefined) throw new CliError(`bad --min-effect entry "${part}": expected off, a number, or ks=X,chisquare=Y`);
    out[m] = number(x, `for ${m}`);
  }
  return out;
}

const KNOWN_METHODS = `auto, ${METHODS.join(', ')} or ${EMBEDDING_METHOD} (vector columns)`;
const isColumnMethod = (m: string): m is ColumnMethod => isMethod(m) || m === EMBEDDING_METHOD;

function methodOption(v: string | undefined, columns: ReadonlySet<string>): DriftOptions['method'] {
  if (v === undefined || v === 'auto') return 'auto';
  if (!v.includes('=')) {
    if (!isColumnMethod(v)) throw new CliError(`unknown method "${v}": expected ${KNOWN_METHODS}`);
    return v;
  }
  const map: Record<string, ColumnMethod | 'auto'> = {};
  for (const part of list(v)) {
    const [col, m, ...extra] = part.split('=');
    if (extra.length || !col || !m) throw new CliError(`bad --method entry "${part}": expected column=method`);
    if (!columns.has(col)) throw new CliError(`unknown column "${col}" in --method`);
    if (m !== 'auto' && !isColumnMethod(m)) throw new CliError(`unknown method "${m}" for column "${col}": expected ${KNOWN_METHODS}`);
    map[col] = m as ColumnMethod | 'auto';
  }
  return map;
}

function fmt(x: number | null): string {
  if (x === null) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e6 ? String(Number(x.toPrecision(4))) : x.toExponential(3);
}

/** A readable table of the report. */
export function formatDriftText(r: DriftReport): string {
  const guard = r.columns.some((c) => c.min_effect_size != null);
  const head = ['column', 'type', 'method', 'statistic', 'p-value', 'threshold', ...(guard ? ['effect (min)'] : []), 'drift', 'missing ref/cur', 'quality'];
  const rows = r.columns.map((c) => [
    c.column,
    c.type === 'embedding' ? `embedding (d=${c.dimension})` : c.type,
    c.method,
    fmt(c.statistic),
    fmt(c.p_value_adjusted ?? c.p_value) + (c.p_value_adjusted != null ? ' (BH)' : ''),
    fmt(c.threshold),
    ...(guard ? [c.min_effect_size != null ? `${fmt(c.effect_size ?? null)} (${fmt(c.min_effect_size)})` : '-'] : []),
    c.drift ? 'DRIFT' : 'ok',
    `${c.reference_missing}/${c.current_missing}`,
    c.quality.issues.join(',') || '-',
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((s, i) => s.padEnd(width[i])).join('  ').trimEnd();
  const pct = r.columns.length ? Math.round((100 * r.drifted_columns) / r.columns.length) : 0;
  return [
    `Dataset drift: ${r.dataset_drift ? 'YES' : 'no'} (${r.drifted_columns} of ${r.columns.length} columns drifted, ${pct}%; threshold share ${r.drift_share})`,
    `Reference rows: ${r.reference_rows}, current rows: ${r.current_rows}`,
    '',
    line(head),
    line(width.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
  ].join('\n');
}

function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].trim();
}

export async function runDriftCli(argv: string[], io: DriftCliIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let tmp: string | undefined;
  let close: (() => Promise<void>) | undefined;
  let client = io.client;
  let streamNative = io.client ? io.streamNative : undefined;
  const tables: string[] = [];
  try {
    let values;
    try {
      ({ values } = parseArgs({
        args: argv,
        strict: true,
        allowPositionals: false,
        options: {
          reference: { type: 'string' },
          current: { type: 'string' },
          columns: { type: 'string' },
          categorical: { type: 'string' },
          numerical: { type: 'string' },
          method: { type: 'string' },
          threshold: { type: 'string' },
          'drift-share': { type: 'string' },
          bh: { type: 'boolean' },
          'min-effect': { type: 'string' },
          format: { type: 'string' },
          out: { type: 'string' },
          'fail-on-drift': { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
      }));
    } catch (e) {
      throw new CliError(`${oneLine(e)} (see driftwatch drift --help)`);
    }
    if (values.help) {
      stdout.write(DRIFT_USAGE + '\n');
      return 0;
    }
    const format = values.format ?? 'json';
    if (format !== 'json' && format !== 'text' && format !== 'html') throw new CliError(`unknown format "${format}": expected json, text or html`);
    const minEffectSize = minEffectOption(values['min-effect']);
    const threshold = values.threshold === undefined ? undefined : Number(values.threshold);
    if (threshold !== undefined && (values.threshold!.trim() === '' || !Number.isFinite(threshold))) throw new CliError(`--threshold must be a number, got "${values.threshold}"`);
    const driftShare = values['drift-share'] === undefined ? undefined : Number(values['drift-share']);
    if (driftShare !== undefined && !(driftShare >= 0 && driftShare <= 1)) throw new CliError(`--drift-share must be a number within [0, 1], got "${values['drift-share']}"`);
    const ref = inputFile('reference', values.reference);
    const cur = inputFile('current', values.current);

    if (!client) {
      tmp = mkdtempSync(join(tmpdir(), 'driftwatch-drift-'));
      const store = await openStore({ dataDir: tmp });
      client = store.client;
      streamNative = store.streamNative;
      close = () => store.close();
    }
    const suffix = `${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    const refTable = `dw_cli_ref_${suffix}`;
    const curTable = `dw_cli_cur_${suffix}`;
    // With json or text output and auto or a raw-value method, the engine scans the numbers once (the
    // summary and the raw-value distances together), so Parquet is read in place rather than copied.
    const direct = format !== 'html' && (values.method === undefined || ['auto', 'ks', 'wasserstein', 'centroid'].includes(values.method));
    const refLoaded = await loadTable(client, ref, refTable, direct);
    if (refLoaded.created) tables.push(refTable);
    const curLoaded = await loadTable(client, cur, curTable, direct);
    if (curLoaded.created) tables.push(curTable);
    const [refTypes, curTypes] = [refLoaded.types, curLoaded.types];
    let [refFrom, curFrom] = [refLoaded.from, curLoaded.from];

    const requested = list(values.columns);
    for (const c of requested) {
      if (!refTypes.has(c)) throw new CliError(`unknown column "${c}": not in the reference file`);
      if (!curTypes.has(c)) throw new CliError(`unknown column "${c}": not in the current file`);
    }
    const names = requested.length ? requested : [...refTypes.keys()].filter((c) => curTypes.has(c));
    if (names.length === 0) throw new CliError('the reference and current files have no column in common');
    const cols: Column[] = names.map((name) => ({ name, refType: refTypes.get(name)!, curType: curTypes.get(name)! }));
    const selected = new Set(names);
    const forcedCat = list(values.categorical);
    const forcedNum = list(values.numerical);
    for (const [flag, given] of [['--categorical', forcedCat], ['--numerical', forcedNum]] as const) {
      for (const c of given) if (!selected.has(c)) throw new CliError(`unknown column "${c}" in ${flag}`);
    }
    for (const c of forcedCat) if (forcedNum.includes(c)) throw new CliError(`column "${c}" is both --categorical and --numerical`);

    const inferred = await classify(client, cols.filter((c) => !forcedCat.includes(c.name) && !forcedNum.includes(c.name)), refFrom, curFrom);
    const numerical = cols.filter((c) => forcedNum.includes(c.name) || inferred.numerical.has(c.name));
    const listCols = cols.filter((c) => inferred.lists.has(c.name));
    let prefix = 'dw_list_';
    while ([...refTypes.keys(), ...curTypes.keys()].some((c) => c.startsWith(prefix))) prefix = `_${prefix}`;
    const track = (t: string) => tables.push(t);
    const refLists = await parseLists(client, listCols, 'refType', refFrom, refLoaded.created ? refTable : undefined, prefix, track);
    const curLists = await parseLists(client, listCols, 'curType', curFrom, curLoaded.created ? curTable : undefined, prefix, track);
    [refFrom, curFrom] = [refLists.from, curLists.from];
    const vectorNames = new Set([...inferred.vector, ...listCols.filter((c) => !refLists.notNumbers.get(c.name) && !curLists.notNumbers.get(c.name)).map((c) => c.name)]);
    await refLists.keep(vectorNames);
    await curLists.keep(vectorNames);
    const vectors = cols.filter((c) => vectorNames.has(c.name)).map((c): Column => {
      const [refCol, curCol] = [refLists.parsed.get(c.name), curLists.parsed.get(c.name)];
      return { ...c, ...(refCol ? { refCol, refType: 'Array(Float64)' } : {}), ...(curCol ? { curCol, curType: 'Array(Float64)' } : {}) };
    });
    const categorical = cols.filter((c) => !numerical.includes(c) && !vectorNames.has(c.name));

    const method = methodOption(values.method, selected);
    const thresholds: DriftOptions['thresholds'] =
      threshold === undefined ? undefined : typeof method === 'string' && method !== 'auto' ? { [method]: threshold } : Object.fromEntries([...METHODS, EMBEDDING_METHOD].map((m) => [m, threshold]));

    // The numerical columns' values are streamed out of the embedded engine and compared as they
    // come (column-scan.ts), when they fit in memory: every value is kept until the end.
    const scan = streamNative && numerical.length && (refLoaded.rows + curLoaded.rows) * numerical.length <= SCAN_MAX_VALUES && refLoaded.rows * curLoaded.rows < 2 ** 53
      ? { stream: streamNative, ref: { from: refFrom, exprs: numerical.map((c) => numberExpr(c.name, c.refType)) }, cur: { from: curFrom, exprs: numerical.map((c) => numberExpr(c.name, c.curType)) } }
      : undefined;
    const { report, distributions } = await driftDetails(client, {
      ...(numerical.length ? { numeric: numericParts(numerical, refFrom, curFrom) } : {}),
      ...(scan ? { numericScan: () => scanNumericColumns(scan.stream(numericScanSql(scan.ref, scan.cur)), numerical.map((c) => c.name)) } : {}),
      ...(categorical.length ? { categorical: { sql: source(categorical, refFrom, curFrom, textExpr) } } : {}),
      ...(vectors.length ? { embedding: { sql: source(vectors, refFrom, curFrom, vectorExpr) } } : {}),
      method,
      thresholds,
      driftShare,
      pValueCorrection: values.bh ? 'bh' : 'none',
      minEffectSize,
      distributions: format === 'html',
    });
    const out =
      format === 'json'
        ? JSON.stringify(report, null, 2) + '\n'
        : format === 'text'
          ? formatDriftText(report)
          : // Loaded only for this format.
            (await import('./html.js')).driftHtml(report, distributions, { reference: ref.path, current: cur.path });
    if (values.out) {
      try {
        writeFileSync(values.out, out);
      } catch (e) {
        throw new CliError(`cannot write ${values.out}: ${oneLine(e)}`);
      }
    } else stdout.write(out);
    return values['fail-on-drift'] && report.dataset_drift ? 1 : 0;
  } catch (e) {
    const database = e instanceof ClickHouseError || (e instanceof Error && /^Chdb/.test(e.constructor.name));
    const known = e instanceof CliError || e instanceof DriftInputError || database;
    stderr.write(`driftwatch drift: ${known ? '' : 'internal error: '}${oneLine(e)}\n`);
    return 2;
  } finally {
    if (client) for (const t of tables) await client.command({ query: `DROP TABLE IF EXISTS ${t}` }).catch(() => undefined);
    if (close) await close().catch(() => undefined);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}
