// Spool format 3 carries a sha256 of each file's body. A byte damaged inside a row's RowBinary bytes
// passes the structural checks (magic, header, byte counts, increasing row ends); ClickHouse then
// refuses the insert with 32/33 (read after EOF), which the writer retries (a server answers 33 for a
// body cut in transfer too), so without the checksum the file blocks everything behind it. With it,
// the file is moved to corrupt/ like any unreadable one. Batches of format 2 still replay.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { CorruptSpoolFile, readSpoolPayload, spoolPayload, Writer } from '../../collector/store/writer.js';
import { encodeLabels, encodeMetricPoints, encodePredictions, joinBlocks, type Block, type TableName } from '../../collector/store/rowbinary.js';
import { Spool } from '../../collector/store/spool.js';
import type { LabelRow, PredictionRow } from '../../collector/ingest/records.js';
import type { MetricPointRow } from '../../collector/ingest/otlp-metrics.js';

const T = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
const pred = (model: string, id: string, emb?: Record<string, number[]>): PredictionRow => ({
  model, version: 'v', ts: T, id, prediction: '1', predictionNum: 1, score: 0.5, latencyMs: 1, num: { f: 1.5 }, cat: { c: 'x' }, segment: {}, emb,
});
const label = (model: string, id: string): LabelRow => ({ model, id, ts: T, label: '1' });
const point = (model: string): MetricPointRow => ({
  metric: 'm', kind: 'histogram', model, version: 'v', ts: T, startTs: T, monotonic: false, temporality: 'delta', value: 0, count: 3, sum: 4.5, bounds: [1, 2], buckets: [1, 1, 1], attributes: { a: 'b' },
});
const tables = (model: string, ids: string[]) => ({
  predictions: encodePredictions(ids.map((id) => pred(model, id, { e: [0.5, -1] }))),
  labels: encodeLabels(ids.map((id) => label(model, id))),
  metric_points: encodeMetricPoints([point(model)]),
});
const only = (model: string, id: string) => ({ predictions: encodePredictions([pred(model, id)]) });
const format3 = (t: Partial<Record<TableName, Block>>) =>
  spoolPayload({ predictions: t.predictions ? [t.predictions] : [], labels: t.labels ? [t.labels] : [], metric_points: t.metric_points ? [t.metric_points] : [] });

/** The same rows as the previous collector spooled them: format 2, a header without checksum. */
function format2(t: Partial<Record<TableName, Block>>): Buffer {
  const header: { table: string; rows: number; bytes: number }[] = [];
  const parts: Buffer[] = [];
  for (const k of ['predictions', 'labels', 'metric_points'] as const) {
    const b = t[k];
    if (!b) continue;
    header.push({ table: k, rows: b.ends.length, bytes: b.data.length });
    parts.push(Buffer.from(Uint32Array.from(b.ends).buffer), b.data);
  }
  return Buffer.concat([Buffer.from('driftwatch-spool rowbinary 2\n' + JSON.stringify(header) + '\n'), ...parts]);
}

/**
 * One bit flipped in the first byte of the first row of a one-row predictions file: the length of
 * the model name (1 -> 65), so ClickHouse reads past the row's end. The row ends and byte counts stay
 * as they were: only a checksum can tell.
 */
function flipFirstRow(payload: Buffer): Buffer {
  const out = Buffer.from(payload);
  out[out.indexOf(10, 29) + 1 + 4] ^= 0x40;
  return out;
}

let store: Store;
beforeAll(async () => {
  store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'dw-spool-sum-')) });
  await migrate(store.client, { retentionDays: 30 });
});
afterAll(() => store.close());

const quiet = { replayIntervalMs: 3_600_000, probeIntervalMs: 3_600_000 }; // replays only when the test says
const ids = async (table: string, model: string) =>
  (await queryRows<{ id: string }>(store.client, `SELECT id FROM ${table} WHERE model = {m:String} ORDER BY id`, { m: model })).map((r) => r.id);
type Event = { event: string; fields: Record<string, unknown> };

describe('spool format 3', () => {
  it('round-trips every table, its header naming the sha256 of the body', async () => {
    const t = tables('round', ['a', 'b']);
    const more = encodePredictions([pred('round', 'c', { e: [3] })]);
    const payload = spoolPayload({ predictions: [t.predictions, more], labels: [t.labels], metric_points: [t.metric_points] });
    const nl = payload.indexOf(10, 29);
    expect(payload.subarray(0, 29).toString()).toBe('driftwatch-spool rowbinary 3\n');
    const header = JSON.parse(payload.subarray(29, nl).toString());
    expect(header.tables.map((h: { table: string; rows: number }) => [h.table, h.rows])).toEqual([['predictions', 3], ['labels', 2], ['metric_points', 1]]);
    expect(header.sha256).toBe(createHash('sha256').update(payload.subarray(nl + 1)).digest('hex'));

    const read = readSpoolPayload(payload);
    if (!('tables' in read)) throw new Error('not read as RowBinary');
    const joined = joinBlocks([t.predictions, more]);
    expect(read.tables.predictions.map((b) => [b.data.equals(joined.data), b.ends])).toEqual([[true, joined.ends]]);
    expect(read.tables.labels.map((b) => [b.data.equals(t.labels.data), b.ends])).toEqual([[true, t.labels.ends]]);
    expect(read.tables.metric_points.map((b) => [b.data.equals(t.metric_points.data), b.ends])).toEqual([[true, t.metric_points.ends]]);

    const spool = new Spool(mkdtempSync(join(tmpdir(), 'dw-sum-round-')), 1 << 24);
    spool.append(payload);
    const w = new Writer(store, { spool, ...quiet });
    await w.replay();
    expect(w.degraded).toBe(false);
    expect(spool.length).toBe(0);
    expect(await queryRows(store.client, "SELECT id, CAST(emb, 'Map(String, Array(Float64))') AS emb FROM predictions WHERE model = 'round' ORDER BY id")).toEqual([
      { id: 'a', emb: { e: [0.5, -1] } }, { id: 'b', emb: { e: [0.5, -1] } }, { id: 'c', emb: { e: [3] } },
    ]);
    expect(await ids('labels', 'round')).toEqual(['a', 'b']);
    expect(await queryRows(store.client, "SELECT count, sum, bounds, buckets, attributes FROM metric_points WHERE model = 'round'")).toEqual([
      { count: 3, sum: 4.5, bounds: [1, 2], buckets: [1, 1, 1], attributes: { a: 'b' } },
    ]);
    await w.close();
  });

  it('a body that does not match its checksum, or a header without one, is a corrupt file', () => {
    const good = format3(only('unit', 'a'));
    expect(() => readSpoolPayload(flipFirstRow(good))).toThrow(CorruptSpoolFile);
    expect(() => readSpoolPayload(flipFirstRow(good))).toThrow(/does not match its sha256/);
    // The same flip in a format 2 file passes every check that format has.
    expect('tables' in readSpoolPayload(flipFirstRow(format2(only('unit', 'a'))))).toBe(true);
    const nl = good.indexOf(10, 29);
    const header = JSON.parse(good.subarray(29, nl).toString());
    const withHeader = (h: unknown) => Buffer.concat([Buffer.from('driftwatch-spool rowbinary 3\n' + JSON.stringify(h) + '\n'), good.subarray(nl + 1)]);
    expect(() => readSpoolPayload(withHeader({ tables: header.tables }))).toThrow(/no sha256/);
    expect(() => readSpoolPayload(withHeader(header.tables))).toThrow(/no sha256/); // a format 2 header under a format 3 magic
    expect(() => readSpoolPayload(withHeader({ ...header, sha256: '0'.repeat(64) }))).toThrow(/does not match its sha256/);
    expect('tables' in readSpoolPayload(withHeader(header))).toBe(true);
  });

  it('a file with a byte flipped inside a row is moved to corrupt/ and the files behind it replay', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'dw-sum-flip-'));
    const spool = new Spool(spoolDir, 1 << 24);
    spool.append(format3(only('flip3', 'a')));
    spool.append(flipFirstRow(format3(only('flip3', 'b'))));
    spool.append(format3(only('flip3', 'c')));
    const events: Event[] = [];
    const w = new Writer(store, { spool, log: (event, fields) => events.push({ event, fields }), ...quiet });
    await w.replay();
    expect(w.degraded).toBe(false);
    expect(spool.length).toBe(0);
    expect(spool.corruptFiles).toBe(1);
    expect(readdirSync(join(spoolDir, 'corrupt'))).toEqual(['0000000000000001.batch']);
    expect(events.filter((e) => e.event === 'spool_corrupt')).toMatchObject([{ fields: { moved_to: join(spoolDir, 'corrupt', '0000000000000001.batch') } }]);
    expect(String(events.find((e) => e.event === 'spool_corrupt')?.fields.error)).toMatch(/does not match its sha256/);
    expect(events.at(-1)?.event).toBe('store_recovered');
    expect(await ids('predictions', 'flip3')).toEqual(['a', 'c']);
    await w.close();
  });

  it('without the checksum (format 2), the same flip blocks the spool: ClickHouse refuses it as unreadable, and that is retried', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'dw-sum-flip2-'));
    const spool = new Spool(spoolDir, 1 << 24);
    spool.append(flipFirstRow(format2(only('flip2', 'a'))));
    spool.append(format3(only('flip2', 'b')));
    const events: Event[] = [];
    const w = new Writer(store, { spool, log: (event, fields) => events.push({ event, fields }), ...quiet });
    await w.replay();
    await w.replay();
    // Still degraded, nothing moved aside, nothing behind it stored: this is what format 3 ends.
    expect(w.degraded).toBe(true);
    expect(spool.length).toBe(2);
    expect(spool.corruptFiles).toBe(0);
    expect(await ids('predictions', 'flip2')).toEqual([]);
    // Both attempts failed the same way (the merged insert of both files, code 33): said once, though
    // the embedded engine names a new staging file in each message.
    const failed = events.filter((e) => e.event === 'replay_failed');
    expect(failed).toHaveLength(1);
    expect(String(failed[0].fields.error)).toMatch(/^Cannot read all data/);
    await w.close();
  });

  it('a batch spooled in format 2 by the previous collector replays, merged with format 3 ones', async () => {
    const spool = new Spool(mkdtempSync(join(tmpdir(), 'dw-sum-v2-')), 1 << 24);
    spool.append(format2(tables('prev', ['a', 'b'])));
    spool.append(format3(tables('prev', ['c'])));
    const inserts: string[] = [];
    const w = new Writer(store, { spool, onInsert: (t, n) => inserts.push(`${t}:${n}`), ...quiet });
    await w.replay();
    expect(w.degraded).toBe(false);
    expect(spool.length).toBe(0);
    expect(inserts).toEqual(['predictions:3', 'labels:3', 'metric_points:2']);
    expect(await queryRows(store.client, "SELECT id, CAST(emb, 'Map(String, Array(Float64))') AS emb FROM predictions WHERE model = 'prev' ORDER BY id")).toEqual(
      ['a', 'b', 'c'].map((id) => ({ id, emb: { e: [0.5, -1] } })),
    );
    expect(await ids('labels', 'prev')).toEqual(['a', 'b', 'c']);
    expect(await queryRows(store.client, "SELECT toString(count()) AS n FROM metric_points WHERE model = 'prev'")).toEqual([{ n: '2' }]);
    await w.close();
  });
});
