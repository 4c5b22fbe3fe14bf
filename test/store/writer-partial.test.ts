// When the store goes away part-way through a write or a replay, the writer sends again only what
// was not inserted: the rollups and metric_points count every insert, so a repeat would count twice
// there (the raw ReplacingMergeTree tables would hide it). The replay's progress survives a new
// process (its note in the spool directory). A spool file that cannot be read back is moved aside
// instead of blocking everything behind it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { readSpoolPayload, spoolPayload, Writer } from '../../collector/store/writer.js';
import { encodeLabels, encodeMetricPoints, encodePredictions, rowCount, type Block } from '../../collector/store/rowbinary.js';
import { Spool } from '../../collector/store/spool.js';
import type { LabelRow, PredictionRow } from '../../collector/ingest/records.js';
import type { MetricPointRow } from '../../collector/ingest/otlp-metrics.js';

const T = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000; // an hour ago, on a minute: one rollup row per model
const pred = (model: string, id: string): PredictionRow => ({ model, version: 'v', ts: T, id, prediction: '1', predictionNum: 1, score: 0.5, latencyMs: 1, num: { f: 1 }, cat: {}, segment: {} });
const label = (model: string, id: string): LabelRow => ({ model, id, ts: T, label: '1' });
const point = (model: string): MetricPointRow => ({
  metric: 'm', kind: 'gauge', model, version: 'v', ts: T, startTs: T, monotonic: false, temporality: 'unspecified', value: 1, count: 0, sum: 0, bounds: [], buckets: [], attributes: {},
});
/** One spooled request: n predictions, a label and a metric point. */
const batch = (model: string, ids: string[], predictions: Block = encodePredictions(ids.map((id) => pred(model, id)))) =>
  spoolPayload({ predictions: [predictions], labels: [encodeLabels([label(model, ids[0])])], metric_points: [encodeMetricPoints([point(model)])] });

const dir = mkdtempSync(join(tmpdir(), 'dw-partial-'));
let store: Store;
let closed = true;
const reopen = async () => {
  store = await openStore({ dataDir: join(dir, 'data') });
  closed = false;
  return store;
};
// Closes the store right after the next successful insert into `table` (so the following insert fails).
let closeAfter: string | undefined;
const onInsert = (table: string) => {
  if (table !== closeAfter) return;
  closeAfter = undefined;
  closed = true;
  void store.close();
};
const quiet = { replayIntervalMs: 3_600_000, probeIntervalMs: 3_600_000 }; // replays only when the test says

// What each rollup and table holds for a model; without FINAL, so a row inserted twice shows.
async function counts(model: string) {
  const one = async (q: string) => Number((await queryRows<{ n: string }>(store.client, q, { m: model }))[0].n);
  return {
    minutes: await one('SELECT sum(predictions) AS n FROM prediction_minutes WHERE model = {m:String}'),
    features: await one("SELECT sum(rows) AS n FROM feature_minutes WHERE model = {m:String} AND feature = 'f'"),
    predictions: await one('SELECT count() AS n FROM predictions WHERE model = {m:String}'),
    labels: await one('SELECT count() AS n FROM labels WHERE model = {m:String}'),
    points: await one('SELECT count() AS n FROM metric_points WHERE model = {m:String}'),
  };
}

beforeAll(async () => {
  await reopen();
  await migrate(store.client, { retentionDays: 30 });
  // A row the store refuses with a data error (CANNOT_PARSE_TEXT), computed before anything is
  // written, so the writer's split-and-drop path runs against the real engine.
  await store.client.command({ query: "ALTER TABLE predictions ADD COLUMN guard UInt8 MATERIALIZED toUInt8(if(id = 'bad', 'x', '0'))" });
});
// A test that failed half-way leaves the next one an open store.
beforeEach(async () => {
  closeAfter = undefined;
  if (closed) await reopen();
});
afterAll(() => store.close());

const spooledRows = (spool: Spool) => {
  const b = readSpoolPayload(spool.read(spool.at(0)!));
  if (!('tables' in b)) throw new Error('legacy');
  return { predictions: rowCount(b.tables.predictions), labels: rowCount(b.tables.labels), points: rowCount(b.tables.metric_points) };
};

describe('store lost part-way through a write', () => {
  it('spools only the tables not yet inserted', async () => {
    const spool = new Spool(join(dir, 'spool-live'), 1 << 24);
    const w = new Writer(store, { spool, onInsert, ...quiet });
    closeAfter = 'predictions';
    await w.write({ predictions: [pred('live', 'a'), pred('live', 'b')], labels: [label('live', 'a')], metrics: [point('live')] });
    expect(w.degraded).toBe(true);
    expect(spool.length).toBe(1);
    expect(spooledRows(spool)).toEqual({ predictions: 0, labels: 1, points: 1 });

    w.setStore(await reopen());
    await w.replay();
    expect(w.degraded).toBe(false);
    expect(await counts('live')).toEqual({ minutes: 2, features: 2, predictions: 2, labels: 1, points: 1 });
    await w.close();
  });

  it('spools only the half of a split table not yet inserted', async () => {
    const spool = new Spool(join(dir, 'spool-halves'), 1 << 24);
    const dropped: string[] = [];
    const w = new Writer(store, { spool, onInsert, onDrop: (t) => dropped.push(t), ...quiet });
    // The four rows fail together (data error) and split: [ok0, ok1] goes in, then the store is gone.
    closeAfter = 'predictions';
    await w.write({ predictions: ['ok0', 'ok1', 'bad', 'ok3'].map((id) => pred('halves', id)), labels: [label('halves', 'ok0')] });
    expect(spooledRows(spool)).toEqual({ predictions: 2, labels: 1, points: 0 });

    w.setStore(await reopen());
    await w.replay();
    expect(w.degraded).toBe(false);
    expect(dropped).toEqual(['predictions']); // the bad row, once
    expect(await counts('halves')).toEqual({ minutes: 3, features: 3, predictions: 3, labels: 1, points: 0 });
    await w.close();
  });
});

describe('store lost part-way through a merged replay', () => {
  it('retries the same files and only the tables not yet inserted', async () => {
    const spool = new Spool(join(dir, 'spool-replay'), 1 << 24);
    for (let i = 0; i < 3; i++) spool.append(batch('replay', [`a${i}`, `b${i}`]));
    const inserts: string[] = [];
    const events: { event: string; fields?: Record<string, unknown> }[] = [];
    const w = new Writer(store, { spool, onInsert: (t, n) => (inserts.push(`${t}:${n}`), onInsert(t)), ...quiet, log: (event, fields) => events.push({ event, fields }) });
    closeAfter = 'predictions';
    await w.replay();
    expect(inserts).toEqual(['predictions:6']); // the three files merged; then the store went
    expect(spool.length).toBe(3);
    expect(w.degraded).toBe(true);
    // The failed attempt is said, with why (it used to be swallowed).
    expect(events.map((e) => e.event)).toEqual(['replay_failed']);
    expect(events[0].fields).toMatchObject({ spooled_files: 3 });
    expect(String(events[0].fields?.error)).not.toBe('');

    // More is spooled meanwhile: the retried group is still the same three files.
    spool.append(batch('replay', ['late']));
    w.setStore(await reopen());
    await w.replay();
    expect(inserts).toEqual(['predictions:6', 'labels:3', 'metric_points:3', 'predictions:1', 'labels:1', 'metric_points:1']);
    expect(spool.length).toBe(0);
    expect(existsSync(join(spool.dir, 'replay-progress.json'))).toBe(false);
    expect(await counts('replay')).toEqual({ minutes: 7, features: 7, predictions: 7, labels: 4, points: 4 });
    await w.close();
  });

  it('resumes in a new process from the progress note, down to the half of a split', async () => {
    const spoolDir = join(dir, 'spool-resume');
    const spool = new Spool(spoolDir, 1 << 24);
    // The second file's second row is garbage the store refuses (a data error: too large a string).
    const second = encodePredictions([pred('resume', 'a1'), pred('resume', 'b1')]);
    second.data.fill(0xff, second.ends[0], second.ends[1]);
    spool.append(batch('resume', ['a0', 'b0']));
    spool.append(batch('resume', ['a1', 'b1'], second));
    spool.append(batch('resume', ['a2', 'b2']));
    const w1 = new Writer(store, { spool, onInsert, ...quiet });
    // Six rows fail together and split: rows 0-2 go in, then the store is gone.
    closeAfter = 'predictions';
    await w1.replay();
    expect(spool.length).toBe(3);
    expect(JSON.parse(readFileSync(join(spoolDir, 'replay-progress.json'), 'utf8')).done).toEqual({ predictions: 3, labels: 0, metric_points: 0 });
    await w1.close(); // the process is gone: what it knew in memory with it

    await reopen();
    const events: string[] = [];
    const dropped: string[] = [];
    const w2 = new Writer(store, { spool: new Spool(spoolDir, 1 << 24), log: (e) => events.push(e), onDrop: (t) => dropped.push(t), ...quiet });
    expect(events).toEqual(['spool_progress_resumed']);
    await w2.replay();
    expect(w2.degraded).toBe(false);
    expect(dropped).toEqual(['predictions']);
    expect(readdirSync(spoolDir)).toEqual([]);
    expect(await counts('resume')).toEqual({ minutes: 5, features: 5, predictions: 5, labels: 3, points: 3 });
    await w2.close();
  });

  it('a group stored in full whose files were not removed yet (process killed) is not replayed again', async () => {
    const spoolDir = join(dir, 'spool-done');
    const spool = new Spool(spoolDir, 1 << 24);
    spool.append(batch('done', ['a0', 'b0']));
    spool.append(batch('done', ['a1', 'b1']));
    // The spool directory as a process killed right after the group's last insert would leave it:
    // hard links keep the very files (same identity) after the writer removes its names.
    const killed = join(dir, 'spool-done-killed');
    mkdirSync(killed);
    const w1 = new Writer(store, {
      spool,
      onInsert: (t) => t === 'metric_points' && readdirSync(spoolDir).forEach((f) => linkSync(join(spoolDir, f), join(killed, f))),
      ...quiet,
    });
    await w1.replay();
    await w1.close();
    expect(readdirSync(killed).sort()).toEqual(['0000000000000000.batch', '0000000000000001.batch', 'replay-progress.json']);

    const w2 = new Writer(store, { spool: new Spool(killed, 1 << 24), ...quiet });
    await w2.replay();
    expect(w2.degraded).toBe(false);
    expect(readdirSync(killed)).toEqual([]);
    expect(await counts('done')).toEqual({ minutes: 4, features: 4, predictions: 4, labels: 2, points: 2 });
    await w2.close();
  });
});

describe('an insert committed before the process died, its progress note never written', () => {
  it('is dropped by ClickHouse when the next process repeats it: raw rows and rollups count once', async () => {
    const spoolDir = join(dir, 'spool-token');
    const spool = new Spool(spoolDir, 1 << 24);
    spool.append(batch('token', ['a0', 'b0']));
    spool.append(batch('token', ['a1', 'b1']));
    // The process dies right after the predictions' insert: neither the progress note of that insert
    // nor the next table's insert happens. (The group's first note, written before any insert, is
    // kept; the later ones are what is lost; the store closing stops the rest.)
    const save = spool.saveProgress.bind(spool);
    let notes = 0;
    spool.saveProgress = (text) => {
      if (notes++ === 0) save(text);
    };
    const inserts: string[] = [];
    const w1 = new Writer(store, { spool, onInsert: (t, n) => (inserts.push(`${t}:${n}`), onInsert(t)), ...quiet });
    closeAfter = 'predictions';
    await w1.replay();
    await w1.close();
    expect(inserts).toEqual(['predictions:4']);
    expect(JSON.parse(readFileSync(join(spoolDir, 'replay-progress.json'), 'utf8')).done).toEqual({ predictions: 0, labels: 0, metric_points: 0 });
    // Spooled while the store was away: it must not join the group the dead process began.
    spool.append(batch('token', ['a2', 'b2']));

    await reopen();
    const w2 = new Writer(store, { spool: new Spool(spoolDir, 1 << 24), onInsert: (t, n) => inserts.push(`${t}:${n}`), ...quiet });
    await w2.replay();
    expect(w2.degraded).toBe(false);
    // The whole group went again, the predictions with the same token: ClickHouse kept one copy.
    expect(inserts).toEqual(['predictions:4', 'predictions:4', 'labels:2', 'metric_points:2', 'predictions:2', 'labels:1', 'metric_points:1']);
    expect(readdirSync(spoolDir)).toEqual([]);
    expect(await counts('token')).toEqual({ minutes: 6, features: 6, predictions: 6, labels: 3, points: 3 });
    await w2.close();
  });

  it('a new group of other files (same rows, new spool files) is a new insert, not a repeat', async () => {
    const spoolDir = join(dir, 'spool-token-new');
    for (let round = 0; round < 2; round++) {
      const spool = new Spool(spoolDir, 1 << 24);
      spool.append(batch('token-new', ['a0', 'b0']));
      const w = new Writer(store, { spool, ...quiet });
      await w.replay();
      await w.close();
    }
    // Resent rows (an SDK retry) are two inserts: the rollups and metric_points count both, as for
    // live inserts (the raw tables collapse them whenever they merge).
    expect(await counts('token-new')).toMatchObject({ minutes: 4, features: 4, points: 2 });
  });
});

describe('a spool file that cannot be read back', () => {
  it('is moved to corrupt/, logged and counted, and the files behind it replay', async () => {
    const spoolDir = join(dir, 'spool-corrupt');
    const spool = new Spool(spoolDir, 1 << 24);
    const good = batch('corrupt', ['c0']);
    spool.append(batch('corrupt', ['a0', 'b0']));
    spool.append(good.subarray(0, good.length - 10)); // truncated (a partial copy)
    spool.append(Buffer.from('\u0000\u0001 not a batch at all')); // bad magic, not JSON either
    spool.append(Buffer.from('driftwatch-spool rowbinary 2\n[{"table": "predictions", "rows": 1,\n')); // header cut off
    spool.append(good.subarray(0, good.indexOf(10, 30) + 1)); // a header and nothing it names
    spool.append(batch('corrupt', ['a1', 'b1']));
    const events: { event: string; fields: Record<string, unknown> }[] = [];
    const w = new Writer(store, { spool, log: (event, fields) => events.push({ event, fields }), ...quiet });
    await w.replay();
    expect(w.degraded).toBe(false);
    expect(spool.length).toBe(0);
    expect(spool.bytes).toBe(0);
    expect(spool.corruptFiles).toBe(4);
    expect(readdirSync(join(spoolDir, 'corrupt'))).toEqual(['0000000000000001.batch', '0000000000000002.batch', '0000000000000003.batch', '0000000000000004.batch']);
    const corrupt = events.filter((e) => e.event === 'spool_corrupt');
    expect(corrupt.map((e) => e.fields.moved_to)).toEqual([1, 2, 3, 4].map((i) => join(spoolDir, 'corrupt', `000000000000000${i}.batch`)));
    expect(corrupt[0].fields.error).toMatch(/truncated/);
    expect(events.at(-1)?.event).toBe('store_recovered');
    expect(await counts('corrupt')).toEqual({ minutes: 4, features: 4, predictions: 4, labels: 2, points: 2 });
    await w.close();

    // Moved aside, not deleted: a new spool on the directory leaves them out. Its names start at 0
    // again, and a later unreadable file keeps the earlier one of the same name.
    const again = new Spool(spoolDir, 1 << 24);
    expect(again.length).toBe(0);
    again.append(batch('corrupt', ['a2']));
    again.append(Buffer.from('garbage'));
    const w2 = new Writer(store, { spool: again, ...quiet });
    await w2.replay();
    expect(again.length).toBe(0);
    expect(readdirSync(join(spoolDir, 'corrupt'))).toEqual(['0000000000000001.batch', '0000000000000001.batch.1', '0000000000000002.batch', '0000000000000003.batch', '0000000000000004.batch']);
    expect((await counts('corrupt')).predictions).toBe(5);
    await w2.close();
  });

  it('a readable file whose rows the store refuses still splits and drops only those rows', async () => {
    const spool = new Spool(join(dir, 'spool-bad-rows'), 1 << 24);
    const rows = encodePredictions([pred('badrows', 'a'), pred('badrows', 'b'), pred('badrows', 'c')]);
    rows.data.fill(0xff, rows.ends[0], rows.ends[1]);
    spool.append(spoolPayload({ predictions: [rows], labels: [], metric_points: [] }));
    const dropped: string[] = [];
    const w = new Writer(store, { spool, onDrop: (t) => dropped.push(t), ...quiet });
    await w.replay();
    expect(w.degraded).toBe(false);
    expect(dropped).toEqual(['predictions']);
    expect(spool.corruptFiles).toBe(0);
    expect((await counts('badrows')).predictions).toBe(2);
    await w.close();
  });
});
