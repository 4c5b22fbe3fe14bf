// KS and Wasserstein against a profile: exact reference values up to PROFILE_MAX_VALUES distinct
// values, an evenly thinned sample beyond (close to the exact statistics, p-value on the true n).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { tsText } from '../../collector/store/writer.js';
import { LiveDrift } from '../../collector/drift/live.js';
import { PROFILE_MAX_VALUES } from '../../collector/drift/profile.js';
import { driftFromSources } from '../../collector/drift/engine.js';
import { rawNumericSource } from '../../collector/drift/sources.js';

const REF = 'SELECT 0 AS side, c.1 AS column, c.2 AS value FROM numbers(250000) ARRAY JOIN [(\'big\', sin(number) * 100 + number % 7), (\'small\', toFloat64(number % 1000))] AS c';

describe('profile reference values', () => {
  let s: Store;
  let drift: LiveDrift;
  const now = Date.now();
  beforeAll(async () => {
    s = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'dw-values-')) });
    await migrate(s.client, { retentionDays: 30 });
    drift = new LiveDrift(s.client, { baselineRows: 1_000_000, cacheMs: 0 });
    await drift.setBaseline('m', 'v', { kind: 'sources', rows: 250000, source: 'test', sources: { numeric: { sql: REF } } }, now);
    await s.client.command({
      query: `INSERT INTO predictions (model, version, ts, id, prediction, prediction_num, score, latency_ms, num, cat, segment)
        SELECT 'm', 'v', fromUnixTimestamp64Milli(toInt64(${now - 600_000} + number * 3)), toString(number), '', nan, nan, 1,
               map('big', sin(number * 3) * 110 + 5, 'small', toFloat64(number % 1100)), map(), map()
        FROM numbers(150000)`,
    });
  });
  afterAll(async () => s?.close());

  it('keeps every distinct value of a small feature and an evenly thinned sample of a big one', async () => {
    const p = (await drift.profile('m', 'v'))!;
    const big = p.features.get('big')!;
    const small = p.features.get('small')!;
    expect(big.type === 'numerical' && big.valuesExact).toBe(false);
    expect(small.type === 'numerical' && small.valuesExact).toBe(true);
    const rows = await queryRows<{ feature: string; k: string; n: string; lo: number; hi: number }>(s.client,
      `SELECT feature, count() AS k, sum(count) AS n, min(value) AS lo, max(value) AS hi FROM drift_profile_values GROUP BY feature ORDER BY feature`);
    expect(rows.map((r) => [r.feature, Number(r.k), Number(r.n)])).toEqual([['big', PROFILE_MAX_VALUES, PROFILE_MAX_VALUES], ['small', 1000, 250000]]);
    expect(big.type === 'numerical' && [rows[0].lo, rows[0].hi]).toEqual(big.type === 'numerical' ? [big.min, big.max] : []);
  });

  it('KS and Wasserstein: exact with exact values, within the thinning error otherwise', async () => {
    const b = drift.baseline('m', 'v')!;
    for (const method of ['ks', 'wasserstein'] as const) {
      const live = (await drift.compute('m', 'v', 5 * 60_000, method, now))!;
      const params = { dw_model: 'm', dw_version: 'v', dw_cur_from: tsText(live.window!.fromMs), dw_cur_to: tsText(live.window!.toMs - 1) };
      const raw = await driftFromSources(s.client, { numeric: { sql: `${REF}\nUNION ALL\n${rawNumericSource([[1, 'dw_cur_from', 'dw_cur_to']])}`, params }, method });
      expect(b.rows).toBe(250000);
      const get = (r: typeof raw, c: string) => r.columns.find((x) => x.column === c)!;
      expect(get(live.report, 'small').statistic).toBeCloseTo(get(raw, 'small').statistic, 12);
      const [l, e] = [get(live.report, 'big'), get(raw, 'big')];
      if (method === 'ks') {
        expect(Math.abs(l.statistic - e.statistic)).toBeLessThan(2 / PROFILE_MAX_VALUES);
        expect(l.p_value).toBeCloseTo(e.p_value!, 3);
      } else {
        expect(Math.abs(l.statistic - e.statistic) / e.statistic).toBeLessThan(1e-3);
      }
      expect(l.quality).toEqual(e.quality);
    }
  });

  it('refuses ks/wasserstein over more raw values than its limit, naming the way out', async () => {
    const small = new LiveDrift(s.client, { baselineRows: 1_000_000, cacheMs: 0, maxRawValues: 50_000 });
    await small.loadBaselines();
    await expect(small.compute('m', 'v', 5 * 60_000, 'auto', now)).rejects.toThrow(/holds \d+ for big, small \(limit 50000\); ask for a binned method/);
    expect((await small.compute('m', 'v', 5 * 60_000, 'jensenshannon', now))!.report.columns).toHaveLength(2);
  });
});
