// The SDK's behaviour against real loopback HTTP servers: delivery, failures of every kind,
// bounds, shutdown, wrap, sampling, redaction. No timing assertions: the benchmark holds speed.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { createMonitor, type Monitor, type MonitorOptions } from '../../agent/index.js';
import { gzipByDefault } from '../../agent/monitor.js';
import { freePort, startOtlpSink, type OtlpSink } from './sink.js';

const warnings: string[] = [];
beforeAll(() => {
  const log = (m: string) => warnings.push(m);
  const logger: DiagLogger = { error: log, warn: log, info: () => {}, debug: () => {}, verbose: () => {} };
  diag.setLogger(logger, DiagLogLevel.WARN);
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function sink(answer?: Parameters<typeof startOtlpSink>[0], port?: number): Promise<OtlpSink> {
  const s = await startOtlpSink(answer, port);
  cleanup.push(() => s.close());
  return s;
}
function monitor(o: Partial<MonitorOptions> & { endpoint: string }): Monitor {
  const m = createMonitor({ model: 'm', version: 'v1', retryBaseMs: 5, retryMaxMs: 20, flushIntervalMs: 50, ...o });
  cleanup.push(() => m.shutdown(1000));
  return m;
}
const features = (i: number) => ({ age: 20 + (i % 50), income: 1000.5 * i, country: i % 2 ? 'DE' : 'FR' });

describe('delivery', () => {
  for (const worker of [true, false]) {
    it(`exports predictions and labels (protobuf, gzip) ${worker ? 'from the worker thread' : 'in-thread'}`, async () => {
      const s = await sink();
      const m = monitor({ endpoint: s.url, worker, apiKey: 'k1', gzip: true });
      const ids: string[] = [];
      // Generated ids, and now and then one given by the caller, in the same chunks.
      for (let i = 0; i < 5000; i++) ids.push(m.record({ id: i % 100 === 99 ? `own-${i}` : undefined, features: features(i), prediction: i % 2, score: 0.5, latencyMs: 3, segment: { channel: 'web' } }));
      expect(ids[199]).toBe('own-199');
      m.label(ids[0], 1);
      const labelTs = Math.floor(Date.now() / 1000) * 1000 - 5000;
      m.labels([{ id: ids[1], value: 'yes' }, { id: ids[2], value: false, timestamp: labelTs }]);
      await m.flush();
      const got = s.accepted();
      expect(got.predictions).toHaveLength(5000);
      expect(got.labels).toHaveLength(3);
      expect(new Set(got.predictions.map((p) => p.id))).toEqual(new Set(ids));
      const p7 = got.predictions.find((p) => p.id === ids[7])!;
      expect(p7).toMatchObject({ model: 'm', version: 'v1', prediction: '1', score: 0.5, latencyMs: 3, num: { age: 27, income: 7003.5 }, cat: { country: 'DE' }, segment: { channel: 'web' } });
      expect(got.labels.find((l) => l.id === ids[2])).toMatchObject({ label: 'false', ts: labelTs });
      expect(s.requests[0].headers).toMatchObject({ 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', authorization: 'Bearer k1' });
      expect(m.stats()).toMatchObject({ recorded: 5003, exported: 5003, dropped: 0, failed: 0, queuedBytes: 0 });
    });
  }

  it('gzips by default except to a loopback collector', async () => {
    const s = await sink();
    const port = new URL(s.url).port;
    for (const host of ['127.0.0.1', 'localhost']) {
      const m = monitor({ endpoint: `http://${host}:${port}` });
      m.record({ id: `d-${host}`, features: { x: 1 }, prediction: 1 });
      await m.flush();
    }
    expect(s.requests.map((r) => r.headers['content-encoding'])).toEqual([undefined, undefined]);
    expect(s.accepted().predictions.map((p) => p.id)).toEqual(['d-127.0.0.1', 'd-localhost']);
    // Anywhere else the body is compressed (no other host answers here: the choice itself is checked).
    for (const u of ['http://127.0.0.1:4318', 'http://127.1.2.3', 'http://[::1]:4318', 'http://LocalHost:4318', 'http://api.localhost/x']) expect(gzipByDefault(u), u).toBe(false);
    for (const u of ['http://collector:4318', 'https://10.0.0.7:4318', 'http://127.0.0.1.example.com', 'http://[::2]:4318', 'not a url']) expect(gzipByDefault(u), u).toBe(true);
  });

  it('sends OTLP/JSON when asked, with or without gzip', async () => {
    for (const gzip of [true, false]) {
      const s = await sink();
      const m = monitor({ endpoint: s.url, encoding: 'json', gzip });
      m.record({ id: 'j1', features: { x: 1.25, c: 'a', miss: null }, prediction: 'yes' });
      await m.flush();
      expect(s.requests[0].headers['content-type']).toBe('application/json');
      expect(s.requests[0].headers['content-encoding']).toBe(gzip ? 'gzip' : undefined);
      const [p] = s.accepted().predictions;
      expect(p).toMatchObject({ id: 'j1', prediction: 'yes', num: { x: 1.25 }, cat: { c: 'a' } });
      expect(p.num.miss).toBeNaN();
    }
  });

  it('recordBatch records every row of a batched model call', async () => {
    const s = await sink();
    const m = monitor({ endpoint: s.url });
    const ids = m.recordBatch({ features: [features(1), features(2), features(3)], predictions: [1, 0, 1], scores: [0.9, 0.1, 0.8], latencyMs: 12 });
    const given = m.recordBatch({ features: [{ a: 1 }, { a: 2 }], predictions: ['x', 'y'], ids: ['b1', 'b2'] });
    expect(ids).toHaveLength(3);
    expect(given).toEqual(['b1', 'b2']);
    await m.flush();
    const got = s.accepted().predictions;
    expect(got).toHaveLength(5);
    expect(got.find((p) => p.id === ids[1])).toMatchObject({ prediction: '0', score: 0.1, latencyMs: 12, num: { age: 22 } });
    expect(got.find((p) => p.id === 'b2')).toMatchObject({ prediction: 'y', num: { a: 2 } });
  });

  it('records with long strings make smaller requests (far below the collector body limit)', async () => {
    const s = await sink();
    const m = monitor({ endpoint: s.url });
    const long = (i: number) => `${i}-`.padEnd(1000, 'x');
    for (let i = 0; i < 1000; i++) {
      const f: Record<string, string | number> = { n: i };
      for (let k = 0; k < 20; k++) f[`t${k}`] = long(i * 20 + k);
      m.record({ id: `L${i}`, features: f, prediction: 1 });
    }
    await m.flush();
    expect(m.stats()).toMatchObject({ exported: 1000, failed: 0, dropped: 0 });
    expect(s.requests.length).toBeGreaterThanOrEqual(4);
    expect(s.accepted().predictions.find((p) => p.id === 'L7')!.cat.t3).toBe(long(143));
  });

  it('handles many feature layouts (different keys, different orders)', async () => {
    const s = await sink();
    const m = monitor({ endpoint: s.url, maxBatchSize: 100 });
    for (let i = 0; i < 1000; i++) {
      const f: Record<string, number> = {};
      f[`k${i % 70}`] = i; // 70 layouts: more than the layout cache holds
      f.common = -i;
      m.record({ id: `r${i}`, features: i % 3 ? f : { common: -i, [`k${i % 70}`]: i }, prediction: i });
    }
    await m.flush();
    const got = s.accepted().predictions;
    expect(got).toHaveLength(1000);
    expect(got.find((p) => p.id === 'r777')!.num).toEqual({ k7: 777, common: -777 });
    expect(s.requests.every((r) => (r.decoded?.predictions.length ?? 0) <= 100)).toBe(true);
  });
});

describe('failures', () => {
  it('does not retry a 400, counts the batch as failed and says why once', async () => {
    const s = await sink(() => ({ status: 400, body: '{"code":3,"message":"bad"}' }));
    const m = monitor({ endpoint: s.url, maxBatchSize: 10 });
    for (let i = 0; i < 30; i++) m.record({ features: features(i), prediction: 1 });
    await m.flush();
    expect(s.requests).toHaveLength(3); // one per batch, no retries
    expect(m.stats()).toMatchObject({ recorded: 30, exported: 0, failed: 30, retried: 0 });
    expect(warnings.filter((w) => w.includes('HTTP 400'))).toHaveLength(1);
  });

  it('retries 429/503 honouring Retry-After, then delivers', async () => {
    const s = await sink((_r, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '0' } } : n === 2 ? { status: 503 } : {}));
    const m = monitor({ endpoint: s.url });
    m.record({ id: 'r', features: { a: 1 }, prediction: 1 });
    await m.flush();
    expect(s.requests).toHaveLength(3);
    expect(m.stats()).toMatchObject({ exported: 1, failed: 0, retried: 2 });
    expect(s.accepted().predictions.map((p) => p.id)).toEqual(['r']);
  });

  it('is partial-success aware: rejected records are failed, the rest exported', async () => {
    const s = await sink(() => ({ body: JSON.stringify({ partialSuccess: { rejectedLogRecords: '2', errorMessage: 'feature x: must be a number' } }) }));
    const m = monitor({ endpoint: s.url, encoding: 'json' });
    for (let i = 0; i < 10; i++) m.record({ features: { a: i }, prediction: 1 });
    await m.flush();
    expect(m.stats()).toMatchObject({ exported: 8, failed: 2, retried: 0 });
    expect(warnings.some((w) => w.includes('rejected 2 record(s): feature x: must be a number'))).toBe(true);
  });

  it('reads a protobuf partial success too', async () => {
    const { ExportLogsServiceResponse } = await import('../../otlp/schema.js');
    const body = ExportLogsServiceResponse.encode({ partialSuccess: { rejectedLogRecords: 3, errorMessage: 'three bad' } }).finish();
    const s = await sink(() => ({ body, headers: { 'content-type': 'application/x-protobuf' } }));
    const m = monitor({ endpoint: s.url });
    for (let i = 0; i < 10; i++) m.record({ features: { a: i }, prediction: 1 });
    await m.flush();
    expect(m.stats()).toMatchObject({ exported: 7, failed: 3 });
  });

  it('a collector down then up: buffered records are delivered, overflow is counted, nothing throws', async () => {
    const port = await freePort();
    const before = warnings.length;
    const m = monitor({ endpoint: `http://127.0.0.1:${port}`, maxBufferBytes: 64 * 1024, maxBatchSize: 50, retryDeadlineMs: 60_000 });
    let accepted = 0;
    for (let i = 0; i < 5000; i++) m.record({ id: `d${i}`, features: features(i), prediction: i });
    const down = m.stats();
    expect(down.dropped).toBeGreaterThan(0);
    expect(down.recorded + down.dropped).toBe(5000);
    expect(down.queuedBytes).toBeLessThanOrEqual(64 * 1024);
    accepted = down.recorded;
    // Let exports fail against the closed port first.
    for (let i = 0; i < 200 && !warnings.slice(before).some((w) => w.includes('retrying with backoff')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(m.stats().exported).toBe(0);
    const s = await sink(undefined, port);
    await m.flush();
    const st = m.stats();
    expect(st, JSON.stringify({ st, accepted, warnings })).toMatchObject({ exported: accepted, failed: 0, queuedBytes: 0 });
    expect(st.retried).toBeGreaterThan(0);
    expect(new Set(s.accepted().predictions.map((p) => p.id)).size).toBe(accepted);
  });

  it('a collector that never answers: requests time out, the batch fails after its retry deadline', async () => {
    const s = await sink(() => ({ hang: true }));
    const m = monitor({ endpoint: s.url, timeoutMs: 50, retryDeadlineMs: 300 });
    m.record({ features: { a: 1 }, prediction: 1 });
    await m.flush();
    expect(m.stats()).toMatchObject({ recorded: 1, exported: 0, failed: 1 });
    expect(m.stats().retried).toBeGreaterThan(0);
  });

  it('a slow collector: the serving side keeps recording while exports take their time', async () => {
    const s = await sink(() => ({ delayMs: 150 }));
    const m = monitor({ endpoint: s.url, maxBatchSize: 100 });
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 300; i++) m.record({ features: features(i), prediction: 1 });
      await new Promise((r) => setTimeout(r, 20));
    }
    // Exports are still running (one at a time, 150 ms each) while every record was taken.
    expect(m.stats().recorded).toBe(1500);
    expect(m.stats().exported).toBeLessThan(1500);
    await m.flush();
    expect(m.stats()).toMatchObject({ exported: 1500, dropped: 0, failed: 0 });
    expect(s.requests.length).toBeGreaterThanOrEqual(15);
  });

  it('keeps up to maxConcurrentExports requests in flight against a slow collector, and no more', async () => {
    for (const concurrent of [1, 3]) {
      const arrivals: number[] = [];
      const s = await sink(() => {
        arrivals.push(Date.now());
        return { delayMs: 300 };
      });
      const m = monitor({ endpoint: s.url, maxBatchSize: 100, maxConcurrentExports: concurrent });
      for (let i = 0; i < 600; i++) m.record({ features: features(i), prediction: 1 });
      await m.flush();
      expect(m.stats()).toMatchObject({ exported: 600, failed: 0 });
      expect(arrivals.length).toBeGreaterThanOrEqual(6);
      // Requests that arrived while the first was still unanswered: exactly the concurrency.
      expect(arrivals.filter((t) => t - arrivals[0] < 250).length).toBe(concurrent);
    }
  });

  it('many requests in flight at once raise no listener-leak warning (each has its own abort signal)', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const s = await sink(() => ({ delayMs: 200 }));
      const m = monitor({ endpoint: s.url, worker: false, maxBatchSize: 50, maxConcurrentExports: 16 });
      for (let i = 0; i < 1600; i++) m.record({ features: features(i), prediction: 1 });
      await m.flush();
      expect(m.stats()).toMatchObject({ exported: 1600, failed: 0 });
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => /MaxListeners/.test(w))).toEqual([]);
  });

  it('large embeddings make smaller requests in either encoding, far below the collector body limit', async () => {
    for (const encoding of ['json', 'protobuf'] as const) {
      const s = await sink();
      const m = monitor({ endpoint: s.url, encoding, gzip: false });
      const v = Float32Array.from({ length: 768 }, (_, i) => Math.sin(i) / 3);
      for (let i = 0; i < 2000; i++) m.record({ features: features(i), prediction: 1, embeddings: { text: v } });
      await m.flush();
      expect(m.stats()).toMatchObject({ exported: 2000, failed: 0 });
      // 2000 x 768 values: ~55 MB as one OTLP/JSON request; cut by what they weigh on the wire.
      const largest = Math.max(...s.requests.map((r) => r.body.length));
      expect(largest, encoding).toBeLessThan(12 * 1024 * 1024);
      expect(s.requests.length, encoding).toBeGreaterThan(1);
    }
  });

  it('an unresolvable host: counted as failed, never thrown', async () => {
    const m = monitor({ endpoint: 'http://driftwatch-no-such-host.invalid:4318', retryDeadlineMs: 50 });
    m.record({ features: { a: 1 }, prediction: 1 });
    await m.flush();
    expect(m.stats()).toMatchObject({ exported: 0, failed: 1 });
  });

  it('never throws on bad input; counts it and logs once per kind', async () => {
    const s = await sink();
    const m = monitor({ endpoint: s.url, maxStringLength: 100 });
    const before = warnings.length;
    const bad: unknown[] = [
      null,
      undefined,
      42,
      { features: null, prediction: 1 },
      { features: 'nope', prediction: 1 },
      { features: { a: 1 } }, // no prediction
      { features: { a: 1 }, prediction: { nested: true } },
      { features: { a: NaN, b: Infinity, o: { x: 1 }, arr: [1], fn: () => 1, big: 10n, s: 'y'.repeat(100_000) }, prediction: 1, score: 'high', latencyMs: null },
      { features: { a: 2, o: { x: 2 }, arr: [2], fn: () => 2, big: 11n, s: 'z'.repeat(100_000) }, prediction: 1 },
    ];
    for (const b of bad) expect(() => m.record(b as never)).not.toThrow();
    expect(() => m.label(undefined as never, { v: 1 } as never)).not.toThrow();
    expect(() => m.labels(null as never)).not.toThrow();
    expect(() => m.recordBatch(null as never)).not.toThrow();
    await m.flush();
    const st = m.stats();
    expect(st.invalid).toBeGreaterThan(0);
    const got = s.accepted();
    expect(got.rejected).toEqual([]);
    const p = got.predictions.find((x) => Number.isNaN(x.num.a))!;
    expect(p.num.b).toBe(Infinity);
    expect(p.num.o).toBeNaN(); // sent as missing
    expect(p.cat.s).toHaveLength(100); // cut to maxStringLength
    // Once per kind, not per record.
    const mine = warnings.slice(before);
    expect(mine.filter((w) => w.includes('cannot be sent'))).toHaveLength(1);
    expect(mine.filter((w) => w.includes('was cut to'))).toHaveLength(1);
  });
});

describe('bounds and lifecycle', () => {
  it('memory stays within maxBufferBytes, in flight included; overflow is dropped and counted', async () => {
    const s = await sink(() => ({ hang: true }));
    const max = 256 * 1024;
    const m = monitor({ endpoint: s.url, maxBufferBytes: max, timeoutMs: 60_000 });
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      m.record({ features: features(i), prediction: 1, segment: { s: 'x' } });
      m.label(`l${i}`, 1);
      peak = Math.max(peak, m.stats().queuedBytes);
      if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
    }
    const st = m.stats();
    expect(peak).toBeLessThanOrEqual(max);
    expect(st.dropped).toBeGreaterThan(0);
    expect(st.recorded + st.dropped).toBe(40_000);
    await m.shutdown(100);
  });

  it('shutdown under load: idempotent, within its deadline, everything accounted for', async () => {
    const s = await sink(() => ({ delayMs: 20 }));
    const m = monitor({ endpoint: s.url, maxBatchSize: 200, maxConcurrentExports: 4 });
    let stop = false;
    let sent = 0;
    const load = (async () => {
      while (!stop) {
        for (let i = 0; i < 100; i++, sent++) m.record({ features: features(i), prediction: 1 });
        await new Promise((r) => setImmediate(r));
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    const first = m.shutdown(1000);
    expect(m.shutdown()).toBe(first);
    await first;
    stop = true;
    await load;
    const st = m.stats();
    expect(st.recorded + st.dropped).toBe(sent);
    expect(st.exported + st.failed).toBe(st.recorded);
    // Batches in flight when the deadline struck (up to 4 of 200: the concurrency set above) are counted failed, though they may have arrived.
    const arrived = s.accepted().predictions.length;
    expect(arrived).toBeGreaterThanOrEqual(st.exported);
    expect(arrived).toBeLessThanOrEqual(st.exported + 4 * 200);
    expect(st.queuedBytes).toBe(0);
    // After shutdown: dropped, not thrown.
    expect(() => m.record({ features: { a: 1 }, prediction: 1 })).not.toThrow();
    expect(m.stats().dropped).toBe(st.dropped + 1);
  });

  it('shutdown against a collector that never answers resolves at its deadline', async () => {
    const s = await sink(() => ({ hang: true }));
    const m = monitor({ endpoint: s.url, timeoutMs: 60_000 });
    for (let i = 0; i < 100; i++) m.record({ features: { a: i }, prediction: 1 });
    await m.shutdown(200);
    expect(m.stats()).toMatchObject({ recorded: 100, exported: 0, failed: 100, queuedBytes: 0 });
  });

  it('flush(timeoutMs) returns at its deadline when the collector hangs', async () => {
    const s = await sink(() => ({ hang: true }));
    const m = monitor({ endpoint: s.url, timeoutMs: 60_000 });
    m.record({ features: { a: 1 }, prediction: 1 });
    await m.flush(100);
    expect(m.stats().exported).toBe(0);
  });

  it('exitHook: flushes on beforeExit and shuts down on SIGTERM', async () => {
    const s = await sink();
    const m = monitor({ endpoint: s.url, exitHook: true, flushIntervalMs: 60_000 });
    m.record({ id: 'e1', features: { a: 1 }, prediction: 1 });
    process.emit('beforeExit', 0);
    await new Promise((r) => setTimeout(r, 200));
    await m.flush(); // only to wait for the export that beforeExit started
    expect(s.accepted().predictions.map((p) => p.id)).toEqual(['e1']);
    m.record({ id: 'e2', features: { a: 1 }, prediction: 1 });
    const keepAlive = () => {}; // another listener: the monitor does not re-raise the signal
    process.on('SIGTERM', keepAlive);
    try {
      process.emit('SIGTERM', 'SIGTERM');
      await m.shutdown();
    } finally {
      process.off('SIGTERM', keepAlive);
    }
    expect(s.accepted().predictions.map((p) => p.id)).toEqual(['e1', 'e2']);
    expect(process.listeners('beforeExit').length).toBe(process.listeners('beforeExit').filter((l) => l.name !== 'onBeforeExit').length);
  });
});

describe('wrap', () => {
  it('times and records sync calls; same result, same this', async () => {
    const s = await sink();
    const m = monitor({ endpoint: s.url });
    const model = {
      bias: 0.5,
      predict(x: { age: number; income: number }, tag: string): number {
        return x.age * 0.01 + this.bias + (tag === 't' ? 1 : 0);
      },
    };
    const predict = m.wrap(model.predict, { features: (x) => x, id: (_x, tag) => `w-${tag}` });
    expect(predict.call(model, { age: 40, income: 1 }, 't')).toBeCloseTo(1.9);
    await m.flush();
    const [p] = s.accepted().predictions;
    expect(p).toMatchObject({ id: 'w-t', prediction: '1.9', num: { age: 40, income: 1 } });
    expect(p.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('records async calls when they resolve, with prediction and score extractors', async () => {
    const s = await sink();
    const m = monitor({ endpoint: s.url });
    const classify = m.wrap(async (x: { v: number }) => ({ label: x.v > 1 ? 'big' : 'small', p: 0.7 }), {
      features: (x) => ({ v: x.v }),
      prediction: (r) => r.label,
      score: (r) => r.p,
    });
    await expect(classify({ v: 3 })).resolves.toEqual({ label: 'big', p: 0.7 });
    await m.flush();
    expect(s.accepted().predictions[0]).toMatchObject({ prediction: 'big', score: 0.7, num: { v: 3 } });
  });

  it('lets errors through unchanged (sync and async) and records nothing for them', async () => {
    const s = await sink();
    const m = monitor({ endpoint: s.url });
    const boom = new Error('boom');
    const sync = m.wrap((_x: number): number => { throw boom; }, { features: (x) => ({ x }) });
    const async_ = m.wrap(async (_x: number): Promise<number> => { throw boom; }, { features: (x) => ({ x }) });
    expect(() => sync(1)).toThrow(boom);
    await expect(async_(1)).rejects.toBe(boom);
    // A failing extractor does not break the call either.
    const ok = m.wrap((x: number) => x * 2, { features: () => { throw new Error('extractor'); } });
    expect(ok(2)).toBe(4);
    await m.flush();
    expect(s.accepted().predictions).toHaveLength(0);
    expect(m.stats()).toMatchObject({ errors: 2, recorded: 0 });
  });
});

describe('sampling and redaction', () => {
  it('records about sampleRate of the predictions and every label', async () => {
    const s = await sink();
    const m = monitor({ endpoint: s.url, sampleRate: 0.25 });
    const ids: string[] = [];
    for (let i = 0; i < 20_000; i++) ids.push(m.record({ features: { a: i }, prediction: 1 }));
    for (let i = 0; i < 100; i++) m.label(ids[i], 1);
    await m.flush();
    const st = m.stats();
    expect(st.sampledOut + st.recorded - 100).toBe(20_000);
    // Binomial(20000, 0.25): mean 5000, sd 61; +-8 sd.
    expect(st.recorded - 100).toBeGreaterThan(4500);
    expect(st.recorded - 100).toBeLessThan(5500);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(s.accepted().labels).toHaveLength(100);

    const none = monitor({ endpoint: s.url, sampleRate: 0 });
    none.record({ features: { a: 1 }, prediction: 1 });
    expect(none.stats()).toMatchObject({ recorded: 0, sampledOut: 1 });
  });

  it('drops or hashes named features before they leave the process', async () => {
    const s = await sink();
    const m = monitor({ endpoint: s.url, redact: { email: 'drop', zip: 'hash', age: 'hash' }, redactSalt: 'pepper' });
    m.record({ id: 'x1', features: { email: 'a@b.c', zip: '10115', age: 41, income: 5 }, prediction: 1 });
    m.record({ id: 'x2', features: { email: 'd@e.f', zip: '10115', age: null, income: 6 }, prediction: 1 });
    await m.flush();
    const raw = Buffer.concat(s.requests.map((r) => r.body));
    const [a, b] = s.accepted().predictions;
    expect(a.cat.email ?? a.num.email).toBeUndefined();
    expect(a.cat.zip).toMatch(/^[0-9a-f]{32}$/);
    expect(a.cat.zip).toBe(b.cat.zip); // the same value hashes the same: still usable for drift
    expect(a.cat.age).toMatch(/^[0-9a-f]{32}$/);
    expect(b.num.age).toBeNaN(); // missing stays missing
    expect(a.num.income).toBe(5);
    expect(s.requests.some((r) => r.decoded === undefined)).toBe(false);
    expect(raw.includes('a@b.c')).toBe(false);
  });
});

describe('own metrics', () => {
  class TestReader extends MetricReader {
    protected override async onForceFlush(): Promise<void> {}
    protected override async onShutdown(): Promise<void> {}
  }
  it('reports exported/dropped/retries/queue size and latency through a MeterProvider', async () => {
    const s = await sink();
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const m = monitor({ endpoint: s.url, meterProvider: provider });
    for (let i = 0; i < 10; i++) m.record({ features: { a: i }, prediction: 1, latencyMs: 20 });
    await m.flush();
    const { resourceMetrics } = await reader.collect();
    const metrics = (resourceMetrics as ResourceMetrics).scopeMetrics.flatMap((sm) => sm.metrics);
    const byName = new Map(metrics.map((x) => [x.descriptor.name, x]));
    expect([...byName.keys()].sort()).toEqual(['driftwatch.agent.queue.size', 'driftwatch.agent.records', 'driftwatch.agent.retries', 'ml.prediction.duration']);
    const records = byName.get('driftwatch.agent.records')!.dataPoints;
    expect(records.find((d) => d.attributes.outcome === 'exported')?.value).toBe(10);
    const hist = byName.get('ml.prediction.duration')!.dataPoints[0].value as { count: number; sum: number };
    expect(hist.count).toBe(10);
    expect(hist.sum).toBeCloseTo(0.2);
    await provider.shutdown();
  });
});
