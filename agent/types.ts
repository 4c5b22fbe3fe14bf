// The SDK's public types.
import type { MeterProvider } from '@opentelemetry/api';

export type FeatureValue = number | string | boolean | null | undefined;

/**
 * A vector feature (an embedding): a Float32Array, Float64Array (or any numeric typed array) or an
 * array of numbers, 1..MAX_EMBEDDING_DIMS long. Sent as `ml.embedding.<name>`.
 */
export type EmbeddingValue = ArrayLike<number>;

export interface PredictionInput {
  /** Prediction id, used to join the label later; generated when absent. */
  id?: string;
  /**
   * Feature values by name. Numbers are numerical features, strings and booleans categorical,
   * null/undefined missing. Records whose features come with the same keys in the same order share
   * a cached layout (the fast path).
   */
  features: Record<string, FeatureValue>;
  /**
   * Vector features by name (e.g. { text: Float32Array(384) }): drift is the distance between the
   * baseline's and the window's centroids. Every record of a model version must give an embedding
   * the same dimension (the collector rejects others by name). A value that is not an array of
   * numbers, or is empty or longer than 4096, is left out and counted in `invalid`.
   */
  embeddings?: Record<string, EmbeddingValue>;
  prediction: number | string | boolean;
  /** Probability / confidence of the prediction, if the model has one. */
  score?: number;
  latencyMs?: number;
  /** Slicing keys (e.g. { country: 'DE' }). */
  segment?: Record<string, string | number | boolean>;
  /** When the prediction was made (epoch ms); defaults to now. */
  timestamp?: number;
}

/** Many predictions of one model call, row by row. */
export interface PredictionBatch {
  features: Record<string, FeatureValue>[];
  /** Vector features of each row (see PredictionInput.embeddings). */
  embeddings?: ArrayLike<Record<string, EmbeddingValue> | undefined>;
  predictions: ArrayLike<number | string | boolean>;
  scores?: ArrayLike<number>;
  ids?: ArrayLike<string>;
  /** Latency of the whole call; recorded on every row. */
  latencyMs?: number;
  segment?: Record<string, string | number | boolean>;
  timestamp?: number;
}

export interface LabelInput {
  id: string;
  value: number | string | boolean;
  timestamp?: number;
}

export interface WrapOptions<A extends unknown[], R> {
  /** The features of a call, from its arguments (read before the call). */
  features: (...args: A) => Record<string, FeatureValue>;
  /** The prediction id of a call, from its arguments; generated when absent. */
  id?: (...args: A) => string | undefined;
  /** The prediction value from the result; by default the result itself (when a number, string or boolean). */
  prediction?: (result: Awaited<R>) => number | string | boolean;
  score?: (result: Awaited<R>) => number | undefined;
  segment?: (...args: A) => Record<string, string | number | boolean> | undefined;
  /** The vector features of a call, from its arguments (read before the call). */
  embeddings?: (...args: A) => Record<string, EmbeddingValue> | undefined;
}

export type RedactMode = 'drop' | 'hash';

export interface MonitorOptions {
  model: string;
  version?: string;
  /** Collector base URL, e.g. http://127.0.0.1:4318 (the SDK appends /v1/logs). */
  endpoint: string;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Extra HTTP headers on every export request. */
  headers?: Record<string, string>;
  /** Export encoding; protobuf by default. */
  encoding?: 'protobuf' | 'json';
  /** gzip request bodies (default: true, except to a loopback endpoint, where it costs CPU and saves nothing). */
  gzip?: boolean;
  /** Upper bound of buffered telemetry in bytes, in flight included (default 64 MB); new records are dropped beyond it. */
  maxBufferBytes?: number;
  /** How often partly filled batches are sent (default 1000 ms). */
  flushIntervalMs?: number;
  /** Records per export request (default 2000). */
  maxBatchSize?: number;
  /** Export requests in flight at once (default 16, at most 64). */
  maxConcurrentExports?: number;
  /** Fraction of predictions recorded, 0..1 (labels are always kept). */
  sampleRate?: number;
  /** Features removed (`drop`) or replaced by a salted SHA-256 hex digest (`hash`, sent as a string) before export. */
  redact?: Record<string, RedactMode>;
  /** Salt for `hash` redaction (default: none). */
  redactSalt?: string;
  /** Time allowed for one export request (default 10 s). */
  timeoutMs?: number;
  /** A failing batch is retried with backoff until this long after its first attempt (default 60 s). */
  retryDeadlineMs?: number;
  /** First backoff delay (default 500 ms); doubles per retry up to `retryMaxMs` (default 30 s), with jitter. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Strings (features, predictions, segments) longer than this many characters are cut (default 1024). */
  maxStringLength?: number;
  /** Encode and export on a worker thread (default true); false runs the pipeline in-thread. */
  worker?: boolean;
  /** Flush on SIGTERM (then re-raise it) and on `beforeExit` (default false). */
  exitHook?: boolean;
  /** Where the SDK's own metrics go; default: the global MeterProvider, if the application registered one. */
  meterProvider?: MeterProvider;
  /**
   * The SDK's own metrics when no MeterProvider is given or registered: `global` (default) reports
   * none then (see `stats()`); `otlp` starts a private MeterProvider (never registered globally) that
   * pushes them to the collector's /v1/metrics every `metricsIntervalMs` (default 60 s); `off` never
   * reports any.
   */
  metrics?: 'global' | 'otlp' | 'off';
  metricsIntervalMs?: number;
}

export interface MonitorStats {
  /** Records (predictions and labels) accepted into the buffer. */
  recorded: number;
  /** Records the collector accepted. */
  exported: number;
  /** Records refused because the buffer was full (or the monitor shut down). */
  dropped: number;
  /** Records that did not reach the collector (not retryable, retries exhausted) or that it rejected. */
  failed: number;
  /** Export retries. */
  retried: number;
  /** Buffered bytes (in flight included), bounded by maxBufferBytes. */
  queuedBytes: number;
  /** Predictions skipped by sampling. */
  sampledOut: number;
  /** Values that could not be sent as given (recorded as missing or skipped). */
  invalid: number;
  /** Wrapped calls that threw (not recorded as predictions). */
  errors: number;
}

export interface Monitor {
  /** Captures one prediction; never throws, never blocks. Returns the prediction id. */
  record(p: PredictionInput): string;
  /** Captures the rows of one batched model call; returns their ids. */
  recordBatch(b: PredictionBatch): string[];
  /** Returns `fn` timed and recorded: same arguments, same result or error, sync or async. */
  wrap<A extends unknown[], R>(fn: (...args: A) => R, options: WrapOptions<A, R>): (...args: A) => R;
  /** Adds the ground truth for a prediction recorded earlier (possibly by another process). */
  label(id: string, value: number | string | boolean, timestamp?: number): void;
  labels(items: LabelInput[]): void;
  /** Sends everything buffered; resolves when done or after `timeoutMs` (never rejects). */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes (within `timeoutMs`, default 5 s) and stops; idempotent. */
  shutdown(timeoutMs?: number): Promise<void>;
  stats(): MonitorStats;
}
