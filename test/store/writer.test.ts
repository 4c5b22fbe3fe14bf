// The writer's hand-built JSONEachRow lines say exactly what the object form says, for awkward
// names and values too, and ClickHouse stores them verbatim.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { predictionLines, tsText } from '../../collector/store/writer.js';
import { openStore, queryRows } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import type { PredictionRow } from '../../collector/ingest/records.js';

const awkward = `quote" back\\slash ' newline\n tab\t unicode é 🚀 '); DROP TABLE predictions; --`;
const rows: PredictionRow[] = [
  { model: awkward, version: 'v"1', ts: Date.now() - 1000, id: awkward, prediction: awkward, predictionNum: NaN, score: Infinity, latencyMs: -Infinity,
    num: { [awkward]: 1.5, plain: NaN, big: 1e300, tiny: -5e-324 }, cat: { [awkward]: awkward }, segment: { s: awkward } },
  { model: 'm', version: 'v', ts: Date.now(), id: 'x', prediction: '0.25', predictionNum: 0.25, score: 0.1, latencyMs: 3, num: {}, cat: {}, segment: {} },
];

// The object form of a row, written the plain way: the specification the hand-built lines must meet.
const f = (v: number) => (Number.isFinite(v) ? v : Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf');
const predictionValues = (rs: PredictionRow[]) =>
  rs.map((r) => ({
    model: r.model, version: r.version, ts: tsText(r.ts), id: r.id, prediction: r.prediction,
    prediction_num: f(r.predictionNum), score: f(r.score), latency_ms: f(r.latencyMs),
    num: Object.fromEntries(Object.entries(r.num).map(([k, v]) => [k, f(v)])), cat: r.cat, segment: r.segment,
  }));

describe('writer lines', () => {
  it('match the object form value for value', () => {
    const lines = predictionLines(rows);
    expect(lines.map((l) => JSON.parse(l))).toEqual(predictionValues(rows));
  });

  it('are stored verbatim by ClickHouse (no value alters the statement)', async () => {
    const s = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'dw-writer-')) });
    try {
      await migrate(s.client, { retentionDays: 30 });
      await s.client.command({ query: `INSERT INTO predictions FORMAT JSONEachRow\n${predictionLines(rows).join('\n')}` });
      const back = await queryRows<{ model: string; id: string; prediction: string; k: string; c: string; seg: string; plain: string; score: string }>(
        s.client,
        `SELECT model, id, prediction, num[{k:String}] AS k, cat[{k:String}] AS c, segment['s'] AS seg, toString(num['plain']) AS plain, toString(score) AS score
         FROM predictions WHERE model = {k:String}`,
        { k: awkward },
      );
      expect(back).toEqual([{ model: awkward, id: awkward, prediction: awkward, k: 1.5, c: awkward, seg: awkward, plain: 'nan', score: 'inf' }]);
      const [{ n }] = await queryRows<{ n: string }>(s.client, 'SELECT count() AS n FROM predictions');
      expect(Number(n)).toBe(2);
    } finally {
      await s.close();
    }
  });
});
