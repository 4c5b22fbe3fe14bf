// The writer's RowBinary rows are stored by ClickHouse exactly as the collector decoded them, for
// awkward names and values too (quotes, SQL, control characters, NaN, +-Inf, long strings); a
// batch splits row by row; a spooled batch (of this version or of 0.1.0) replays intact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertBlocks, insertLabels, insertPredictions, readSpoolPayload, spoolPayload, Writer } from '../../collector/store/writer.js';
import { encodeMetricPoints, encodePredictions, joinBlocks, rowCount, splitRows } from '../../collector/store/rowbinary.js';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { Spool } from '../../collector/store/spool.js';
import { migrate } from '../../collector/store/migrations/index.js';
import type { PredictionRow } from '../../collector/ingest/records.js';
import type { MetricPointRow } from '../../collector/ingest/otlp-metrics.js';

const awkward = `quote" back\\slash ' newline\n tab\t nul\u0000 unicode é 🚀 '); DROP TABLE predictions; --`;
const long = 'x'.repeat(300) + 'é'.repeat(100);
const T = Date.UTC(2026, 10, 30, 12, 0, 0, 123);
const rows: PredictionRow[] = [
  { model: awkward, version: 'v"1', ts: T, id: awkward, prediction: long, predictionNum: NaN, score: Infinity, latencyMs: -Infinity,
    num: { [awkward]: 1.5, plain: NaN, big: 1e300, tiny: -5e-324, neg: -0.1 }, cat: { [awkward]: awkward, [long]: long }, segment: { s: awkward } },
  { model: 'm', version: 'v', ts: T + 1, id: 'x', prediction: '0.25', predictionNum: 0.25, score: 0.1, latencyMs: 3.5, num: {}, cat: {}, segment: {} },
];

let s: Store;
beforeAll(async () => {
  s = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'dw-writer-')) });
  await migrate(s.client, { retentionDays: 3650 });
});
afterAll(() => s.close());

interface Back { model: string; version: string; ts: string; id: string; prediction: string; prediction_num: string; score: string; latency_ms: string; num: Record<string, number | string>; cat: Record<string, string>; segment: Record<string, string> }
const readBack = (model: string) =>
  queryRows<Back>(s.client, `SELECT model, version, toString(ts) AS ts, id, prediction, toString(prediction_num) AS prediction_num, toString(score) AS score,
     toString(latency_ms) AS latency_ms, mapApply((k, v) -> (k, toString(v)), num) AS num, cat, segment FROM predictions FINAL WHERE model = {m:String}`, { m: model });

describe('writer rows (RowBinary)', () => {
  it('are stored verbatim: names, strings, NaN, +-Inf, the millisecond', async () => {
    await insertPredictions(s, rows);
    const [a] = await readBack(awkward);
    expect(a).toEqual({
      model: awkward, version: 'v"1', ts: '2026-11-30 12:00:00.123', id: awkward, prediction: long, prediction_num: 'nan', score: 'inf', latency_ms: '-inf',
      num: { [awkward]: '1.5', plain: 'nan', big: '1e300', tiny: '-5e-324', neg: '-0.1' }, cat: { [awkward]: awkward, [long]: long }, segment: { s: awkward },
    });
    const [b] = await readBack('m');
    expect(b).toMatchObject({ ts: '2026-11-30 12:00:00.124', prediction_num: '0.25', score: '0.1', latency_ms: '3.5', num: {}, cat: {} });
  });

  it('stores labels and metric points column for column', async () => {
    await insertLabels(s, [{ model: awkward, id: awkward, ts: T, label: long }]);
    expect(await queryRows(s.client, 'SELECT model, id, toString(ts) AS ts, label FROM labels WHERE model = {m:String}', { m: awkward }))
      .toEqual([{ model: awkward, id: awkward, ts: '2026-11-30 12:00:00.123', label: long }]);
    const point: MetricPointRow = {
      metric: 'ml.prediction.duration', kind: 'histogram', model: awkward, version: 'v1', ts: T, startTs: T - 60_000, monotonic: true, temporality: 'delta',
      value: NaN, count: 2 ** 40 + 3, sum: 12.25, bounds: [0.005, 0.01, Infinity], buckets: [1, 2 ** 33, 0, 7], attributes: { [awkward]: awkward },
    };
    await insertBlocks(s, 'metric_points', [encodeMetricPoints([point])]);
    expect(await queryRows(s.client, `SELECT metric, kind, toString(ts) AS ts, toString(start_ts) AS start_ts, temporality, monotonic, toString(value) AS value,
        toString(count) AS count, sum, arrayMap(x -> toString(x), bounds) AS bounds, arrayMap(x -> toString(x), buckets) AS buckets, attributes
        FROM metric_points WHERE model = {m:String}`, { m: awkward }))
      .toEqual([{ metric: 'ml.prediction.duration', kind: 'histogram', ts: '2026-11-30 12:00:00.123', start_ts: '2026-11-30 11:59:00.123', temporality: 'delta',
        monotonic: true, value: 'nan', count: String(2 ** 40 + 3), sum: 12.25, bounds: ['0.005', '0.01', 'inf'], buckets: ['1', String(2 ** 33), '0', '7'], attributes: { [awkward]: awkward } }]);
  });

  it('split row by row, across blocks, into halves that store the same rows', async () => {
    const many = Array.from({ length: 7 }, (_, i): PredictionRow => ({ ...rows[1], model: 'split', id: `r${i}`, ts: T + i, num: { f: i } }));
    const blocks = [encodePredictions(many.slice(0, 2)), encodePredictions(many.slice(2, 3)), encodePredictions(many.slice(3))];
    const [first, second] = splitRows(blocks);
    expect([rowCount(first), rowCount(second)]).toEqual([3, 4]);
    const [a, b] = splitRows(second);
    expect([rowCount(a), rowCount(b)]).toEqual([2, 2]);
    expect(joinBlocks(blocks).data.equals(encodePredictions(many).data)).toBe(true);
    for (const part of [first, a, b]) await insertBlocks(s, 'predictions', part);
    const back = await queryRows<{ id: string; f: number }>(s.client, "SELECT id, num['f'] AS f FROM predictions WHERE model = 'split' ORDER BY id");
    expect(back).toEqual(many.map((r, i) => ({ id: r.id, f: i })));
  });

  it('bounds its queue in bytes as well as rows (backpressure, nothing half-kept)', async () => {
    const spool = new Spool(mkdtempSync(join(tmpdir(), 'dw-qbytes-')), 1 << 20);
    const w = new Writer(s, { spool, maxQueueBytes: 40_000 });
    const big = (id: string): PredictionRow => ({ ...rows[1], model: 'qbytes', id, cat: { text: 'y'.repeat(30_000) } });
    const first = w.write({ predictions: [big('a')] });
    // The second request would take the queue past 40 000 bytes: refused whole, the first unharmed.
    await expect(w.write({ predictions: [big('b')] })).rejects.toThrow('ingest queue is full');
    await first;
    await w.write({ predictions: [big('c')] }); // room again once the queue went to ClickHouse
    expect(await queryRows(s.client, "SELECT id FROM predictions WHERE model = 'qbytes' ORDER BY id")).toEqual([{ id: 'a' }, { id: 'c' }]);
    await w.close();
  });

  it('spools and replays a batch intact, and replays a batch spooled by 0.1.0 (JSONEachRow lines)', async () => {
    const payload = spoolPayload({ predictions: [encodePredictions(rows)], labels: [], metric_points: [] });
    const read = readSpoolPayload(payload);
    expect('tables' in read && read.tables.predictions[0].data.equals(encodePredictions(rows).data)).toBe(true);

    const spool = new Spool(mkdtempSync(join(tmpdir(), 'dw-spool-')), 1 << 20);
    spool.append(spoolPayload({ predictions: [encodePredictions([{ ...rows[1], model: 'replay', id: 'new' }])], labels: [], metric_points: [] }));
    spool.append(Buffer.from(JSON.stringify({
      predictions: ['{"model":"replay","version":"v","ts":"1764504000.000","id":"old","prediction":"1","prediction_num":1,"score":"nan","latency_ms":2,"num":{"f":"nan"},"cat":{},"segment":{}}'],
      labels: ['{"model":"replay","id":"old","ts":"1764504000.000","label":"1"}'],
      metric_points: [],
    })));
    const w = new Writer(s, { spool });
    expect(w.degraded).toBe(true);
    await w.replay();
    expect(w.degraded).toBe(false);
    expect(spool.length).toBe(0);
    expect(await queryRows(s.client, "SELECT id, toString(num['f']) AS f FROM predictions WHERE model = 'replay' ORDER BY id")).toEqual([{ id: 'new', f: '0' }, { id: 'old', f: 'nan' }]);
    expect(await queryRows(s.client, "SELECT id, label FROM labels WHERE model = 'replay'")).toEqual([{ id: 'old', label: '1' }]);
    await w.close();
  });
});
