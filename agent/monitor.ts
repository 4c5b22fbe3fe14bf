// createMonitor: the hot path copies a prediction into a bounded queue and returns; a timer
// (unref'd, so it never keeps the process alive) encodes and exports batches in the background.
import { metrics, type Histogram } from '@opentelemetry/api';
import { BoundedQueue } from './buffer.js';
import { encodeRequest, type Entry } from './encode.js';
import { exportBatch, warnOnce, type ExportTarget } from './exporter.js';
import type { FeatureValue, Monitor, MonitorOptions, MonitorStats, PredictionInput } from './types.js';

export const SDK_VERSION = '0.1.0';

const DEFAULTS = {
  version: 'unversioned',
  encoding: 'protobuf' as const,
  maxBufferBytes: 64 * 1024 * 1024,
  flushIntervalMs: 1000,
  maxBatchSize: 2000,
  sampleRate: 1,
  timeoutMs: 10_000,
  gzip: true,
};

// Ids are unique per process without crypto on the hot path: a random prefix and a counter.
const idPrefix = Math.random().toString(36).slice(2, 10);
let idSeq = 0;

// A rough byte estimate, cheap enough for the hot path: keys and strings by length, numbers as 8.
function estimate(features: Record<string, FeatureValue>): number {
  let n = 96;
  for (const k in features) {
    const v = features[k];
    n += k.length + 16 + (typeof v === 'string' ? v.length : 8);
  }
  return n;
}

export function createMonitor(options: MonitorOptions): Monitor {
  const o = { ...DEFAULTS, ...stripUndefined(options), model: options.model, endpoint: options.endpoint };
  const queue = new BoundedQueue<Entry>(o.maxBufferBytes);
  const target: ExportTarget = {
    url: o.endpoint.replace(/\/+$/, '') + '/v1/logs',
    encoding: o.encoding,
    apiKey: o.apiKey,
    gzip: o.gzip,
    timeoutMs: o.timeoutMs,
    maxRetries: 5,
    retryBaseMs: 200,
  };
  const resource = { model: o.model, version: o.version, sdkVersion: SDK_VERSION };
  const stats = { recorded: 0, exported: 0, failed: 0, retried: 0 };
  const attrs = { 'ml.model.name': o.model, 'ml.model.version': o.version };
  let latency: Histogram | undefined;
  try {
    latency = metrics.getMeter('driftwatch-agent', SDK_VERSION).createHistogram('ml.prediction.duration', {
      unit: 's',
      description: 'Model prediction latency',
    });
  } catch {
    latency = undefined;
  }

  let inflight: Promise<void> | undefined;
  let closed = false;
  const timer = setInterval(() => void drain(), o.flushIntervalMs);
  timer.unref();

  async function sendOnce(): Promise<boolean> {
    const batch = queue.take(o.maxBatchSize);
    if (batch.length === 0) return false;
    try {
      const body = encodeRequest(batch, resource, o.encoding);
      const outcome = await exportBatch(body, target);
      stats.retried += outcome.retries;
      if (outcome.ok) {
        stats.exported += batch.length - outcome.rejected;
        stats.failed += outcome.rejected;
      } else {
        stats.failed += batch.length;
      }
    } catch (e) {
      stats.failed += batch.length;
      warnOnce('encode', `could not encode a batch: ${(e as Error).message}`);
    }
    return true;
  }

  // One export loop at a time; a flush waits for the running loop and then drains the rest.
  function drain(): Promise<void> {
    if (inflight) return inflight;
    inflight = (async () => {
      try {
        while (await sendOnce());
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  async function flush(): Promise<void> {
    try {
      while (queue.length > 0 || inflight) await drain();
    } catch {
      /* never rejects */
    }
  }

  return {
    record(p: PredictionInput): string {
      try {
        const id = p.id ?? `${idPrefix}-${(idSeq++).toString(36)}`;
        if (closed) return id;
        if (o.sampleRate < 1 && Math.random() >= o.sampleRate) return id;
        stats.recorded++;
        const features = { ...p.features }; // a copy: the caller may reuse its object
        queue.push(
          {
            kind: 'prediction',
            ts: p.timestamp ?? Date.now(),
            id,
            features,
            prediction: p.prediction,
            score: p.score,
            latencyMs: p.latencyMs,
            segment: p.segment,
          },
          estimate(features),
        );
        if (latency && p.latencyMs !== undefined) latency.record(p.latencyMs / 1000, attrs);
        return id;
      } catch (e) {
        warnOnce('record', `record() failed: ${(e as Error).message}`);
        return p?.id ?? '';
      }
    },
    label(id: string, value: number | string | boolean, timestamp?: number): void {
      try {
        if (closed) return;
        queue.push({ kind: 'label', ts: timestamp ?? Date.now(), id: String(id), value }, 64 + String(id).length);
      } catch (e) {
        warnOnce('label', `label() failed: ${(e as Error).message}`);
      }
    },
    flush,
    async shutdown(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await flush();
    },
    stats(): MonitorStats {
      return { ...stats, dropped: queue.dropped, queuedBytes: queue.bytes };
    },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
