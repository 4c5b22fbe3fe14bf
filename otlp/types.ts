// OTLP/JSON shapes (camelCase, as the spec's JSON encoding writes them). Decoded protobuf is
// converted to the same shape, so one validator serves both encodings.
export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number | string;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
}
export interface KeyValue { key: string; value?: AnyValue }
export interface LogRecord {
  timeUnixNano?: string | number;
  observedTimeUnixNano?: string | number;
  severityNumber?: number;
  severityText?: string;
  body?: AnyValue;
  attributes?: KeyValue[];
  eventName?: string;
}
export interface ScopeLogs { scope?: { name?: string; version?: string }; logRecords?: LogRecord[] }
export interface ResourceLogs { resource?: { attributes?: KeyValue[] }; scopeLogs?: ScopeLogs[] }
export interface ExportLogsServiceRequest { resourceLogs?: ResourceLogs[] }
export interface ExportLogsPartialSuccess { rejectedLogRecords?: number | string; errorMessage?: string }

/** The Driftwatch record conventions on top of OTLP logs (see README "Telemetry conventions"). */
export const EVENT_PREDICTION = 'ml.prediction';
export const EVENT_LABEL = 'ml.label';
export const ATTR = {
  model: 'ml.model.name',
  version: 'ml.model.version',
  id: 'ml.prediction.id',
  featurePrefix: 'ml.feature.',
  segmentPrefix: 'ml.segment.',
  /** A vector feature (an embedding): an arrayValue of numbers, one dimension per model version. */
  embeddingPrefix: 'ml.embedding.',
  prediction: 'ml.prediction.value',
  score: 'ml.prediction.score',
  latency: 'ml.prediction.latency_ms',
  label: 'ml.label.value',
} as const;
