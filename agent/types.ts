// The SDK's public types.
export type FeatureValue = number | string | boolean | null | undefined;

export interface PredictionInput {
  /** Prediction id, used to join the label later; generated when absent. */
  id?: string;
  features: Record<string, FeatureValue>;
  prediction: number | string | boolean;
  /** Probability / confidence of the prediction, if the model has one. */
  score?: number;
  latencyMs?: number;
  /** Slicing keys (e.g. { country: 'DE' }). */
  segment?: Record<string, string | number | boolean>;
  /** When the prediction was made (epoch ms); defaults to now. */
  timestamp?: number;
}

export interface MonitorOptions {
  model: string;
  version?: string;
  /** Collector base URL, e.g. http://127.0.0.1:4318 (the SDK appends /v1/logs). */
  endpoint: string;
  apiKey?: string;
  /** Export encoding; protobuf by default. */
  encoding?: 'protobuf' | 'json';
  /** Upper bound of buffered telemetry in bytes (estimated); new records are dropped beyond it. */
  maxBufferBytes?: number;
  flushIntervalMs?: number;
  /** Records per export request. */
  maxBatchSize?: number;
  /** Fraction of predictions recorded, 0..1 (labels are always kept). */
  sampleRate?: number;
  /** Time allowed for one export request. */
  timeoutMs?: number;
  gzip?: boolean;
}

export interface MonitorStats {
  recorded: number;
  exported: number;
  dropped: number;
  failed: number;
  retried: number;
  queuedBytes: number;
}

export interface Monitor {
  /** Captures one prediction; never throws, never blocks. Returns the prediction id. */
  record(p: PredictionInput): string;
  /** Adds the ground truth for a prediction recorded earlier (possibly by another process). */
  label(id: string, value: number | string | boolean, timestamp?: number): void;
  /** Sends everything buffered; resolves when done (never rejects). */
  flush(): Promise<void>;
  /** Flushes and stops; idempotent. */
  shutdown(): Promise<void>;
  stats(): MonitorStats;
}
