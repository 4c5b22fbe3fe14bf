// The TypeScript halves of the methods against scipy, without ClickHouse: the Kolmogorov survival
// function, the chi-square survival function, and every binned statistic on count vectors.
import { describe, expect, it } from 'vitest';
import { autoMethod } from '../../collector/drift/auto.js';
import { binnedStatistic, type BinnedMethod } from '../../collector/drift/binned.js';
import { binIndex, bitsToFloat64, compareCodePoints, float64ToBits, uniqueEdges } from '../../collector/drift/bins.js';
import { chi2Sf } from '../../collector/drift/chisquare.js';
import { kolmogorovSf } from '../../collector/drift/kolmogorov.js';
import { expectClose, golden } from './golden-data.js';

describe('special functions against scipy', () => {
  it('kolmogorov survival function (scipy.special.kolmogorov)', () => {
    expect(golden.kolmogorov.length).toBeGreaterThan(20);
    for (const [x, want] of golden.kolmogorov) expectClose(kolmogorovSf(x), want, `kolmogorov(${x})`);
  });

  it('chi-square survival function (scipy.stats.chi2.sf)', () => {
    expect(golden.chi2_sf.length).toBeGreaterThan(100);
    for (const [x, df, want] of golden.chi2_sf) expectClose(chi2Sf(x, df), want, `chi2.sf(${x}, ${df})`);
  });
});

describe('binned statistics on count vectors against numpy/scipy', () => {
  it('every method, every vector', () => {
    let n = 0;
    for (const [i, v] of golden.binned.entries()) {
      for (const [method, [stat, p]] of Object.entries(v.expected)) {
        const got = binnedStatistic(method as BinnedMethod, v.ref, v.cur);
        expectClose(got.statistic, stat, `vector ${i} (${v.ref.length} bins) ${method} statistic`);
        expectClose(got.p_value, p, `vector ${i} ${method} p_value`);
        n++;
      }
    }
    expect(n).toBe(golden.binned.length * 7);
  });

  it('rejects count vectors of different lengths', () => {
    expect(() => binnedStatistic('psi', [1, 2], [1])).toThrow(/bin count mismatch/);
  });
});

describe('bins and auto', () => {
  it('edges are numpy.unique of the quantiles; bins are searchsorted side=right', () => {
    expect(uniqueEdges([3, 1, 1, 2, 3])).toEqual([1, 2, 3]);
    const edges = [1, 2, 3];
    expect([0, 1, 1.5, 2, 3, 4].map((v) => binIndex(edges, v))).toEqual([0, 1, 1, 2, 3, 3]);
  });

  it('float bits survive the trip both ways', () => {
    for (const v of [0, -0, 1.5, -1e-310, 5e-324, 1.7976931348623157e308, Infinity, -Infinity, 0.1 + 0.2]) {
      expect(Object.is(bitsToFloat64(float64ToBits(v)), v)).toBe(true);
    }
  });

  it('categories sort by code point like Python', () => {
    const cats = ['é', 'z', 'Z', '\u{1F600}', '\uFB00'];
    expect([...cats].sort(compareCodePoints)).toEqual(['Z', 'z', 'é', '\uFB00', '\u{1F600}']);
  });

  it('auto follows the conventions at the boundaries', () => {
    expect(autoMethod('numerical', 1000, 6)).toBe('ks');
    expect(autoMethod('numerical', 1000, 5)).toBe('chisquare');
    expect(autoMethod('numerical', 1001, 6)).toBe('wasserstein');
    expect(autoMethod('numerical', 1001, 5)).toBe('jensenshannon');
    expect(autoMethod('categorical', 10, 50)).toBe('chisquare');
    expect(autoMethod('categorical', 5000, 50)).toBe('jensenshannon');
  });
});
