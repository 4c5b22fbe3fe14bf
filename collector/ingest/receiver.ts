// OTLP/HTTP receivers (POST /v1/logs, POST /v1/metrics). They answer in the request's encoding; a
// record that fails validation is rejected alone (partial success names it and the reason); a
// body that cannot be decoded at all, or whose every record is rejected, is a 400 with a
// google.rpc.Status message; 429/503 + Retry-After when the collector cannot take data now.
import type { Context } from 'hono';
import type protobuf from 'protobufjs';
import { ExportLogsServiceResponse, ExportMetricsServiceResponse, Status } from '../../otlp/schema.js';
import { BadRequest, decompress, encodingOf, type Encoding } from './body.js';
import { BodyTooLarge, joined, readBody } from './read-body.js';
import { decodeLogs, parseLogsRequest, type Limits } from './otlp-logs.js';
import { encodeLogsProtobuf } from './otlp-logs-protobuf.js';
import { selectPredictions, type EncodedPredictions } from './encoded.js';
import { decodeMetrics, parseMetricsRequest } from './otlp-metrics.js';
import type { Rejection } from './records.js';
import { Backpressure, type WriteBatch } from '../store/writer.js';
import type { CardinalityGuard } from './cardinality.js';
import { EmbeddingDims, type RequestDims } from './embeddings.js';

export interface ReceiverDeps {
  limits: Limits;
  maxBodyBytes: number;
  store(batch: WriteBatch): Promise<void>;
  /** May the request's credentials write this model? (Records for other models are rejected.) */
  authorize?(c: Context, model: string): boolean;
  /** Cardinality limits on model and feature names (records beyond them are rejected by name). */
  guard?: CardinalityGuard;
  onRequest?(signal: 'logs' | 'metrics', status: number, counts?: BatchCounts, rejected?: Rejection[], seconds?: number): void;
}

/** A request's records: `encoded` holds its predictions when they were decoded straight into RowBinary. */
interface Decoded { batch: WriteBatch; encoded?: EncodedPredictions; accepted: number; rejected: Rejection[] }

/** Records per kind in a request's batch (what the request metrics count); absent: the batch had no such list. */
export interface BatchCounts { predictions?: number; labels?: number; metrics?: number }

interface Signal {
  name: 'logs' | 'metrics';
  decode(body: Uint8Array, enc: Encoding, limits: Limits): Decoded;
  response: protobuf.Type;
  rejectedField: string;
}

const LOGS: Signal = {
  name: 'logs',
  decode(body, enc, limits) {
    if (enc === 'protobuf') {
      // The SDKs' encoding, and the hot path: predictions go straight into the rows the store takes.
      const d = encodeLogsProtobuf(body, limits);
      return { batch: { labels: d.labels }, encoded: d.predictions, accepted: d.predictions.models.length + d.labels.length, rejected: d.rejected };
    }
    const d = decodeLogs(parseLogsRequest(body, enc), limits);
    return { batch: d, accepted: d.predictions.length + d.labels.length, rejected: d.rejected };
  },
  response: ExportLogsServiceResponse,
  rejectedField: 'rejectedLogRecords',
};

const METRICS: Signal = {
  name: 'metrics',
  decode(body, enc) {
    const d = decodeMetrics(parseMetricsRequest(body, enc));
    return { batch: { metrics: d.points }, accepted: d.points.length, rejected: d.rejected };
  },
  response: ExportMetricsServiceResponse,
  rejectedField: 'rejectedDataPoints',
};

const MAX_MESSAGES = 20;

export function summarize(rejected: Rejection[]): string {
  const shown = rejected.slice(0, MAX_MESSAGES).map((r) => `${r.path}: ${r.reason}`);
  const more = rejected.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

type Status = 200 | 400 | 403 | 413 | 415 | 429 | 503;

function respond(c: Context, s: Signal, status: Status, enc: Encoding, body: { partial?: { rejected: number; message: string }; error?: string }) {
  const code = status >= 429 ? 14 /* UNAVAILABLE */ : 3; /* INVALID_ARGUMENT */
  if (enc === 'protobuf') {
    const bytes =
      body.error !== undefined
        ? Status.encode({ code, message: body.error }).finish()
        : s.response.encode(body.partial ? { partialSuccess: { [s.rejectedField]: body.partial.rejected, errorMessage: body.partial.message } } : {}).finish();
    return c.body(bytes as Uint8Array<ArrayBuffer>, status, { 'content-type': 'application/x-protobuf' });
  }
  const json =
    body.error !== undefined
      ? { code, message: body.error }
      : body.partial
        ? { partialSuccess: { [s.rejectedField]: String(body.partial.rejected), errorMessage: body.partial.message } }
        : {};
  return c.json(json, status);
}

const NOT_ALLOWED = 'this API key may not write that model';

function authorizeRecords(d: Decoded, allowed: (model: string) => boolean): Decoded {
  const rejected = [...d.rejected];
  const ok = new Map<string, boolean>();
  const may = (model: string, what: string) => {
    let a = ok.get(model);
    if (a === undefined) ok.set(model, (a = allowed(model)));
    if (!a) rejected.push({ path: `${what} of model "${model}"`, reason: NOT_ALLOWED });
    return a;
  };
  const keep = <T extends { model: string }>(rows: T[] | undefined, what: string): T[] | undefined => rows?.filter((r) => may(r.model, what));
  // Predictions (as rows or encoded), then labels, then data points: rejections in that order.
  const predictions = keep(d.batch.predictions, 'prediction');
  const e = d.encoded;
  const encoded = e && selectPredictions(e, (i) => may(e.models[i], 'prediction'));
  const batch: WriteBatch = { predictions, labels: keep(d.batch.labels, 'label'), metrics: keep(d.batch.metrics, 'data point') };
  const accepted = (batch.predictions?.length ?? 0) + (encoded?.models.length ?? 0) + (batch.labels?.length ?? 0) + (batch.metrics?.length ?? 0);
  return { batch, encoded, accepted, rejected };
}

/**
 * The limits as one request sees them: the embedding dimensions it decodes are claimed while it
 * runs and accepted once its rows are stored (see EmbeddingDims.request); `done` ends that.
 */
function requestLimits(limits: Limits): { limits: Limits; done: RequestDims['done'] } {
  if (!(limits.embeddingDims instanceof EmbeddingDims)) return { limits, done: () => {} };
  const dims = limits.embeddingDims.request();
  return { limits: { ...limits, embeddingDims: dims }, done: dims.done };
}

/**
 * Hands the decoded rows to the writer and lets go of them: the writer encodes them at once and
 * keeps only their bytes. Its own function, so that no variable of the request's async handler
 * refers to the rows while the insert runs (100-500 ms under load): a local of the handler, even one
 * not used after the await, is kept in its suspended frame, and rows held that way survived
 * young-generation GCs into the old generation (GC was the JS side's largest cost).
 */
function startStoring(d: Decoded, deps: ReceiverDeps): { storing: Promise<void>; counts: BatchCounts; withEmbeddings: { model: string; version: string; emb: Record<string, { length: number }> }[] } {
  const { batch, encoded } = d;
  const counts: BatchCounts = { predictions: batch.predictions?.length ?? encoded?.models.length, labels: batch.labels?.length, metrics: batch.metrics?.length };
  // What accepting the embeddings' dimensions needs (names and lengths), not the rows and vectors.
  const lengths = (emb: Record<string, ArrayLike<number>>) => Object.fromEntries(Object.entries(emb).map(([k, v]) => [k, { length: v.length }]));
  const withEmbeddings = (batch.predictions ?? []).flatMap((r) => (r.emb === undefined ? [] : [{ model: r.model, version: r.version, emb: lengths(r.emb) }]));
  if (encoded) {
    encoded.embs.forEach((emb, i) => {
      if (emb !== undefined) withEmbeddings.push({ model: encoded.models[i], version: encoded.versions[i], emb: lengths(emb) });
    });
  }
  const storing = deps.store(encoded ? { ...batch, encodedPredictions: encoded.block } : batch);
  d.batch = {};
  d.encoded = undefined;
  return { storing, counts, withEmbeddings };
}

function receiver(s: Signal, deps: ReceiverDeps) {
  return async function receive(c: Context) {
    const scoped = requestLimits(deps.limits);
    try {
      return await handle(c, scoped);
    } finally {
      scoped.done(); // refused or failed: the request's claims go (stored rows were accepted below)
    }
  };

  // Its own function so that nothing in handle() holds the body (up to maxBodyBytes, off the heap)
  // while the insert runs: bodies held by the requests in flight made V8 collect far more often.
  async function decodeBody(c: Context, enc: Encoding, limits: Limits): Promise<Decoded> {
    const body = await readBody(c, deps.maxBodyBytes);
    // Joined, decompressed and decoded in one synchronous step: a reused buffer is not reused meanwhile.
    return s.decode(decompress(joined(body), c.req.header('content-encoding'), deps.maxBodyBytes), enc, limits);
  }

  async function handle(c: Context, scoped: ReturnType<typeof requestLimits>) {
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    const enc = encodingOf(c.req.header('content-type'));
    if (!enc) {
      deps.onRequest?.(s.name, 415);
      return c.json({ code: 3, message: 'Content-Type must be application/json or application/x-protobuf' }, 415);
    }
    let d: Decoded;
    try {
      d = await decodeBody(c, enc, scoped.limits);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        deps.onRequest?.(s.name, 413);
        return c.json({ code: 3, message: e.message }, 413);
      }
      if (e instanceof BadRequest || e instanceof RangeError) {
        deps.onRequest?.(s.name, 400);
        return respond(c, s, 400, enc, { error: (e as Error).message });
      }
      throw e;
    }
    if (deps.authorize) d = authorizeRecords(d, (model) => deps.authorize!(c, model));
    if (deps.guard && d.batch.predictions?.length) {
      const before = d.batch.predictions.length;
      d.batch.predictions = deps.guard.admit(d.batch.predictions, d.rejected);
      d.accepted -= before - d.batch.predictions.length;
    }
    if (deps.guard && d.encoded?.models.length) {
      const before = d.encoded.models.length;
      d.encoded = deps.guard.admitEncoded(d.encoded, d.rejected);
      d.accepted -= before - d.encoded.models.length;
    }
    if (d.accepted === 0 && d.rejected.length > 0) {
      if (d.rejected.every((r) => r.reason === NOT_ALLOWED)) {
        deps.onRequest?.(s.name, 403, undefined, d.rejected);
        return respond(c, s, 403, enc, { error: `this API key may not write: ${summarize(d.rejected)}` });
      }
      deps.onRequest?.(s.name, 400, undefined, d.rejected);
      return respond(c, s, 400, enc, { error: `all ${d.rejected.length} record(s) rejected: ${summarize(d.rejected)}` });
    }
    const { storing, counts, withEmbeddings } = startStoring(d, deps);
    try {
      await storing;
    } catch (e) {
      const status = e instanceof Backpressure && /queue/.test(e.message) ? 429 : 503;
      deps.onRequest?.(s.name, status, counts, d.rejected, elapsed());
      c.header('retry-after', '5');
      return respond(c, s, status, enc, { error: `not stored, retry later: ${(e as Error).message}` });
    }
    // Stored (or spooled): the embeddings' dimensions now hold for later requests.
    scoped.done(withEmbeddings);
    deps.onRequest?.(s.name, 200, counts, d.rejected, elapsed());
    if (d.rejected.length > 0) return respond(c, s, 200, enc, { partial: { rejected: d.rejected.length, message: summarize(d.rejected) } });
    return respond(c, s, 200, enc, {});
  }
}

export const logsReceiver = (deps: ReceiverDeps) => receiver(LOGS, deps);
export const metricsReceiver = (deps: ReceiverDeps) => receiver(METRICS, deps);
