// createMonitor: the hot path copies a prediction into the columnar buffer and returns. Everything
// else happens per batch: a chunk that fills up, or the flush timer (unref'd, so it never keeps the
// process alive), hands sealed chunks to the export pipeline, which runs on a worker thread.
import { diag, metrics, type Histogram, type Meter, type MeterProvider, type ObservableCallback } from '@opentelemetry/api';
import type { Batch, PipelineMessage } from './batch.js';
import { ColumnBuffer } from './buffer.js';
import { startExportThread, type ExportThread } from './worker.js';
import type { EmbeddingValue, FeatureValue, LabelInput, Monitor, MonitorOptions, MonitorStats, PredictionBatch, PredictionInput, WrapOptions } from './types.js';

export const SDK_VERSION = '0.1.0'; // the package's version

const DEFAULTS = {
  version: 'unversioned',
  encoding: 'protobuf' as const,
  maxBufferBytes: 64 * 1024 * 1024,
  flushIntervalMs: 1000,
  maxBatchSize: 2000,
  maxConcurrentExports: 16,
  sampleRate: 1,
  timeoutMs: 10_000,
  retryDeadlineMs: 60_000,
  retryBaseMs: 500,
  retryMaxMs: 30_000,
  maxStringLength: 1024,
  worker: true,
  exitHook: false,
  redactSalt: '',
};

const SHUTDOWN_TIMEOUT_MS = 5000;

// Ids are unique per process without crypto on the hot path: a random prefix and a counter.
const idPrefix = Math.random().toString(36).slice(2, 10) + '-';
let idSeq = 0;

function isNoop(x: unknown): boolean {
  return typeof x === 'object' && x !== null && /^Noop/.test(x.constructor?.name ?? '');
}

/**
 * Whether request bodies are gzipped when the caller does not say: yes, except to a loopback
 * collector (localhost, 127.0.0.0/8, ::1), where compressing saves no bandwidth and was most of the
 * SDK's CPU (gzip level 1: about 60% of the SDK process's CPU per prediction in bench/ingest).
 */
export function gzipByDefault(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname.toLowerCase();
  } catch {
    return true;
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return false;
  if (host === '[::1]' || host === '[::ffff:7f00:1]') return false;
  return !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Numeric option: the default when absent or not a finite number in range. */
function num(v: unknown, dflt: number, min: number, max = Infinity): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max ? v : dflt;
}

export function createMonitor(options: MonitorOptions): Monitor {
  const given = (options ?? {}) as Partial<MonitorOptions>;
  const endpoint = String(given.endpoint ?? 'http://127.0.0.1:4318');
  const o = {
    model: String(given.model ?? ''),
    version: String(given.version ?? DEFAULTS.version),
    endpoint,
    encoding: given.encoding === 'json' ? ('json' as const) : ('protobuf' as const),
    gzip: given.gzip ?? gzipByDefault(endpoint),
    maxBufferBytes: num(given.maxBufferBytes, DEFAULTS.maxBufferBytes, 1024),
    flushIntervalMs: num(given.flushIntervalMs, DEFAULTS.flushIntervalMs, 1),
    maxBatchSize: Math.floor(num(given.maxBatchSize, DEFAULTS.maxBatchSize, 1)),
    maxConcurrentExports: Math.floor(num(given.maxConcurrentExports, DEFAULTS.maxConcurrentExports, 1, 64)),
    sampleRate: num(given.sampleRate, DEFAULTS.sampleRate, 0, 1),
    timeoutMs: num(given.timeoutMs, DEFAULTS.timeoutMs, 1),
    retryDeadlineMs: num(given.retryDeadlineMs, DEFAULTS.retryDeadlineMs, 0),
    retryBaseMs: num(given.retryBaseMs, DEFAULTS.retryBaseMs, 0),
    retryMaxMs: num(given.retryMaxMs, DEFAULTS.retryMaxMs, 0),
    maxStringLength: Math.floor(num(given.maxStringLength, DEFAULTS.maxStringLength, 1)),
    worker: given.worker ?? DEFAULTS.worker,
    exitHook: given.exitHook ?? DEFAULTS.exitHook,
    redact: { ...(given.redact ?? {}) },
    redactSalt: String(given.redactSalt ?? DEFAULTS.redactSalt),
    metrics: given.metrics === 'otlp' || given.metrics === 'off' ? given.metrics : ('global' as const),
    metricsIntervalMs: num(given.metricsIntervalMs, 60_000, 100),
  };

  // Problems are logged once per kind, through OTel's diag logger, never per record.
  const logged = new Set<string>();
  function warnOnce(kind: string, message: string): void {
    if (logged.has(kind)) return;
    logged.add(kind);
    diag.warn(`driftwatch agent (${o.model}): ${message}`);
  }
  if (!o.model) warnOnce('config-model', 'no model name given; the collector will reject every record');

  const stats = { recorded: 0, exported: 0, failed: 0, retried: 0, sampledOut: 0, errors: 0 };
  // An embedding element on the wire: 11 bytes in protobuf, up to ~40 as OTLP/JSON text.
  const buffer = new ColumnBuffer(o.maxBufferBytes, o.maxBatchSize, o.maxStringLength, warnOnce, schedulePump, o.encoding === 'json' ? 40 : 11);

  const headers: Record<string, string> = { ...(given.headers ?? {}) };
  if (given.apiKey) headers.authorization = `Bearer ${given.apiKey}`;
  const exporter: ExportThread = startExportThread(
    {
      url: o.endpoint.replace(/\/+$/, '') + '/v1/logs',
      encoding: o.encoding,
      gzip: o.gzip,
      headers,
      timeoutMs: o.timeoutMs,
      retryDeadlineMs: o.retryDeadlineMs,
      retryBaseMs: o.retryBaseMs,
      retryMaxMs: o.retryMaxMs,
      model: o.model,
      version: o.version,
      sdkVersion: SDK_VERSION,
      idPrefix,
      redact: o.redact,
      redactSalt: o.redactSalt,
    },
    onPipelineMessage,
    { worker: o.worker, onWorkerError: (e) => warnOnce('worker', `export worker unavailable (${e.message}); exporting in-thread`) },
  );

  // ---- the SDK's own metrics -----------------------------------------------------------------
  const metricAttrs = { 'ml.model.name': o.model, 'ml.model.version': o.version };
  let meter: Meter | undefined;
  let latency: Histogram | undefined;
  const observe: ObservableCallback = (r) => {
    r.observe(stats.exported, { ...metricAttrs, outcome: 'exported' });
    r.observe(buffer.dropped, { ...metricAttrs, outcome: 'dropped' });
    r.observe(stats.failed, { ...metricAttrs, outcome: 'failed' });
    r.observe(stats.sampledOut, { ...metricAttrs, outcome: 'sampled_out' });
  };
  const observeRetries: ObservableCallback = (r) => r.observe(stats.retried, metricAttrs);
  const observeQueue: ObservableCallback = (r) => r.observe(buffer.bytes, metricAttrs);
  const instruments: { removeCallback(cb: ObservableCallback): void; cb: ObservableCallback }[] = [];
  // A private provider (metrics: 'otlp'), owned and shut down by this monitor.
  let own: { shutdown(): Promise<void> } | undefined;
  let ownStarting = false;
  // The global provider may be registered after the monitor is created: look again until found.
  function resolveMeter(): void {
    if (meter !== undefined || o.metrics === 'off') return;
    try {
      const provider: MeterProvider = given.meterProvider ?? metrics.getMeterProvider();
      if (isNoop(provider)) {
        if (o.metrics === 'otlp' && !ownStarting) startOwnProvider();
        return;
      }
      useMeterProvider(provider);
    } catch (e) {
      warnOnce('metrics', `could not create metrics: ${(e as Error).message}`);
    }
  }
  // Loaded only when asked for: most applications never need the SDK's own exporter.
  function startOwnProvider(): void {
    ownStarting = true;
    void (async () => {
      try {
        const [sdk, otlp, res] = await Promise.all([
          import('@opentelemetry/sdk-metrics'),
          import('@opentelemetry/exporter-metrics-otlp-proto'),
          import('@opentelemetry/resources'),
        ]);
        if (closed || meter !== undefined) return;
        const exporter = new otlp.OTLPMetricExporter({ url: o.endpoint.replace(/\/+$/, '') + '/v1/metrics', headers });
        const provider = new sdk.MeterProvider({
          resource: res.resourceFromAttributes({ ...metricAttrs, 'telemetry.sdk.name': 'driftwatch', 'telemetry.sdk.version': SDK_VERSION }),
          readers: [new sdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: o.metricsIntervalMs, exportTimeoutMillis: Math.min(o.metricsIntervalMs, o.timeoutMs) })],
        });
        own = provider;
        useMeterProvider(provider);
      } catch (e) {
        warnOnce('metrics', `could not start the SDK's own metrics export: ${(e as Error).message}`);
      }
    })();
  }
  function useMeterProvider(provider: MeterProvider): void {
    try {
      meter = provider.getMeter('driftwatch-agent', SDK_VERSION);
      // OTel's default buckets (0, 5, 10, 25 ... in seconds) say nothing about model latency:
      // sub-second boundaries, so percentiles and SLO shares come out meaningful.
      latency = meter.createHistogram('ml.prediction.duration', {
        unit: 's',
        description: 'Model prediction latency',
        advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
      });
      const records = meter.createObservableCounter('driftwatch.agent.records', { description: 'Records by outcome: exported, dropped (buffer full), failed, sampled_out' });
      const retries = meter.createObservableCounter('driftwatch.agent.retries', { description: 'Export retries' });
      const queue = meter.createObservableGauge('driftwatch.agent.queue.size', { unit: 'By', description: 'Buffered telemetry bytes, in flight included' });
      records.addCallback(observe);
      retries.addCallback(observeRetries);
      queue.addCallback(observeQueue);
      instruments.push({ removeCallback: (cb) => records.removeCallback(cb), cb: observe });
      instruments.push({ removeCallback: (cb) => retries.removeCallback(cb), cb: observeRetries });
      instruments.push({ removeCallback: (cb) => queue.removeCallback(cb), cb: observeQueue });
    } catch (e) {
      warnOnce('metrics', `could not create metrics: ${(e as Error).message}`);
    }
  }
  resolveMeter();

  // Latencies reach the histogram per batch, off the hot path.
  function recordLatencies(batch: Batch): void {
    if (latency === undefined) return;
    for (const c of batch.chunks) {
      for (let i = 0; i < c.n; i++) {
        const l = c.lat[i];
        if (l === l) latency.record(l / 1000, metricAttrs);
      }
    }
  }

  // ---- export loop: up to maxConcurrentExports batches in flight --------------------------------
  // One request at a time would cap a process at (batch size / round trip) records per second, and
  // a loaded collector's round trip is what it is: several in flight keep the pipe full. The default
  // (16 x 2000 records) lets one process carry ~100k records/s through acknowledgements of ~300 ms,
  // and gives a collector that coalesces requests larger inserts: in bench/ingest two SDK processes
  // went from 66k to 82k predictions/s with 8 requests in flight each instead of 4, and to 91k with 16.
  let inFlight = 0;
  let closed = false;
  let pumpScheduled = false;
  const idleWaiters: (() => void)[] = [];

  function schedulePump(): void {
    if (pumpScheduled || inFlight >= o.maxConcurrentExports) return;
    pumpScheduled = true;
    setImmediate(pumpTask);
  }
  function pumpTask(): void {
    pumpScheduled = false;
    pump();
  }
  function pump(): void {
    while (inFlight < o.maxConcurrentExports) {
      const batch = buffer.take();
      if (batch === undefined) return;
      inFlight++;
      try {
        recordLatencies(batch);
        exporter.send(batch);
      } catch (e) {
        warnOnce('send', `could not hand a batch to the exporter: ${(e as Error).message}`);
        onPipelineMessage({ type: 'done', seq: batch.seq, records: countRows(batch), exported: 0, failed: countRows(batch), retries: 0 });
      }
    }
  }
  function onPipelineMessage(m: PipelineMessage): void {
    if (m.type === 'warn') {
      warnOnce(m.kind, m.message);
      return;
    }
    // A batch is done once: a second report for it (a worker that died after a failed hand-over)
    // must not count it out of flight again.
    if (buffer.release(m.seq)) {
      inFlight--;
      stats.exported += m.exported;
      stats.failed += m.failed;
      stats.retried += m.retries;
    }
    // Sealed chunks (full ones, or partial ones the timer or a flush sealed) go at once.
    if (buffer.readyRows > 0) pump();
    for (const w of idleWaiters.splice(0)) w();
  }

  const timer = setInterval(() => {
    resolveMeter();
    buffer.sealAll();
    pump();
  }, o.flushIntervalMs);
  timer.unref();

  async function flush(timeoutMs?: number): Promise<void> {
    try {
      exporter.ref();
      const deadline = timeoutMs === undefined ? undefined : Date.now() + Math.max(0, timeoutMs);
      let t: NodeJS.Timeout | undefined;
      const expired = deadline === undefined ? undefined : new Promise<void>((r) => (t = setTimeout(r, deadline - Date.now())));
      try {
        for (;;) {
          buffer.sealAll();
          if (buffer.pending === 0 && inFlight === 0) break;
          const idle = new Promise<void>((r) => idleWaiters.push(r));
          pump();
          if (expired) await Promise.race([idle, expired]);
          else await idle;
          if (deadline !== undefined && Date.now() >= deadline) break;
        }
      } finally {
        if (t) clearTimeout(t);
        exporter.unref();
      }
    } catch (e) {
      warnOnce('flush', `flush failed: ${(e as Error).message}`);
    }
  }

  let shutdownPromise: Promise<void> | undefined;
  function shutdown(timeoutMs = SHUTDOWN_TIMEOUT_MS): Promise<void> {
    if (shutdownPromise) return shutdownPromise;
    closed = true;
    clearInterval(timer);
    removeExitHooks();
    shutdownPromise = (async () => {
      try {
        const deadline = Date.now() + num(timeoutMs, SHUTDOWN_TIMEOUT_MS, 0);
        exporter.setDeadline(deadline);
        await flush(deadline - Date.now());
        // Past the deadline, the pipeline aborts its request: give its answer a moment to arrive.
        if (inFlight > 0) await Promise.race([new Promise<void>((r) => idleWaiters.push(r)), new Promise((r) => setTimeout(r, 100))]);
        // Whatever is still buffered or in flight will not be delivered.
        const lost = buffer.discard();
        inFlight = 0; // what was in flight is counted lost; a late report for it is ignored
        if (lost > 0) {
          stats.failed += lost;
          warnOnce('shutdown-lost', `shutdown deadline reached: ${lost} record(s) not delivered`);
        }
        // The last export of the private provider, then its callbacks go.
        if (own) await Promise.race([own.shutdown().catch(() => {}), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
        for (const i of instruments) i.removeCallback(i.cb);
        await exporter.close();
      } catch (e) {
        warnOnce('shutdown', `shutdown failed: ${(e as Error).message}`);
      }
    })();
    return shutdownPromise;
  }

  // ---- optional process hooks ----------------------------------------------------------------
  const onSigterm = () => {
    void shutdown().finally(() => {
      // Ours was the only handler: do what Node would have done without it.
      if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
    });
    removeExitHooks();
  };
  const onBeforeExit = () => {
    if (buffer.pending > 0 && !closed) void flush(SHUTDOWN_TIMEOUT_MS);
  };
  function removeExitHooks(): void {
    process.off('SIGTERM', onSigterm);
    process.off('beforeExit', onBeforeExit);
  }
  if (o.exitHook) {
    process.on('SIGTERM', onSigterm);
    process.on('beforeExit', onBeforeExit);
  }

  // ---- the hot path ------------------------------------------------------------------------------
  const sampleRate = o.sampleRate;

  function record(p: PredictionInput): string {
    let id = '';
    try {
      const seq = p.id === undefined ? idSeq++ : -1;
      id = seq >= 0 ? idPrefix + seq : String(p.id);
      if (sampleRate < 1 && Math.random() >= sampleRate) {
        stats.sampledOut++;
        return id;
      }
      if (closed) {
        buffer.dropped++;
        warnOnce('closed', 'record() after shutdown(): records are dropped');
        return id;
      }
      const t = p.timestamp;
      if (buffer.push(p.features, seq, id, typeof t === 'number' && t >= 0 && t < 1e14 ? t : t === undefined ? Date.now() : timeOf(t), p.prediction, p.score, p.latencyMs, p.segment, p.embeddings)) stats.recorded++;
    } catch (e) {
      warnOnce('record', `record() failed: ${(e as Error).message}`);
    }
    return id;
  }

  function recordBatch(b: PredictionBatch): string[] {
    const ids: string[] = [];
    try {
      const n = b.features.length;
      const ts = b.timestamp === undefined ? Date.now() : timeOf(b.timestamp);
      for (let i = 0; i < n; i++) {
        const given = b.ids?.[i];
        const seq = given === undefined ? idSeq++ : -1;
        const id = seq >= 0 ? idPrefix + seq : String(given);
        ids.push(id);
        if (sampleRate < 1 && Math.random() >= sampleRate) {
          stats.sampledOut++;
          continue;
        }
        if (closed) {
          buffer.dropped++;
          continue;
        }
        if (buffer.push(b.features[i], seq, id, ts, b.predictions[i], b.scores?.[i], b.latencyMs, b.segment, b.embeddings?.[i])) stats.recorded++;
      }
    } catch (e) {
      warnOnce('record', `recordBatch() failed: ${(e as Error).message}`);
    }
    return ids;
  }

  function label(id: string, value: number | string | boolean, timestamp?: number): void {
    try {
      if (closed) {
        buffer.dropped++;
        return;
      }
      if ((typeof id !== 'string' && typeof id !== 'number') || id === '') {
        warnOnce('label-id', `label id must be a non-empty string, got ${id === '' ? 'an empty string' : typeof id}; label skipped`);
        return;
      }
      if (typeof value !== 'number' && typeof value !== 'string' && typeof value !== 'boolean') {
        warnOnce('label-type', `label value must be a number, string or boolean, got ${typeof value}; label skipped`);
        return;
      }
      if (buffer.label(String(id), value, timestamp === undefined ? Date.now() : timeOf(timestamp))) stats.recorded++;
    } catch (e) {
      warnOnce('label', `label() failed: ${(e as Error).message}`);
    }
  }

  function wrap<A extends unknown[], R>(fn: (...args: A) => R, w: WrapOptions<A, R>): (...args: A) => R {
    const finish = (args: A, result: Awaited<R>, features: Record<string, FeatureValue> | undefined, id: string | undefined, t0: number, embeddings: Record<string, EmbeddingValue> | undefined) => {
      try {
        const latencyMs = performance.now() - t0;
        if (features === undefined) return;
        const prediction = w.prediction ? w.prediction(result) : (result as unknown as number | string | boolean);
        record({ features, prediction, score: w.score?.(result), latencyMs, id, segment: w.segment?.(...args), embeddings });
      } catch (e) {
        warnOnce('wrap', `could not record a wrapped call: ${(e as Error).message}`);
      }
    };
    return function wrapped(this: unknown, ...args: A): R {
      let features: Record<string, FeatureValue> | undefined;
      let id: string | undefined;
      let embeddings: Record<string, EmbeddingValue> | undefined;
      try {
        features = w.features(...args);
        id = w.id?.(...args);
        embeddings = w.embeddings?.(...args);
      } catch (e) {
        warnOnce('wrap', `the features/id extractor threw: ${(e as Error).message}; the call is not recorded`);
      }
      const t0 = performance.now();
      let result: R;
      try {
        result = fn.apply(this, args);
      } catch (e) {
        stats.errors++;
        throw e;
      }
      if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
        return (result as unknown as PromiseLike<Awaited<R>>).then(
          (value) => {
            finish(args, value, features, id, t0, embeddings);
            return value;
          },
          (err: unknown) => {
            stats.errors++;
            throw err;
          },
        ) as R;
      }
      finish(args, result as Awaited<R>, features, id, t0, embeddings);
      return result;
    };
  }

  return {
    record,
    recordBatch,
    wrap,
    label,
    labels(items: LabelInput[]): void {
      try {
        for (const l of items) label(l.id, l.value, l.timestamp);
      } catch (e) {
        warnOnce('label', `labels() failed: ${(e as Error).message}`);
      }
    },
    flush,
    shutdown,
    stats(): MonitorStats {
      return { ...stats, dropped: buffer.dropped, invalid: buffer.invalid, queuedBytes: buffer.bytes };
    },
  };
}

/** A timestamp given as epoch ms or a Date; anything else is now. */
function timeOf(t: unknown): number {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'number' ? t : NaN;
  return ms >= 0 && ms < 1e14 ? ms : Date.now();
}

function countRows(b: Batch): number {
  let n = b.labels.length;
  for (const c of b.chunks) n += c.n;
  return n;
}
