// A reference OTLP encoder for tests: entries -> ExportLogsServiceRequest (one resource, one scope)
// built as plain objects and encoded by protobufjs from the schema, following the README's record
// conventions. The SDK's own hand-written encoder (agent/pipeline.ts) is checked against it.
import { ExportLogsServiceRequest } from '../../otlp/schema.js';
import { ATTR, EVENT_LABEL, EVENT_PREDICTION, type AnyValue, type KeyValue, type LogRecord } from '../../otlp/types.js';
import type { FeatureValue } from '../../agent/types.js';

export interface PredictionEntry {
  kind: 'prediction';
  ts: number;
  id: string;
  features: Record<string, FeatureValue>;
  prediction: number | string | boolean;
  score?: number;
  latencyMs?: number;
  segment?: Record<string, string | number | boolean>;
}
export interface LabelEntry { kind: 'label'; ts: number; id: string; value: number | string | boolean }
export type Entry = PredictionEntry | LabelEntry;

export interface Resource { model: string; version: string; sdkVersion: string }

function anyValue(v: FeatureValue): AnyValue | undefined {
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? { intValue: v } : { doubleValue: v };
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    default:
      return undefined; // null/undefined: sent as an attribute without value = missing
  }
}

// int64 attribute values hold only integers that fit; everything else is a double.
function numberValue(v: number): AnyValue {
  return Number.isSafeInteger(v) ? { intValue: v } : { doubleValue: v };
}

function nanos(ms: number): string {
  return `${Math.trunc(ms)}000000`;
}

function toLogRecord(e: Entry): LogRecord {
  const attributes: KeyValue[] = [{ key: ATTR.id, value: { stringValue: e.id } }];
  if (e.kind === 'label') {
    attributes.push({ key: ATTR.label, value: anyValue(e.value) });
    return { timeUnixNano: nanos(e.ts), eventName: EVENT_LABEL, attributes };
  }
  attributes.push({ key: ATTR.prediction, value: anyValue(e.prediction) });
  if (e.score !== undefined) attributes.push({ key: ATTR.score, value: { doubleValue: e.score } });
  if (e.latencyMs !== undefined) attributes.push({ key: ATTR.latency, value: { doubleValue: e.latencyMs } });
  for (const k in e.features) {
    const v = e.features[k];
    attributes.push({ key: ATTR.featurePrefix + k, value: typeof v === 'number' ? numberValue(v) : anyValue(v) });
  }
  if (e.segment) for (const k in e.segment) attributes.push({ key: ATTR.segmentPrefix + k, value: anyValue(e.segment[k]) });
  return { timeUnixNano: nanos(e.ts), eventName: EVENT_PREDICTION, attributes };
}

export function buildRequest(entries: Entry[], res: Resource) {
  return {
    resourceLogs: [
      {
        resource: {
          attributes: [
            { key: ATTR.model, value: { stringValue: res.model } },
            { key: ATTR.version, value: { stringValue: res.version } },
            { key: 'telemetry.sdk.name', value: { stringValue: 'driftwatch' } },
            { key: 'telemetry.sdk.version', value: { stringValue: res.sdkVersion } },
          ],
        },
        scopeLogs: [{ scope: { name: 'driftwatch', version: res.sdkVersion }, logRecords: entries.map(toLogRecord) }],
      },
    ],
  };
}

// Proto3 JSON has no NaN/Infinity literals: it spells them as strings.
function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  return v;
}

export function encodeRequest(entries: Entry[], res: Resource, encoding: 'protobuf' | 'json'): Uint8Array {
  const req = buildRequest(entries, res);
  if (encoding === 'json') return Buffer.from(JSON.stringify(req, jsonReplacer));
  return ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req)).finish();
}
