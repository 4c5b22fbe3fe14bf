// The collector's internal row shapes, after OTLP decoding and validation.
export interface PredictionRow {
  model: string;
  version: string;
  ts: number; // epoch milliseconds
  id: string;
  prediction: string;
  predictionNum: number; // NaN when the prediction is not a number
  score: number; // NaN when absent
  latencyMs: number; // NaN when absent
  num: Record<string, number>; // NaN = missing
  cat: Record<string, string>;
  segment: Record<string, string>;
  /** Vector features (ml.embedding.<name>), when the record has any. */
  emb?: Record<string, ArrayLike<number>>;
}

export interface LabelRow {
  model: string;
  id: string;
  ts: number;
  label: string;
}

export interface Rejection { path: string; reason: string }

export interface DecodedBatch {
  predictions: PredictionRow[];
  labels: LabelRow[];
  rejected: Rejection[];
}
