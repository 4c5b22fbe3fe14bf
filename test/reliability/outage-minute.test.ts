// Promise: ClickHouse can be gone for a full minute while the load goes on. Every record the
// collector acknowledged meanwhile (from the real SDK, and from a steady HTTP client) is stored exactly
// once after it returns, the spool replays in arrival order, /readyz and driftwatch_store_up say
// "unavailable" for the whole minute and "up" after, and the collector's heap does not grow with
// what it spools (the batches wait on disk, not in memory).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createMonitor, type Monitor } from '../../agent/index.js';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { startTestCollector, waitFor, type TestCollector } from '../helpers/collector.js';

const OUTAGE_MS = 60_000;
const HTTP_RECORDS = 1000; // per request, sequential, one a second: 1000 records/s
const SDK_PER_TICK = 20; // every 20 ms: 1000 records/s, exported in one batch a second
const FEATURES = 40;

// Heap samples are taken after a full collection, so they show what is retained, not GC timing.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const httpBody = (seq: number) => JSON.stringify({
  resourceLogs: [{
    resource: { attributes: [kv('ml.model.name', { stringValue: 'outage-http' }), kv('ml.model.version', { stringValue: 'v1' })] },
    scopeLogs: [{ logRecords: Array.from({ length: HTTP_RECORDS }, (_, k) => ({
      timeUnixNano: `${Date.now()}000000`,
      eventName: 'ml.prediction',
      attributes: [
        kv('ml.prediction.id', { stringValue: `h${seq}-${k}` }),
        kv('ml.prediction.value', { intValue: k % 2 }),
        ...Array.from({ length: FEATURES }, (_, f) => kv(`ml.feature.f${f}`, { doubleValue: Math.random() })),
      ],
    })) }],
  }],
});

/** One gauge of the collector's /metrics (no labels). */
const gauge = (text: string, name: string) => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
};

/** heap: heapUsed + arrayBuffers (Buffers live outside the JS heap) after a full GC. */
interface Sample { t: number; ready: number; up: number; spoolBytes: number; queuedRows: number; heap: number; rss: number; sdkQueued: number }

const MB = 1024 * 1024;

describe('ClickHouse unavailable for a minute under load', () => {
  let c: TestCollector;
  let monitor: Monitor;
  let reopened: Store | undefined;
  let stopLoad: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    c = await startTestCollector();
  });
  afterAll(async () => {
    await stopLoad?.();
    await monitor?.shutdown();
    await c?.close();
    await reopened?.close();
  });

  it('stores every acknowledged record once, in order, with readiness and memory as promised', async () => {
    const t0 = Date.now();
    const scrape = async () => (await (await fetch(`${c.url}/metrics`)).text());

    // The load: the SDK (its worker thread encodes and exports) and a sequential HTTP client.
    monitor = createMonitor({ model: 'outage-sdk', version: 'v1', endpoint: c.url });
    const sdkIds: string[] = [];
    const names = Array.from({ length: FEATURES }, (_, f) => `f${f}`);
    const sdkTimer = setInterval(() => {
      for (let i = 0; i < SDK_PER_TICK; i++) {
        // Parsed JSON keeps the SDK's fast path (same keys, same order).
        const features = JSON.parse(`{${names.map((n) => `"${n}":${Math.random()}`).join(',')}}`) as Record<string, number>;
        sdkIds.push(monitor.record({ features, prediction: i % 2, score: Math.random() }));
      }
    }, 20);

    const httpAcked: number[] = []; // request sequence numbers answered 200, in sending order
    const httpRefused: number[] = [];
    let httpSent = 0;
    let stopHttp = false;
    const httpLoop = (async () => {
      for (let seq = 0; !stopHttp; seq++) {
        const started = Date.now();
        httpSent++;
        const res = await fetch(`${c.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: httpBody(seq) });
        await res.arrayBuffer();
        (res.status === 200 ? httpAcked : httpRefused).push(seq);
        await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - started))));
      }
    })();
    stopLoad = async () => {
      clearInterval(sdkTimer);
      stopHttp = true;
      await httpLoop;
    };

    // Healthy for a few seconds.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
    expect(gauge(await scrape(), 'driftwatch_store_up')).toBe(1);
    const ackedBeforeOutage = httpAcked.length;
    expect(ackedBeforeOutage).toBeGreaterThanOrEqual(2);

    // The store goes away for a minute; the load goes on. Sampled every second.
    const dataDir = join(c.dir, 'data');
    await c.store.close();
    const outageStart = Date.now();
    // The writer notices at its next insert (the load sends one within half a second); from then on
    // readiness says so.
    await waitFor(async () => (await fetch(`${c.url}/readyz`)).status === 503, 5_000, 20);
    const noticedMs = Date.now() - outageStart;
    expect(noticedMs).toBeLessThan(2_000);
    const samples: Sample[] = [];
    while (Date.now() - outageStart < OUTAGE_MS) {
      const tick = Date.now();
      const ready = (await fetch(`${c.url}/readyz`)).status;
      const m = await scrape();
      gc();
      const mem = process.memoryUsage();
      samples.push({
        t: tick - outageStart, ready, up: gauge(m, 'driftwatch_store_up'), spoolBytes: gauge(m, 'driftwatch_spool_bytes'),
        queuedRows: gauge(m, 'driftwatch_ingest_queue_rows'), heap: mem.heapUsed + mem.arrayBuffers, rss: mem.rss, sdkQueued: monitor.stats().queuedBytes,
      });
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - tick))));
    }
    const ackedDuringOutage = httpAcked.length - ackedBeforeOutage;
    const sdkDuringOutage = monitor.stats();

    // Back: reopened on the same data; the spool replays while the load still goes on.
    reopened = await openStore({ dataDir });
    const recoveryStart = Date.now();
    c.writer.setStore(reopened);
    const spooledDuringOutage = c.writer.spooledBatches;
    await waitFor(async () => (await fetch(`${c.url}/readyz`)).status === 200, 35_000, 100);
    const recoveredMs = Date.now() - recoveryStart;
    expect(gauge(await scrape(), 'driftwatch_store_up')).toBe(1);
    await new Promise((r) => setTimeout(r, 1000));

    // Stop the load, let everything in flight land.
    await stopLoad();
    await monitor.flush();
    await c.writer.flush();
    await waitFor(async () => (await fetch(`${c.url}/readyz`)).status === 200, 10_000, 100);
    expect(readdirSync(join(dataDir, 'spool')).filter((f) => f.endsWith('.batch'))).toEqual([]);

    // Readiness and the gauge said "unavailable" for the whole minute (every sample), then "up".
    expect(samples.length).toBeGreaterThanOrEqual(55);
    expect(samples.filter((s) => s.ready !== 503)).toEqual([]);
    expect(samples.filter((s) => s.up !== 0)).toEqual([]);
    expect((await fetch(`${c.url}/readyz`)).status).toBe(200);
    expect(gauge(await scrape(), 'driftwatch_store_up')).toBe(1);
    expect(gauge(await scrape(), 'driftwatch_spool_bytes')).toBe(0);

    // The load kept being acknowledged through the minute: into the spool, which grew with it.
    expect(ackedDuringOutage).toBeGreaterThan(OUTAGE_MS / 2000); // at least half the requests
    expect(httpRefused).toEqual([]); // a 1 GiB spool has room for a minute of this
    const spoolPeak = Math.max(...samples.map((s) => s.spoolBytes));
    const spoolFirst = samples[2].spoolBytes;
    expect(spoolPeak).toBeGreaterThan(spoolFirst + 40 * MB);
    // Memory: the queue stays small (batches go to disk), and the heap does not follow the spool.
    const maxQueued = Math.max(...samples.map((s) => s.queuedRows));
    expect(maxQueued).toBeLessThan(20_000);
    // Retained memory per window is its smallest sample: on a loaded machine the SDK (in this process)
    // can lag by seconds, and its queued records or a request's decoded rows are alive at a sample
    // (CI once saw the last 10 s' median 15.9 MB above the first's). A spool held in memory would
    // raise every sample of the late window, its minimum too.
    const early = Math.min(...samples.slice(2, 12).map((s) => s.heap));
    const late = Math.min(...samples.slice(-10).map((s) => s.heap));
    const heapMax = Math.max(...samples.map((s) => s.heap));
    const heapMin = Math.min(...samples.map((s) => s.heap));
    // A sample can land while a request's decoded rows are alive (a few MB per 1,000-record request,
    // more on Node 24): the 90th percentile says what is retained, the maximum is only printed.
    const heapP90 = [...samples.map((s) => s.heap)].sort((a, b) => a - b)[Math.floor(samples.length * 0.9)];

    // Every acknowledged record, stored exactly once: raw rows without FINAL and distinct ids; and,
    // since a background merge of the ReplacingMergeTree could hide a double insert from those, the
    // per-minute rollup, which counts every row ever inserted.
    const sdk = monitor.stats();
    expect(sdk).toMatchObject({ failed: 0, dropped: 0, queuedBytes: 0 });
    expect(sdk.exported).toBe(sdkIds.length);
    const count = async (model: string) => {
      const [raw] = await queryRows<{ rows: string; ids: string }>(reopened!.client, 'SELECT count() AS rows, uniqExact(id) AS ids FROM predictions WHERE model = {m:String}', { m: model });
      const [rollup] = await queryRows<{ n: string }>(reopened!.client, 'SELECT sum(predictions) AS n FROM prediction_minutes WHERE model = {m:String}', { m: model });
      return { rows: Number(raw.rows), ids: Number(raw.ids), inserted: Number(rollup.n) };
    };
    const httpIds = httpAcked.length * HTTP_RECORDS;
    expect(await count('outage-http')).toEqual({ rows: httpIds, ids: httpIds, inserted: httpIds });
    expect(await count('outage-sdk')).toEqual({ rows: sdkIds.length, ids: sdkIds.length, inserted: sdkIds.length });
    const storedSdk = new Set((await queryRows<{ id: string }>(reopened.client, "SELECT id FROM predictions WHERE model = 'outage-sdk'")).map((r) => r.id));
    expect(sdkIds.filter((id) => !storedSdk.has(id))).toEqual([]);
    const storedHttp = await queryRows<{ seq: string; n: string; first: string; last: string }>(
      reopened.client,
      `SELECT toUInt32(substring(splitByChar('-', id)[1], 2)) AS seq, count() AS n,
              toUnixTimestamp64Milli(min(received_at)) AS first, toUnixTimestamp64Milli(max(received_at)) AS last
       FROM predictions WHERE model = 'outage-http' GROUP BY seq ORDER BY seq`,
    );
    expect(storedHttp.map((r) => Number(r.seq))).toEqual(httpAcked);
    expect(storedHttp.filter((r) => Number(r.n) !== HTTP_RECORDS)).toEqual([]);
    // Replay in arrival order: the HTTP requests were sequential, so request k+1's rows were never
    // inserted before request k's (received_at is the insert time).
    const outOfOrder = storedHttp.filter((r, i) => i > 0 && Number(r.first) < Number(storedHttp[i - 1].last));
    expect(outOfOrder).toEqual([]);
    // The outage's requests were replayed, not inserted directly: their rows arrived after recovery.
    const outageRows = storedHttp.slice(ackedBeforeOutage + 2, ackedBeforeOutage + ackedDuringOutage - 2);
    expect(outageRows.length).toBeGreaterThan(25);
    expect(outageRows.filter((r) => Number(r.first) < recoveryStart)).toEqual([]);

    console.log(
      `outage-minute: ${OUTAGE_MS / 1000} s outage; HTTP ${httpSent} requests sent, ${httpAcked.length} acked ` +
        `(${ackedDuringOutage} during the outage, ${ackedDuringOutage * HTTP_RECORDS} records), ${httpRefused.length} refused; ` +
        `SDK ${sdkIds.length} recorded, ${sdk.exported} exported (${sdkDuringOutage.exported} by the end of the outage), ${sdk.retried} retried; ` +
        `stored ${httpIds + sdkIds.length} records once each; spool peak ${(spoolPeak / MB).toFixed(1)} MB; ` +
        `queue peak ${maxQueued} rows; heap ${(heapMin / MB).toFixed(0)}-${(heapMax / MB).toFixed(0)} MB ` +
        `(least in the first 10 s ${(early / MB).toFixed(0)} MB, in the last 10 s ${(late / MB).toFixed(0)} MB, p90 ${(heapP90 / MB).toFixed(0)} MB); SDK queue peak ${(Math.max(...samples.map((s) => s.sdkQueued)) / MB).toFixed(1)} MB; ` +
        `rss ${(Math.min(...samples.map((s) => s.rss)) / MB).toFixed(0)}-${(Math.max(...samples.map((s) => s.rss)) / MB).toFixed(0)} MB; ` +
        `${spooledDuringOutage} batches spooled in the minute, ${c.writer.replayedBatches} replayed in all; ` +
        `readyz 503 ${noticedMs} ms after the store closed, ready again ${recoveredMs} ms after the store returned; total ${((Date.now() - t0) / 1000).toFixed(0)} s`,
    );
    // Retained memory does not follow the spool: it grows by less than a quarter of what was
    // spooled meanwhile (the test's own list of SDK ids accounts for a few MB of it). The working
    // set above it (requests in flight at a sample: 14-16 MB on a loaded CI machine, 8 MB on a quiet
    // one) stays under half of it.
    expect(late - early).toBeLessThan((spoolPeak - spoolFirst) / 4);
    expect(heapP90 - heapMin).toBeLessThan((spoolPeak - spoolFirst) / 2);
    expect(heapMax - heapMin).toBeLessThan(spoolPeak - spoolFirst);
  }, 120_000);
});
