// One numerical column's summary and raw-value distances from its values, block by block: what the
// engine's numericSummaryRawSql gives (counts, non-finite values, capped distinct count, standard
// deviation, min/max, KS D, Wasserstein W, values outside the reference's range), with D and W from
// ecdf.ts. column-scan.ts feeds it the blocks it streams out of the engine.
import { AUTO_MAX_DISCRETE_VALUES } from './auto.js';
import { EcdfBins } from './ecdf.js';
import type { NumericSummary, RawDistance } from './engine.js';

/**
 * One numerical column's summary (as the engine's summary query gives it, without the edges that
 * only binned methods need) and its raw-value distances (meaningless when n or m is 0).
 */
export type ScannedColumn = Omit<NumericSummary, 'type' | 'edges'> & Omit<RawDistance, 'n' | 'm'>;

export class ColumnStats {
  readonly bins: EcdfBins;
  readonly distinct: number[] = [];

  constructor(bins?: number) {
    this.bins = new EcdfBins(bins);
  }

  add(side: 0 | 1, v: Float64Array): void {
    this.bins.add(side, v);
    // The reference's distinct values, until there are more than auto needs to know.
    const seen = this.distinct;
    if (side === 1 || seen.length > AUTO_MAX_DISCRETE_VALUES) return;
    for (let i = 0; i < v.length && seen.length <= AUTO_MAX_DISCRETE_VALUES; i++) {
      const x = v[i];
      if (x - x === 0 && !seen.includes(x)) seen.push(x);
    }
  }

  result(column: string): ScannedColumn {
    const [ref, cur] = this.bins.sides;
    const n = ref.n;
    const m = cur.n;
    const both = n > 0 && m > 0;
    const { d, w } = both ? this.bins.distances() : { d: NaN, w: NaN };
    const outside = both ? this.bins.outside(ref.min, ref.max) : 0;
    // Squares beyond the doubles: the variance overflows too (numpy's std is inf there as well).
    // (sum / n) * sum <= sumSq: no overflow where sum * sum would.
    const variance = n === 0 ? NaN : ref.sumSq === Infinity ? Infinity : Math.max(0, (ref.sumSq - (ref.sum / n) * ref.sum) / n);
    return {
      column,
      refRows: ref.rows,
      curRows: cur.rows,
      n,
      m,
      refNonFinite: ref.infinite,
      curNonFinite: cur.infinite,
      distinct: this.distinct.length,
      std: Math.sqrt(variance),
      refMin: n > 0 ? ref.min : NaN,
      refMax: n > 0 ? ref.max : NaN,
      d,
      w,
      outside,
    };
  }
}
