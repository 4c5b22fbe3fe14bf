// Bins (drift-conventions.md, "Binning"). Numerical: edges = unique(quantile(reference, k/10 for
// k in 1..9)), a value v falls in bin searchsorted(edges, v, side="right") = #{edges <= v}, so B
// edges make B + 1 bins. Categorical: one bin per category in the union of both sides, sorted.

export const QUANTILE_BINS = 10;
/** The quantile levels k/B, written as SQL literals: 0.1 parses to the same double as Python's 1/10. */
export const QUANTILE_LEVELS: readonly number[] = Array.from({ length: QUANTILE_BINS - 1 }, (_, k) => (k + 1) / QUANTILE_BINS);

/** Sorted, deduplicated edges (numpy.unique). */
export function uniqueEdges(quantiles: readonly number[]): number[] {
  const sorted = [...quantiles].sort((a, b) => a - b);
  return sorted.filter((v, i) => i === 0 || v !== sorted[i - 1]);
}

/** searchsorted(edges, v, side="right"). */
export function binIndex(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// Floats cross the SQL boundary as the decimal text of their IEEE-754 bits (SQL side:
// toString(reinterpretAsUInt64(x)) and reinterpretAsFloat64(toUInt64(s))): exact whatever the float
// parser and printer, and immune to a client's refusal to send large integral doubles.
const scratch = new DataView(new ArrayBuffer(8));

export function float64ToBits(v: number): string {
  scratch.setFloat64(0, v);
  return scratch.getBigUint64(0).toString();
}

export function bitsToFloat64(bits: string): number {
  if (!/^[0-9]{1,20}$/.test(bits)) throw new Error(`not the bits of a 64-bit float: ${JSON.stringify(bits)}`);
  scratch.setBigUint64(0, BigInt(bits));
  return scratch.getFloat64(0);
}

/** Compare strings by Unicode code point, as Python's sorted() does (not UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

export interface CategoryCounts {
  categories: string[];
  reference: number[];
  current: number[];
}

/** Bins of a categorical column: the sorted union of categories with their counts on each side. */
export function categoryBins(counts: Iterable<{ value: string; ref: number; cur: number }>): CategoryCounts {
  const rows = [...counts].filter((r) => r.ref + r.cur > 0).sort((a, b) => compareCodePoints(a.value, b.value));
  return { categories: rows.map((r) => r.value), reference: rows.map((r) => r.ref), current: rows.map((r) => r.cur) };
}
