// OTLP logs -> prediction and label rows. Two front ends bring a request to the same small "record
// view" (event name, timestamps, typed attribute values): OTLP/JSON here, protobuf in
// otlp-logs-protobuf.ts (a direct wire reader, no intermediate message objects). The rules for turning
// a record into a row, and for rejecting it, are written once, in `recordToRow`. A bad record is
// rejected with the path of the offending field; the rest of its batch is kept (OTLP partial success).
import { ExportLogsServiceRequest } from '../../otlp/schema.js';
import { ATTR, EVENT_LABEL, EVENT_PREDICTION, type AnyValue, type ExportLogsServiceRequest as Req, type KeyValue } from '../../otlp/types.js';
import { parseExportRequest, type Encoding } from './body.js';
import type { DecodedBatch, LabelRow, PredictionRow } from './records.js';
import { EmbeddingDims, MAX_EMBEDDING_DIMS, MAX_EMBEDDINGS_PER_RECORD, type EmbeddingDimsView } from './embeddings.js';

export interface Limits {
  maxFeatures: number;
  maxStringBytes: number;
  /** Records older than this (the raw retention) would be dropped by the TTL: rejected instead. */
  maxAgeMs?: number;
  /** Records further in the future than this (clock skew) are rejected. */
  maxFutureMs?: number;
  /**
   * The dimension of each embedding per model version, across requests (the collector's, loaded
   * from the store); without it, dimensions are held consistent within each request only.
   */
  embeddingDims?: EmbeddingDimsView;
}

export const DEFAULT_LIMITS: Limits = { maxFeatures: 500, maxStringBytes: 4096, maxAgeMs: 30 * 86_400_000, maxFutureMs: 3_600_000 };

/** An attribute value as the validator sees it, whatever the encoding. */
// Plain numbers and strings, so decoding allocates nothing per attribute value; an arrayValue of
// numbers is one Float64Array (only accepted as an embedding).
export type AttrVal = number | string | Float64Array | typeof MISSING | Invalid;
export const MISSING: unique symbol = Symbol('missing');
export class Invalid {
  constructor(readonly reason: string) {}
}
/** An arrayValue that is not a vector of numbers (rejected for what it is only under ml.embedding.*). */
export class InvalidArray extends Invalid {}

/** The keys a record's head reads, by role number (0 is no role). */
const ROLE_KEYS = ['', 'event.name', ATTR.model, ATTR.version, ATTR.id, ATTR.prediction, ATTR.score, ATTR.latency, ATTR.label] as const;
const [, R_EVENT, R_MODEL, R_VERSION, R_ID, R_PREDICTION, R_SCORE, R_LATENCY, R_LABEL] = ROLE_KEYS.map((_, i) => i);
/** The roles of a prediction's id, value, score and latency (KeyKind.role), for record-shape.ts. */
export const ROLE = { id: R_ID, prediction: R_PREDICTION, score: R_SCORE, latency: R_LATENCY } as const;

/**
 * A record's (or resource's) attributes in arrival order: the first `size` entries of parallel
 * arrays (keys, values, kinds). Arrays rather than a Map: a Map per record, rehashed as it grows,
 * was most of the decoder's garbage; and `clear()` keeps their room, so one Attrs can be reused
 * record after record. The keys a record's head reads are found by role (byRole).
 */
export class Attrs {
  readonly keys: string[] = [];
  readonly vals: AttrVal[] = [];
  /** What each key is (feature, embedding, segment, other) and its name after the prefix. */
  readonly kinds: KeyKind[] = [];
  /**
   * Per role (the keys a record's head is read from: ROLE_KEYS), 1 + the index of its last
   * attribute, 0 if none: the head's eight lookups without a scan of every attribute.
   */
  private readonly roles = new Int32Array(ROLE_KEYS.length);
  size = 0;
  set(key: string, v: AttrVal, kind: KeyKind = keyKind(key)): void {
    this.keys[this.size] = key;
    this.vals[this.size] = v;
    this.kinds[this.size] = kind;
    this.size++;
    if (kind.role !== 0) this.roles[kind.role] = this.size;
  }
  /** The last value of the role's key (a repeated key reads its last value, as a Map would). */
  byRole(role: number): AttrVal | undefined {
    const i = this.roles[role];
    return i === 0 ? undefined : this.vals[i - 1];
  }
  clear(): void {
    this.size = 0;
    this.roles.fill(0);
  }
}

export const OTHER = 0, FEATURE = 1, EMBEDDING = 2, SEGMENT = 3;

/** An attribute key's kind, its name after the kind's prefix (a feature's name, say) and its role. */
export class KeyKind {
  readonly role: number;
  constructor(readonly kind: number, readonly name: string) {
    this.role = kind === OTHER ? Math.max(0, ROLE_KEYS.indexOf(name as (typeof ROLE_KEYS)[number])) : 0;
  }
}

// Attribute keys repeat on every record: each is classified once, not by startsWith and slice
// per attribute (20-feature records into RowBinary: 3.4 -> 2.8 us each, bench/README.md).
const kindsByKey = new Map<string, KeyKind>();
export function keyKind(key: string): KeyKind {
  let k = kindsByKey.get(key);
  if (k === undefined) {
    k = key.startsWith(ATTR.featurePrefix)
      ? new KeyKind(FEATURE, key.slice(ATTR.featurePrefix.length))
      : key.startsWith(ATTR.embeddingPrefix)
        ? new KeyKind(EMBEDDING, key.slice(ATTR.embeddingPrefix.length))
        : key.startsWith(ATTR.segmentPrefix)
          ? new KeyKind(SEGMENT, key.slice(ATTR.segmentPrefix.length))
          : new KeyKind(OTHER, key);
    if (kindsByKey.size < 100_000 && key.length <= 512) kindsByKey.set(key, k);
  }
  return k;
}

/**
 * Where a record is in its request, for error messages: a string, or an object that spells it only
 * when a message needs it (the protobuf decoder's, so that a valid record builds no path at all).
 */
export type FieldPath = string | { toString(): string };

export interface RecordView {
  eventName: string;
  timeMs?: number;
  observedMs?: number;
  attrs: Attrs;
}

/** A field error inside one record: rejects that record only. */
export class FieldError extends Error {
  constructor(readonly field: string, reason: string) {
    super(reason);
  }
}

export function parseLogsRequest(body: Uint8Array, encoding: Encoding): Req {
  return parseExportRequest<Req>(body, encoding, ExportLogsServiceRequest, 'resourceLogs');
}

// --- the OTLP/JSON front end ---------------------------------------------------------------

// Proto3 JSON writes 64-bit ints as strings and non-finite doubles as "NaN"/"Infinity"/"-Infinity".
function jsonNumber(v: unknown, kind: string): AttrVal {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  }
  return new Invalid(`${kind} must be a number, got ${JSON.stringify(v)?.slice(0, 40)}`);
}

export function jsonValue(value: AnyValue | undefined): AttrVal {
  if (value === undefined || value === null || typeof value !== 'object') return MISSING;
  if (value.stringValue !== undefined) {
    return typeof value.stringValue === 'string' ? value.stringValue : new Invalid('stringValue must be a string');
  }
  if (value.doubleValue !== undefined) return jsonNumber(value.doubleValue, 'doubleValue');
  if (value.intValue !== undefined) return jsonNumber(value.intValue, 'intValue');
  if (value.boolValue !== undefined) {
    return typeof value.boolValue === 'boolean' ? String(value.boolValue) : new Invalid('boolValue must be a boolean');
  }
  if (value.arrayValue !== undefined) return jsonArray(value.arrayValue);
  if (value.kvlistValue !== undefined) return UNSUPPORTED.kvlist;
  if (value.bytesValue !== undefined) return UNSUPPORTED.bytes;
  return MISSING;
}

/** An OTLP/JSON arrayValue: numbers only (doubleValue or intValue), 1..MAX_EMBEDDING_DIMS of them. */
function jsonArray(a: unknown): AttrVal {
  const values = (a as { values?: unknown } | null)?.values;
  if (values === undefined || values === null) return new InvalidArray('empty arrayValue');
  if (!Array.isArray(values)) return new InvalidArray('arrayValue.values must be an array');
  if (values.length === 0) return new InvalidArray('empty arrayValue');
  if (values.length > MAX_EMBEDDING_DIMS) return new InvalidArray(`arrayValue has ${values.length} elements, more than ${MAX_EMBEDDING_DIMS}`);
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const e = values[i] as AnyValue | null;
    const x = e === null || typeof e !== 'object' ? undefined : e.doubleValue !== undefined ? jsonNumber(e.doubleValue, 'doubleValue') : e.intValue !== undefined ? jsonNumber(e.intValue, 'intValue') : undefined;
    if (typeof x !== 'number') return new InvalidArray(`arrayValue element ${i} must be a number (doubleValue or intValue)${x instanceof Invalid ? `: ${x.reason}` : ''}`);
    out[i] = x;
  }
  return out;
}

export const UNSUPPORTED = {
  array: new Invalid('array values are not supported here'),
  kvlist: new Invalid('key-value lists are not supported here'),
  bytes: new Invalid('bytes values are not supported here'),
};

function jsonAttrs(attrs: KeyValue[] | undefined, where: string): Attrs {
  const m = new Attrs();
  if (attrs === undefined) return m;
  if (!Array.isArray(attrs)) throw new FieldError(`${where}.attributes`, 'must be an array');
  attrs.forEach((kv, i) => {
    if (!kv || typeof kv.key !== 'string') throw new FieldError(`${where}.attributes[${i}].key`, 'must be a string');
    m.set(kv.key, jsonValue(kv.value));
  });
  return m;
}

function jsonNanosToMs(v: string | number | undefined): number | undefined {
  if (v === undefined || v === null || v === '' || v === '0' || v === 0) return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) && n > 0 ? Math.floor(n / 1e6) : undefined;
}

/** Validates and converts every record of an OTLP/JSON-shaped request; never throws for a single bad record. */
export function decodeLogs(req: Req, givenLimits: Limits = DEFAULT_LIMITS, now = Date.now()): DecodedBatch {
  const out: DecodedBatch = { predictions: [], labels: [], rejected: [] };
  const limits = withEmbeddingDims(givenLimits);
  (req.resourceLogs ?? []).forEach((rl, ri) => {
    const rPath = `resourceLogs[${ri}]`;
    const scopeLogs = Array.isArray(rl?.scopeLogs) ? rl.scopeLogs : [];
    let resource: Attrs;
    try {
      resource = jsonAttrs(rl?.resource?.attributes, `${rPath}.resource`);
    } catch (e) {
      const count = scopeLogs.reduce((n, s) => n + (Array.isArray(s?.logRecords) ? s.logRecords.length : 0), 0);
      for (let i = 0; i < Math.max(count, 1); i++) out.rejected.push({ path: (e as FieldError).field, reason: (e as Error).message });
      return;
    }
    scopeLogs.forEach((sl, si) => {
      const records = Array.isArray(sl?.logRecords) ? sl.logRecords : [];
      records.forEach((rec, li) => {
        const path = `${rPath}.scopeLogs[${si}].logRecords[${li}]`;
        try {
          if (rec === null || typeof rec !== 'object') throw new FieldError(path, 'must be an object');
          const attrs = jsonAttrs(rec.attributes, path);
          const view: RecordView = {
            eventName: typeof rec.eventName === 'string' ? rec.eventName : '',
            timeMs: jsonNanosToMs(rec.timeUnixNano),
            observedMs: jsonNanosToMs(rec.observedTimeUnixNano),
            attrs,
          };
          recordToRow(view, path, resource, limits, now, out);
        } catch (e) {
          out.rejected.push(e instanceof FieldError ? { path: e.field, reason: e.message } : { path, reason: (e as Error).message });
        }
      });
    });
  });
  return out;
}

// --- shared: one record view -> one row ----------------------------------------------------

let idCounter = 0;
const idPrefix = `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
function generatedId(): string {
  return `${idPrefix}-${(idCounter++).toString(36)}`;
}

export function attrPath(path: FieldPath, key: string): string {
  return `${path}.attributes["${key}"]`;
}

// The resource's errors point at the resource (a record path without its scope and record part).
const resourcePath = (path: FieldPath) => String(path).replace(/\.scopeLogs.*$/, '.resource');

// Field paths are built only for an error: building one per attribute was most of the garbage.
export function checked(v: AttrVal, path: FieldPath, key: string, limits: Limits): AttrVal {
  if (typeof v === 'object') {
    if (v instanceof Invalid && !(v instanceof InvalidArray)) throw new FieldError(attrPath(path, key), v.reason);
    throw new FieldError(attrPath(path, key), `array values are not supported here (a vector goes in ${ATTR.embeddingPrefix}<name>)`);
  }
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings skip the byte count.
  if (typeof v === 'string' && tooLong(v, limits)) {
    throw new FieldError(attrPath(path, key), `string longer than ${limits.maxStringBytes} bytes`);
  }
  return v;
}

/** Whether a string is over the limit in UTF-8 (a UTF-16 code unit is at most 3 bytes: short strings skip the count). */
export function tooLong(s: string, limits: Limits): boolean {
  return s.length * 3 > limits.maxStringBytes && Buffer.byteLength(s) > limits.maxStringBytes;
}

/** Whether a record's timestamp is one the store would expire at once, or one from the future (clock skew). */
export function tooOld(ts: number, now: number, limits: Limits): boolean {
  return limits.maxAgeMs !== undefined && ts < now - limits.maxAgeMs;
}
export function tooNew(ts: number, now: number, limits: Limits): boolean {
  return limits.maxFutureMs !== undefined && ts > now + limits.maxFutureMs;
}

function textOf(v: AttrVal | undefined, path: FieldPath, key: string, limits: Limits): string | undefined {
  if (v === undefined) return undefined;
  const c = checked(v, path, key, limits);
  if (c === MISSING) return undefined;
  return typeof c === 'number' ? String(c) : (c as string);
}

function text(attrs: Attrs, role: number, path: FieldPath, limits: Limits): string | undefined {
  return textOf(attrs.byRole(role), path, ROLE_KEYS[role], limits);
}

// Record attributes win over the resource's.
function textOrResource(attrs: Attrs, resource: Attrs, role: number, path: FieldPath, limits: Limits): string | undefined {
  const own = text(attrs, role, path, limits);
  if (own !== undefined) return own;
  const v = resource.byRole(role);
  if (v === undefined) return undefined;
  const key = ROLE_KEYS[role];
  try {
    return textOf(v, path, key, limits);
  } catch (e) {
    throw e instanceof FieldError ? new FieldError(attrPath(resourcePath(path), key), e.message) : e;
  }
}

function number(attrs: Attrs, role: number, path: FieldPath, limits: Limits): number {
  const v = attrs.byRole(role);
  if (v === undefined) return NaN;
  const key = ROLE_KEYS[role];
  const c = checked(v, path, key, limits);
  if (c === MISSING) return NaN;
  if (typeof c === 'string') throw new FieldError(attrPath(path, key), 'must be a number');
  return c as number;
}

/** Dimensions held consistent within one request when the caller keeps none across requests. */
export function withEmbeddingDims(limits: Limits): Limits {
  return limits.embeddingDims !== undefined ? limits : { ...limits, embeddingDims: new EmbeddingDims() };
}

/** obj[name] = v, also for the name "__proto__" (an assignment would set the prototype, or nothing). */
function setOwn<T>(obj: Record<string, T>, name: string, v: T): void {
  if (name === '__proto__') Object.defineProperty(obj, name, { value: v, enumerable: true, writable: true, configurable: true });
  else obj[name] = v;
}

// A record's numbers: objects of one constructor, which V8 sizes, after its first few records, for the
// properties they get (slack tracking), where each `{}` literal grew its property store as features
// were added (20 features: 0.24 against 0.70-0.80 us per record, and less garbage). The prototype
// is Object.prototype: to everything else they are plain objects.
const NumFields = function NumFields() {} as unknown as new () => Record<string, number>;
NumFields.prototype = Object.prototype;

const timeField = (view: RecordView, path: FieldPath) => (view.timeMs !== undefined ? `${path}.timeUnixNano` : `${path}.observedTimeUnixNano`);

/** The fields of a prediction before its features, as both sinks write them. */
export interface Head {
  model: string;
  version: string;
  ts: number;
  id: string;
  prediction: string;
  predictionNum: number;
  score: number;
  latencyMs: number;
}

/**
 * The checks every record passes and a prediction's fields before its features; a label record is
 * done here (pushed to `labels`, and undefined returned).
 */
export function recordHead(view: RecordView, path: FieldPath, resource: Attrs, limits: Limits, now: number, labels: LabelRow[]): Head | undefined {
  const { attrs } = view;
  // Older SDKs carry the event name as an attribute.
  const event = view.eventName !== '' ? view.eventName : text(attrs, R_EVENT, path, limits);
  if (event !== EVENT_PREDICTION && event !== EVENT_LABEL) {
    throw new FieldError(`${path}.eventName`, `must be "${EVENT_PREDICTION}" or "${EVENT_LABEL}", got ${JSON.stringify(event ?? '')}`);
  }
  const model = textOrResource(attrs, resource, R_MODEL, path, limits);
  if (!model) throw new FieldError(attrPath(path, ATTR.model), 'missing (set it on the record or the resource)');
  const ts = view.timeMs ?? view.observedMs ?? now;
  // Clock skew: a record the store would expire at once, or one from the future, is refused by
  // name rather than acknowledged and lost (or kept where no window will ever look at it).
  if (tooOld(ts, now, limits)) {
    throw new FieldError(timeField(view, path), `timestamp ${new Date(ts).toISOString()} is older than the retention (${Math.round(limits.maxAgeMs! / 86_400_000)} days)`);
  }
  if (tooNew(ts, now, limits)) {
    throw new FieldError(timeField(view, path), `timestamp ${new Date(ts).toISOString()} is more than ${Math.round(limits.maxFutureMs! / 60_000)} minutes in the future (clock skew?)`);
  }

  if (event === EVENT_LABEL) {
    const id = textOrResource(attrs, resource, R_ID, path, limits);
    if (!id) throw new FieldError(attrPath(path, ATTR.id), 'missing: a label must name the prediction it belongs to');
    const label = text(attrs, R_LABEL, path, limits);
    if (label === undefined) throw new FieldError(attrPath(path, ATTR.label), 'missing');
    labels.push({ model, id, ts, label });
    return undefined;
  }

  const predVal = attrs.byRole(R_PREDICTION);
  if (predVal === undefined) throw new FieldError(attrPath(path, ATTR.prediction), 'missing');
  const pred = checked(predVal, path, ATTR.prediction, limits);
  if (pred === MISSING) throw new FieldError(attrPath(path, ATTR.prediction), 'missing value');
  const p = pred as number | string;

  return {
    model,
    version: textOrResource(attrs, resource, R_VERSION, path, limits) ?? 'unversioned',
    ts,
    id: textOrResource(attrs, resource, R_ID, path, limits) ?? generatedId(),
    prediction: typeof p === 'number' ? String(p) : p,
    predictionNum: typeof p === 'number' ? p : NaN,
    score: number(attrs, R_SCORE, path, limits),
    latencyMs: number(attrs, R_LATENCY, path, limits),
  };
}

export function recordToRow(view: RecordView, path: FieldPath, resource: Attrs, limits: Limits, now: number, out: DecodedBatch): void {
  const h = recordHead(view, path, resource, limits, now, out.labels);
  if (h !== undefined) out.predictions.push(rowOf(h, view, path, limits));
}

/** A prediction's row: its head and its features, segments and vectors (the rules for them). */
export function rowOf(h: Head, view: RecordView, path: FieldPath, limits: Limits): PredictionRow {
  const { attrs } = view;
  const row: PredictionRow = {
    model: h.model,
    version: h.version,
    ts: h.ts,
    id: h.id,
    prediction: h.prediction,
    predictionNum: h.predictionNum,
    score: h.score,
    latencyMs: h.latencyMs,
    num: new NumFields(),
    cat: {},
    segment: {},
  };
  let features = 0;
  let categorical = 0;
  let embeddings = 0;
  const { keys, vals, kinds } = attrs;
  for (let i = 0; i < attrs.size; i++) {
    const key = keys[i];
    const v = vals[i];
    const { kind, name } = kinds[i];
    if (kind === FEATURE) {
      if (name === '') throw new FieldError(attrPath(path, key), 'feature name is empty');
      if (++features > limits.maxFeatures) throw new FieldError(attrPath(path, key), `more than ${limits.maxFeatures} features`);
      const c = checked(v, path, key, limits);
      // A name given twice keeps its last value, whatever the types: a repeat of the same type
      // overwrites; one of the other type removes the earlier (looked up only once a categorical
      // value was seen, so all-numeric records pay nothing).
      if (typeof c === 'string') {
        if (Object.hasOwn(row.num, name)) delete row.num[name];
        setOwn(row.cat, name, c);
        categorical++;
      } else {
        if (categorical > 0 && Object.hasOwn(row.cat, name)) delete row.cat[name];
        setOwn(row.num, name, typeof c === 'number' ? c : NaN); // missing, type unknown: a missing value
      }
    } else if (kind === EMBEDDING) {
      if (v === MISSING) continue;
      if (!(v instanceof Float64Array)) {
        throw new FieldError(attrPath(path, key), v instanceof Invalid ? v.reason : 'must be an arrayValue of numbers');
      }
      if (name === '') throw new FieldError(attrPath(path, key), 'embedding name is empty');
      if (++embeddings > MAX_EMBEDDINGS_PER_RECORD) throw new FieldError(attrPath(path, key), `more than ${MAX_EMBEDDINGS_PER_RECORD} embeddings`);
      setOwn((row.emb ??= {}), name, v);
    } else if (kind === SEGMENT) {
      const c = checked(v, path, key, limits);
      if (typeof c === 'number' || typeof c === 'string') setOwn(row.segment, name, String(c));
    }
  }
  if (row.emb !== undefined) {
    const dims = limits.embeddingDims;
    if (dims !== undefined) {
      for (const name in row.emb) {
        const want = dims.get(row.model, row.version, name);
        const got = row.emb[name].length;
        if (want !== undefined && want !== got) {
          throw new FieldError(attrPath(path, ATTR.embeddingPrefix + name), `dimension ${got}, but embedding "${name}" of model "${row.model}" version "${row.version}" has dimension ${want}`);
        }
      }
      for (const name in row.emb) dims.set(row.model, row.version, name, row.emb[name].length);
    }
  }
  return row;
}
