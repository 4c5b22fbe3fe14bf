// OTLP logs -> prediction and label rows. Both encodings are brought to the OTLP/JSON shape first
// (protobuf via protobufjs' toObject), so validation is written once. A bad record is rejected with
// the path of the offending field; the rest of its batch is kept (OTLP partial success).
import { ExportLogsServiceRequest, TO_JSON_SHAPE } from '../../otlp/schema.js';
import { ATTR, EVENT_LABEL, EVENT_PREDICTION, type AnyValue, type ExportLogsServiceRequest as Req, type KeyValue, type LogRecord } from '../../otlp/types.js';
import { BadRequest, type Encoding } from './body.js';
import type { DecodedBatch, LabelRow, PredictionRow } from './records.js';

export interface Limits {
  maxFeatures: number;
  maxStringBytes: number;
}

export const DEFAULT_LIMITS: Limits = { maxFeatures: 500, maxStringBytes: 4096 };

export function parseLogsRequest(body: Uint8Array, encoding: Encoding): Req {
  if (encoding === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    } catch (e) {
      throw new BadRequest(`body is not valid JSON: ${(e as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new BadRequest('body must be a JSON object (ExportLogsServiceRequest)');
    }
    const rl = (parsed as Req).resourceLogs;
    if (rl !== undefined && !Array.isArray(rl)) throw new BadRequest('resourceLogs: must be an array');
    return parsed as Req;
  }
  try {
    return ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(body), TO_JSON_SHAPE) as Req;
  } catch (e) {
    throw new BadRequest(`body is not a valid ExportLogsServiceRequest protobuf: ${(e as Error).message}`);
  }
}

/** A field error inside one record: rejects that record only. */
class FieldError extends Error {
  constructor(readonly field: string, reason: string) {
    super(reason);
  }
}

type Scalar = { kind: 'number'; v: number } | { kind: 'string'; v: string } | { kind: 'missing' };

function scalar(value: AnyValue | undefined, field: string, limits: Limits): Scalar {
  if (value === undefined || value === null || typeof value !== 'object') return { kind: 'missing' };
  if (value.stringValue !== undefined) {
    if (typeof value.stringValue !== 'string') throw new FieldError(field, 'stringValue must be a string');
    if (Buffer.byteLength(value.stringValue) > limits.maxStringBytes) {
      throw new FieldError(field, `string longer than ${limits.maxStringBytes} bytes`);
    }
    return { kind: 'string', v: value.stringValue };
  }
  if (value.doubleValue !== undefined) return { kind: 'number', v: toNumber(value.doubleValue, field, 'doubleValue') };
  if (value.intValue !== undefined) return { kind: 'number', v: toNumber(value.intValue, field, 'intValue') };
  if (value.boolValue !== undefined) {
    if (typeof value.boolValue !== 'boolean') throw new FieldError(field, 'boolValue must be a boolean');
    return { kind: 'string', v: String(value.boolValue) };
  }
  if (value.arrayValue !== undefined) throw new FieldError(field, 'array values are not supported here');
  if (value.kvlistValue !== undefined) throw new FieldError(field, 'key-value lists are not supported here');
  if (value.bytesValue !== undefined) throw new FieldError(field, 'bytes values are not supported here');
  return { kind: 'missing' };
}

// Proto3 JSON writes 64-bit ints as strings and non-finite doubles as "NaN"/"Infinity"/"-Infinity".
function toNumber(v: unknown, field: string, kind: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  }
  throw new FieldError(field, `${kind} must be a number, got ${JSON.stringify(v)?.slice(0, 40)}`);
}

function nanosToMillis(v: string | number | undefined): number | undefined {
  if (v === undefined || v === null || v === '' || v === '0' || v === 0) return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) return undefined;
  return Math.floor(n / 1e6);
}

let idCounter = 0;
const idPrefix = `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
function generatedId(): string {
  return `${idPrefix}-${(idCounter++).toString(36)}`;
}

function attrMap(attrs: KeyValue[] | undefined, where: string): Map<string, { value: AnyValue | undefined; path: string }> {
  const m = new Map<string, { value: AnyValue | undefined; path: string }>();
  if (attrs === undefined) return m;
  if (!Array.isArray(attrs)) throw new FieldError(`${where}.attributes`, 'must be an array');
  attrs.forEach((kv, i) => {
    if (!kv || typeof kv.key !== 'string') throw new FieldError(`${where}.attributes[${i}].key`, 'must be a string');
    m.set(kv.key, { value: kv.value, path: `${where}.attributes["${kv.key}"]` });
  });
  return m;
}

function str(m: ReturnType<typeof attrMap>, key: string, limits: Limits): string | undefined {
  const a = m.get(key);
  if (!a) return undefined;
  const s = scalar(a.value, a.path, limits);
  if (s.kind === 'missing') return undefined;
  if (s.kind === 'number') return String(s.v);
  return s.v;
}

function num(m: ReturnType<typeof attrMap>, key: string, limits: Limits): number {
  const a = m.get(key);
  if (!a) return NaN;
  const s = scalar(a.value, a.path, limits);
  if (s.kind === 'missing') return NaN;
  if (s.kind === 'string') throw new FieldError(a.path, 'must be a number');
  return s.v;
}

function eventName(rec: LogRecord, attrs: ReturnType<typeof attrMap>, limits: Limits): string | undefined {
  if (typeof rec.eventName === 'string' && rec.eventName !== '') return rec.eventName;
  // Older SDKs carry the event name as an attribute.
  return str(attrs, 'event.name', limits);
}

/** Validates and converts every record; never throws for a single bad record. */
export function decodeLogs(req: Req, limits: Limits = DEFAULT_LIMITS, now = Date.now()): DecodedBatch {
  const out: DecodedBatch = { predictions: [], labels: [], rejected: [] };
  const resourceLogs = req.resourceLogs ?? [];
  resourceLogs.forEach((rl, ri) => {
    const rPath = `resourceLogs[${ri}]`;
    let resource: ReturnType<typeof attrMap>;
    try {
      resource = attrMap(rl?.resource?.attributes, `${rPath}.resource`);
    } catch (e) {
      const fe = e as FieldError;
      const count = (rl?.scopeLogs ?? []).reduce((n, s) => n + (s?.logRecords?.length ?? 0), 0);
      for (let i = 0; i < Math.max(count, 1); i++) out.rejected.push({ path: fe.field, reason: fe.message });
      return;
    }
    const scopeLogs = Array.isArray(rl?.scopeLogs) ? rl.scopeLogs : [];
    scopeLogs.forEach((sl, si) => {
      const records = Array.isArray(sl?.logRecords) ? sl.logRecords : [];
      records.forEach((rec, li) => {
        const path = `${rPath}.scopeLogs[${si}].logRecords[${li}]`;
        try {
          decodeRecord(rec, path, resource, limits, now, out);
        } catch (e) {
          if (e instanceof FieldError) out.rejected.push({ path: e.field, reason: e.message });
          else out.rejected.push({ path, reason: (e as Error).message });
        }
      });
    });
  });
  return out;
}

function decodeRecord(
  rec: LogRecord,
  path: string,
  resource: ReturnType<typeof attrMap>,
  limits: Limits,
  now: number,
  out: DecodedBatch,
): void {
  if (rec === null || typeof rec !== 'object') throw new FieldError(path, 'must be an object');
  const attrs = attrMap(rec.attributes, path);
  const get = (key: string) => str(attrs, key, limits) ?? str(resource, key, limits);
  const event = eventName(rec, attrs, limits);
  if (event !== EVENT_PREDICTION && event !== EVENT_LABEL) {
    throw new FieldError(`${path}.eventName`, `must be "${EVENT_PREDICTION}" or "${EVENT_LABEL}", got ${JSON.stringify(event ?? '')}`);
  }
  const model = get(ATTR.model);
  if (!model) throw new FieldError(`${path}.attributes["${ATTR.model}"]`, 'missing (set it on the record or the resource)');
  const ts = nanosToMillis(rec.timeUnixNano) ?? nanosToMillis(rec.observedTimeUnixNano) ?? now;

  if (event === EVENT_LABEL) {
    const id = get(ATTR.id);
    if (!id) throw new FieldError(`${path}.attributes["${ATTR.id}"]`, 'missing: a label must name the prediction it belongs to');
    const label = str(attrs, ATTR.label, limits);
    if (label === undefined) throw new FieldError(`${path}.attributes["${ATTR.label}"]`, 'missing');
    const row: LabelRow = { model, id, ts, label };
    out.labels.push(row);
    return;
  }

  const predAttr = attrs.get(ATTR.prediction);
  if (!predAttr) throw new FieldError(`${path}.attributes["${ATTR.prediction}"]`, 'missing');
  const pred = scalar(predAttr.value, predAttr.path, limits);
  if (pred.kind === 'missing') throw new FieldError(predAttr.path, 'missing value');

  const row: PredictionRow = {
    model,
    version: get(ATTR.version) ?? 'unversioned',
    ts,
    id: get(ATTR.id) ?? generatedId(),
    prediction: pred.kind === 'number' ? String(pred.v) : pred.v,
    predictionNum: pred.kind === 'number' ? pred.v : NaN,
    score: num(attrs, ATTR.score, limits),
    latencyMs: num(attrs, ATTR.latency, limits),
    num: {},
    cat: {},
    segment: {},
  };
  let features = 0;
  for (const [key, a] of attrs) {
    if (key.startsWith(ATTR.featurePrefix)) {
      const name = key.slice(ATTR.featurePrefix.length);
      if (name === '') throw new FieldError(a.path, 'feature name is empty');
      if (++features > limits.maxFeatures) throw new FieldError(a.path, `more than ${limits.maxFeatures} features`);
      const s = scalar(a.value, a.path, limits);
      if (s.kind === 'number') row.num[name] = s.v;
      else if (s.kind === 'string') row.cat[name] = s.v;
      else row.num[name] = NaN; // missing, type unknown: counted as a missing value
    } else if (key.startsWith(ATTR.segmentPrefix)) {
      const s = scalar(a.value, a.path, limits);
      if (s.kind !== 'missing') row.segment[key.slice(ATTR.segmentPrefix.length)] = String(s.v);
    }
  }
  out.predictions.push(row);
}
