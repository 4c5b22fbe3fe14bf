// The single-sort path of the raw-value distances (numericSummaryRawSql: values and sides sorted as
// one array of UInt64 keys) against scipy's algorithm written out here (searchsorted CDFs on the
// sorted union), on values chosen to break an encoding: signed zeros, ties across the sides, values
// one ulp apart, both signs around the keys' limits, and values beyond them (huge, tiny, subnormal),
// which the engine must hand to the two-sort query (rawDistanceSql) instead.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftFromSources } from '../../collector/drift/engine.js';
import { numericSummaryRawSql } from '../../collector/drift/queries.js';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { binIndex } from '../../collector/drift/bins.js';

let store: Store;
beforeAll(async () => {
  store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'driftwatch-sortkeys-')) });
});
afterAll(async () => {
  await store?.close();
});

/** scipy.stats.ks_2samp(...).statistic and wasserstein_distance, as scipy computes them. */
function reference(ref: number[], cur: number[]): { d: number; w: number } {
  const a = [...ref].sort((x, y) => x - y);
  const b = [...cur].sort((x, y) => x - y);
  const all = [...a, ...b].sort((x, y) => x - y);
  const right = binIndex; // numpy's searchsorted(side='right')
  let d = 0;
  for (const v of all) d = Math.max(d, Math.abs(right(a, v) / a.length - right(b, v) / b.length));
  let w = 0;
  for (let i = 0; i + 1 < all.length; i++) w += Math.abs(right(a, all[i]) / a.length - right(b, all[i]) / b.length) * (all[i + 1] - all[i]);
  return { d, w };
}

const ulpUp = (x: number) => {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  v.setBigUint64(0, v.getBigUint64(0) + (x >= 0 ? 1n : -1n));
  return v.getFloat64(0);
};

const COLUMNS: Record<string, [number[], number[]]> = {
  // Inside the keys' range (|v| < 2^65, no magnitude below 2^-958 but 0).
  zeros_and_ties: [[-0, 0, 0, -1.5, -1.5, 2, 2, 2, 7], [0, -0, -1.5, 2, 3, 3, -7]],
  ulps: [[1, ulpUp(1), ulpUp(ulpUp(1)), -1, ulpUp(-1)], [ulpUp(1), 1, ulpUp(-1), ulpUp(ulpUp(-1))]],
  near_limits: [[3.6e19, -3.6e19, 1e-280, -1e-280, 0], [3.5e19, -3.6e19, -1e-280, 2e-280, 1]],
  // Beyond: the two-sort query computes these.
  huge: [[1e150, -1e150, 1, 2], [1e150, 5, -1e149]],
  subnormal: [[5e-324, -5e-324, 0, 1e-310], [5e-324, 1e-310, -1e-310]],
};

function source(): { sql: string } {
  const rows: string[] = [];
  for (const [col, [ref, cur]] of Object.entries(COLUMNS)) {
    // Float bits keep every value exact in the SQL text (and -0 negative).
    const lit = (v: number) => {
      const dv = new DataView(new ArrayBuffer(8));
      dv.setFloat64(0, v);
      return `reinterpretAsFloat64(toUInt64(${dv.getBigUint64(0)}))`;
    };
    for (const v of ref) rows.push(`SELECT 0 AS side, '${col}' AS column, ${lit(v)} AS value`);
    for (const v of cur) rows.push(`SELECT 1 AS side, '${col}' AS column, ${lit(v)} AS value`);
  }
  return { sql: rows.join(' UNION ALL ') };
}

describe('raw-value distances from one sort of (value, side) keys', () => {
  it('flags exactly the columns whose values the keys cannot hold', async () => {
    const rows = await queryRows<{ col: string; fits: number }>(store.client, numericSummaryRawSql(source().sql));
    const fits = Object.fromEntries(rows.map((r) => [r.col, Number(r.fits)]));
    expect(fits).toEqual({ zeros_and_ties: 1, ulps: 1, near_limits: 1, huge: 0, subnormal: 0 });
  });

  it('counts the current values outside the reference\'s [min, max] from the sorted keys', async () => {
    const rows = await queryRows<{ col: string; fits: number; oor: string }>(store.client, numericSummaryRawSql(source().sql));
    for (const r of rows.filter((x) => Number(x.fits) === 1)) {
      const [ref, cur] = COLUMNS[r.col];
      const [lo, hi] = [Math.min(...ref), Math.max(...ref)];
      expect(Number(r.oor), r.col).toBe(cur.filter((v) => v < lo || v > hi).length);
    }
  });

  it('gives scipy\'s KS D and Wasserstein distance on every column, by either query', async () => {
    for (const method of ['ks', 'wasserstein'] as const) {
      const report = await driftFromSources(store.client, { numeric: source(), method });
      for (const [col, [ref, cur]] of Object.entries(COLUMNS)) {
        const c = report.columns.find((x) => x.column === col)!;
        const want = reference(ref, cur);
        const mean = ref.reduce((s, v) => s + v, 0) / ref.length;
        const std = Math.sqrt(ref.reduce((s, v) => s + (v - mean) ** 2, 0) / ref.length);
        const expected = method === 'ks' ? want.d : want.w / Math.max(std, 0.001);
        expect(Math.abs(c.statistic - expected), `${col} ${method}: ${c.statistic} vs ${expected}`).toBeLessThanOrEqual(1e-12 * Math.abs(expected));
      }
    }
  });
});
