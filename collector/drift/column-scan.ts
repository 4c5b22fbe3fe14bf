// Numerical columns streamed out of the embedded engine as they are read (Native format, one block
// at a time), summarised and compared while the engine reads on: per column what the engine's
// numericSummaryRawSql gives (counts, non-finite values, capped distinct count, standard deviation,
// min/max, KS D, Wasserstein W, values outside the reference's range), with D and W from ecdf.ts.
// The CLI's files take this path: the engine decodes the files on its threads while this one counts
// each block into bins, and no sort of a million values runs anywhere (bench/README.md, session 7).
import { AUTO_MAX_DISCRETE_VALUES } from './auto.js';
import { EcdfBins } from './ecdf.js';
import { float64Values, nativeBlocks } from '../store/native.js';

/** One numerical column's summary and raw-value distances (d, w, outside meaningless when n or m is 0). */
export interface ScannedColumn {
  column: string;
  refRows: number;
  curRows: number;
  n: number;
  m: number;
  /** +-Inf values per side (the conventions' non-finite share; NaN and NULL are missing). */
  refNonFinite: number;
  curNonFinite: number;
  /** Distinct non-missing reference values, capped at AUTO_MAX_DISCRETE_VALUES + 1. */
  distinct: number;
  /** Population standard deviation of the reference. */
  std: number;
  refMin: number;
  refMax: number;
  d: number;
  w: number;
  /** Current values outside the reference's [min, max]. */
  outside: number;
}

/** Column aliases whose Native headers keep every column's values 8-byte aligned (read in place). */
function alias(i: number): string {
  // A block starts with 1 + 3 bytes (columns, rows), a column header is 1 + name + 1 + 7 ('Float64'):
  // the first name takes 3 characters, the others 7.
  return i === 0 ? 'v00' : `v${String(i).padStart(6, '0')}`;
}

/**
 * The query whose Native stream scanNumericColumns reads: the columns' values (Float64, NaN for a
 * missing one) of both tables, then the side (UInt8, 0 reference, 1 current). exprs give each
 * column's Float64 or Nullable(Float64) expression per side.
 */
export function numericScanSql(ref: { from: string; exprs: readonly string[] }, cur: { from: string; exprs: readonly string[] }): string {
  const select = (exprs: readonly string[], side: number) => `SELECT ${exprs.map((e, i) => `ifNull(${e}, nan) AS ${alias(i)}`).join(', ')}, toUInt8(${side}) AS dw_side`;
  return `${select(ref.exprs, 0)} FROM ${ref.from}\nUNION ALL\n${select(cur.exprs, 1)} FROM ${cur.from}`;
}

class ColumnStats {
  readonly rows: [number, number] = [0, 0];
  /** +-Inf values (NaN is a missing value, counted by rows - n only). */
  readonly infinite: [number, number] = [0, 0];
  readonly min: [number, number] = [Infinity, Infinity];
  readonly max: [number, number] = [-Infinity, -Infinity];
  readonly bins: EcdfBins;
  constructor(bins?: number) {
    this.bins = new EcdfBins(bins);
  }
  readonly distinct: number[] = [];
  /** Reference sums of (v - shift) and its square: the variance without a second pass. */
  shift = NaN;
  sum = 0;
  sumSq = 0;
  readonly cur: Float64Array[] = [];

  add(side: 0 | 1, v: Float64Array): void {
    this.rows[side] += v.length;
    let min = Infinity;
    let max = -Infinity;
    let bad = 0;
    let infinite = 0;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x - x !== 0) {
        bad++;
        if (x === x) infinite++;
      } else {
        if (x === 0) v[i] = 0; // -0 is +0, as numpy compares them
        if (x < min) min = x;
        if (x > max) max = x;
      }
    }
    // Missing values (NaN, +-Inf) leave the column: the finite ones are copied out.
    const finite = bad === 0 ? v : v.filter((x) => x - x === 0);
    this.infinite[side] += infinite;
    if (finite.length === 0) return;
    if (min < this.min[side]) this.min[side] = min;
    if (max > this.max[side]) this.max[side] = max;
    if (side === 0) this.reference(finite);
    else this.cur.push(finite);
    this.bins.add(side, finite, min, max);
  }

  private reference(v: Float64Array): void {
    if (this.shift !== this.shift) this.shift = v[0];
    const c = this.shift;
    let s = 0;
    let q = 0;
    for (let i = 0; i < v.length; i++) {
      const d = v[i] - c;
      s += d;
      q += d * d;
    }
    this.sum += s;
    this.sumSq += q;
    const seen = this.distinct;
    for (let i = 0; i < v.length && seen.length <= AUTO_MAX_DISCRETE_VALUES; i++) if (!seen.includes(v[i])) seen.push(v[i]);
  }

  result(column: string): ScannedColumn {
    const [n, m] = this.bins.sizes();
    const both = n > 0 && m > 0;
    const { d, w } = both ? this.bins.distances() : { d: NaN, w: NaN };
    const [lo, hi] = [this.min[0], this.max[0]];
    let outside = 0;
    if (both) for (const v of this.cur) for (let i = 0; i < v.length; i++) if (v[i] < lo || v[i] > hi) outside++;
    // Squares beyond the doubles: the variance overflows too (numpy's std is inf there as well).
    const variance = n === 0 ? NaN : this.sumSq === Infinity ? Infinity : Math.max(0, (this.sumSq - (this.sum * this.sum) / n) / n);
    return {
      column,
      refRows: this.rows[0],
      curRows: this.rows[1],
      n,
      m,
      refNonFinite: this.infinite[0],
      curNonFinite: this.infinite[1],
      distinct: this.distinct.length,
      std: Math.sqrt(variance),
      refMin: n > 0 ? lo : NaN,
      refMax: n > 0 ? hi : NaN,
      d,
      w,
      outside,
    };
  }
}

/**
 * Reads the Native stream of numericScanSql (chunks of whole blocks) for the given columns, in its
 * order. n m must stay below 2^53 (S in ecdf.ts is then exact): the caller checks the row counts.
 */
export async function scanNumericColumns(chunks: AsyncIterable<Uint8Array>, columns: readonly string[], opts: { bins?: number } = {}): Promise<ScannedColumn[]> {
  const stats = columns.map(() => new ColumnStats(opts.bins));
  // The next chunk is asked for before this one is counted: the engine formats it meanwhile.
  const it = chunks[Symbol.asyncIterator]();
  let next = it.next();
  for (;;) {
    const r = await next;
    if (r.done) break;
    next = it.next();
    const chunk = r.value;
    for (const block of nativeBlocks(chunk)) {
      if (block.columns.length !== columns.length + 1) throw new Error(`numeric scan: a block of ${block.columns.length} columns, expected ${columns.length + 1}`);
      if (block.rows === 0) continue;
      const sides = block.columns[columns.length].data;
      const side = sides[0];
      if (sides.every((s) => s === side)) {
        if (side !== 0 && side !== 1) throw new Error(`numeric scan: side ${side}`);
        for (let i = 0; i < columns.length; i++) stats[i].add(side, float64Values(block.columns[i].data));
        continue;
      }
      // A block mixing both sides (the engine does not squash them so far): split by side.
      for (let i = 0; i < columns.length; i++) {
        const v = float64Values(block.columns[i].data);
        for (const s of [0, 1] as const) stats[i].add(s, v.filter((_, r) => sides[r] === s));
      }
    }
  }
  return stats.map((s, i) => s.result(columns[i]));
}
