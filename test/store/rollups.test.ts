// Rollups agree with the raw rows they summarise (computed both ways in ClickHouse).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { insertPredictions } from '../../collector/store/writer.js';
import type { PredictionRow } from '../../collector/ingest/records.js';

describe('per-minute rollups', () => {
  let s: Store;
  beforeAll(async () => {
    s = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'dw-rollups-')) });
    await migrate(s.client, { retentionDays: 30 });
    const rows: PredictionRow[] = [];
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000; // recent: older rows fall to the TTL
    for (let i = 0; i < 5000; i++) {
      const x = i % 97 === 0 ? NaN : i % 101 === 0 ? Infinity : Math.sin(i) * 10;
      rows.push({
        model: 'm', version: i < 2500 ? 'a' : 'b', ts: base + i * 100, id: `p${i}`,
        prediction: i % 3 === 0 ? 'yes' : 'no', predictionNum: NaN, score: i % 4 === 0 ? NaN : (i % 100) / 100,
        latencyMs: 1 + (i % 50), num: { x, y: i }, cat: { c: ['u', 'v', 'w'][i % 3] }, segment: {},
      });
    }
    // Several inserts, so rollup rows of one minute come from several blocks.
    for (let k = 0; k < rows.length; k += 700) await insertPredictions(s, rows.slice(k, k + 700));
  });
  afterAll(async () => s?.close());

  it('feature_minutes matches the raw rows', async () => {
    const [roll] = await queryRows<Record<string, number>>(s.client,
      `SELECT sum(rows) AS rows, sum(missing) AS missing, sum(nonfinite) AS nonfinite, min(min) AS mn, max(max) AS mx, sum(sum) AS total
       FROM feature_minutes WHERE model = 'm' AND feature = 'x'`);
    const [raw] = await queryRows<Record<string, number>>(s.client,
      `SELECT count() AS rows, countIf(isNaN(num['x'])) AS missing, countIf(isInfinite(num['x'])) AS nonfinite,
              minIf(num['x'], isFinite(num['x'])) AS mn, maxIf(num['x'], isFinite(num['x'])) AS mx, sumIf(num['x'], isFinite(num['x'])) AS total
       FROM predictions WHERE model = 'm'`);
    expect(Number(roll.rows)).toBe(5000);
    expect(Number(roll.missing)).toBe(Number(raw.missing));
    expect(Number(roll.missing)).toBeGreaterThan(0);
    expect(Number(roll.nonfinite)).toBe(Number(raw.nonfinite));
    expect(roll.mn).toBeCloseTo(raw.mn, 9);
    expect(roll.mx).toBeCloseTo(raw.mx, 9);
    expect(roll.total).toBeCloseTo(raw.total, 6);
  });

  it('category_minutes and prediction_minutes match the raw rows', async () => {
    const cats = await queryRows<{ value: string; rows: string }>(s.client,
      `SELECT value, sum(rows) AS rows FROM category_minutes WHERE feature = 'c' GROUP BY value ORDER BY value`);
    expect(cats.map((c) => [c.value, Number(c.rows)])).toEqual([['u', 1667], ['v', 1667], ['w', 1666]]);
    const perVersion = await queryRows<{ version: string; n: string; with_score: string; p50: number; outputs: Record<string, string> }>(s.client,
      `SELECT version, sum(predictions) AS n, sum(with_score) AS with_score, quantileTDigestMerge(0.5)(latency_digest) AS p50, sumMap(outputs) AS outputs
       FROM prediction_minutes GROUP BY version ORDER BY version`);
    expect(perVersion.map((v) => [v.version, Number(v.n), Number(v.with_score)])).toEqual([['a', 2500, 1875], ['b', 2500, 1875]]);
    expect(perVersion[0].p50).toBeGreaterThan(20);
    expect(perVersion[0].p50).toBeLessThan(31);
    expect(Number(perVersion[0].outputs.yes) + Number(perVersion[0].outputs.no)).toBe(2500);
  });

  it('migrations are idempotent: running them again applies nothing and changes nothing', async () => {
    expect(await migrate(s.client, { retentionDays: 30 })).toEqual([]);
  });
});
