// Records of one request mostly have one shape: the same fields in the same order, the same
// attribute keys with values of the same wire types; only the values differ. A prediction read by
// the general path (otlp-logs-protobuf.ts) and written by PredictionSink from its all-number
// template teaches its shape (learnShape); a later record of the same ResourceLogs that has that
// shape byte for byte outside its values is read here value by value and handed to the sink, with
// the checks of recordHead a value can fail (timestamps, string lengths). Anything else (another
// key, another wire type, a field more or less, a value a check refuses) makes `read` return false
// and leave the record to the general path, which also gives the reason for a rejection.
import type { PredictionSink } from './encoded.js';
import { FEATURE, OTHER, ROLE, tooLong, tooNew, tooOld, type Head, type Limits } from './otlp-logs.js';
import { EVENT_PREDICTION } from '../../otlp/types.js';
import { bodyView, end, fixed64, int64, keyString, nanosToMs, pattern, sameBytes, SLOTS, type KnownKey, type Pattern, type Reader } from './protobuf-wire.js';

// LogRecord fields (tag bytes) and AnyValue value types a shape may hold.
const TIME = 0x09; // time_unix_nano, fixed64
const OBSERVED = 0x59; // observed_time_unix_nano, fixed64
const ATTRIBUTE = 0x32; // attributes, KeyValue
const EVENT = 0x62; // event_name, string
const DOUBLE = 0x21; // AnyValue.double_value
const INT = 0x18; // AnyValue.int_value
const STRING = 0x0a; // AnyValue.string_value

// What an attribute of the shape is: a feature, or its key's role (KeyKind.role).
const IS_FEATURE = 0;
const { id: IS_ID, prediction: IS_PREDICTION, score: IS_SCORE } = ROLE;

const EVENT_BYTES = Buffer.from(EVENT_PREDICTION);

export class RecordShape {
  /** Per field: its tag; for an attribute, its key, value type and what it is (`feature` its index). */
  readonly tags: number[] = [];
  readonly keys: (KnownKey | undefined)[] = [];
  readonly vtypes: number[] = [];
  readonly roles: number[] = [];
  readonly feature: number[] = [];
  /** A double attribute's bytes before its value (the same in every record of the shape). */
  readonly prefix: (Pattern | undefined)[] = [];
  /** The features' values of the record being read. */
  readonly values: Float64Array;

  constructor(
    /** The sink's list of feature names for this shape (its lastNames when learned). */
    readonly names: readonly string[],
    readonly model: string,
    readonly version: string,
  ) {
    this.values = new Float64Array(names.length);
  }

  /**
   * Reads the record from r.pos to `stop` if it has this shape and passes the checks, and gives it
   * to the sink: true, r.pos at `stop`. Otherwise false, r.pos where it was.
   */
  read(r: Reader, stop: number, limits: Limits, now: number, sink: PredictionSink): boolean {
    const start = r.pos;
    try {
      if (this.readAt(r, start, stop, limits, now, sink)) return true;
    } catch {
      // (a malformed record: the general path reads it again and rejects it for what it is)
    }
    r.pos = start;
    return false;
  }

  private readAt(r: Reader, start: number, stop: number, limits: Limits, now: number, sink: PredictionSink): boolean {
    if (stop > r.len) return false;
    const buf = r.buf;
    const { tags, keys, vtypes, roles, feature, values, prefix } = this;
    let timeMs: number | undefined;
    let observedMs: number | undefined;
    let id = '';
    let prediction = '';
    let predictionNum = NaN;
    let score = NaN;
    let latencyMs = NaN;
    for (let i = 0; i < tags.length; i++) {
      const fixed = prefix[i];
      if (fixed !== undefined) {
        // A double attribute: its bytes up to the value, then 8 bytes.
        const at = r.pos + fixed.bytes.length;
        if (at + 8 > stop || !sameBytes(fixed, buf, r.pos)) return false;
        const num = bodyView.getFloat64(at, true);
        r.pos = at + 8;
        const role = roles[i];
        if (role === IS_FEATURE) values[feature[i]] = num;
        else if (role === IS_PREDICTION) {
          prediction = String(num);
          predictionNum = num;
        } else if (role === IS_SCORE) score = num;
        else latencyMs = num;
        continue;
      }
      const tag = tags[i];
      if (r.pos >= stop || buf[r.pos] !== tag) return false;
      r.pos++;
      if (tag === ATTRIBUTE) {
        const kvEnd = end(r);
        const key = keys[i]!;
        if (kvEnd > stop || buf[r.pos] !== 0x0a) return false;
        r.pos++;
        const len = r.uint32();
        if (len !== key.bytes.length || r.pos + len > kvEnd || !sameBytes(key, buf, r.pos)) return false;
        r.pos += len;
        if (buf[r.pos] !== 0x12) return false;
        r.pos++;
        const avEnd = end(r);
        const vtype = vtypes[i];
        if (avEnd !== kvEnd || buf[r.pos] !== vtype) return false;
        r.pos++;
        // (a double has its prefix, above)
        let num = NaN;
        let str = '';
        if (vtype === INT) {
          num = int64(r);
        } else {
          // As the general path reads it (protobufjs' string()), then recordHead's length check.
          str = r.string();
          if (tooLong(str, limits)) return false;
        }
        if (r.pos !== kvEnd) return false;
        const role = roles[i];
        if (role === IS_FEATURE) values[feature[i]] = num;
        else if (role === IS_ID) id = str;
        else if (role === IS_PREDICTION) {
          prediction = vtype === STRING ? str : String(num);
          predictionNum = vtype === STRING ? NaN : num;
        } else if (role === IS_SCORE) score = num;
        else latencyMs = num;
      } else if (tag === EVENT) {
        const n = EVENT_BYTES.length;
        if (buf[r.pos] !== n || r.pos + 1 + n > stop) return false;
        for (let j = 0; j < n; j++) if (buf[r.pos + 1 + j] !== EVENT_BYTES[j]) return false;
        r.pos += 1 + n;
      } else {
        if (r.pos + 8 > stop) return false;
        if (tag === TIME) timeMs = nanosToMs(fixed64(r));
        else observedMs = nanosToMs(fixed64(r));
      }
    }
    if (r.pos !== stop) return false;
    // recordHead's timestamp checks.
    const ts = timeMs ?? observedMs ?? now;
    if (tooOld(ts, now, limits) || tooNew(ts, now, limits)) return false;
    sink.shaped(this.model, this.version, ts, id, prediction, predictionNum, score, latencyMs, this.names, values);
    return true;
  }

}

/**
 * The shape of the record from `start` to `stop`, which the sink has just written from its template
 * (`head`: sink.shapeable): undefined when it is not one a shape can hold, i.e. unless its fields are
 * time fields, event_name "ml.prediction" and attributes that are its features (numbers), id (a
 * string), prediction value and score and latency (numbers), each once, each attribute a key and
 * a value and nothing else. The model and version are then the resource's (`head`'s).
 */
export function learnShape(r: Reader, start: number, stop: number, head: Head, names: readonly string[], limits: Limits): RecordShape | undefined {
  const saved = r.pos;
  try {
    r.pos = start;
    const shape = new RecordShape(names, head.model, head.version);
    const buf = r.buf;
    const seen = new Set<number>();
    let events = 0;
    let features = 0;
    while (r.pos < stop) {
      const tag = buf[r.pos++];
      shape.tags.push(tag);
      if (tag === TIME || tag === OBSERVED) {
        if (seen.has(tag)) return undefined;
        seen.add(tag);
        shape.keys.push(undefined);
        shape.vtypes.push(0);
        shape.roles.push(-1);
        shape.feature.push(-1);
        shape.prefix.push(undefined);
        r.pos += 8;
      } else if (tag === EVENT) {
        const len = r.uint32();
        if (len !== EVENT_BYTES.length || !EVENT_BYTES.equals(buf.subarray(r.pos, r.pos + len))) return undefined;
        r.pos += len;
        events++;
        shape.keys.push(undefined);
        shape.vtypes.push(0);
        shape.roles.push(-1);
        shape.feature.push(-1);
        shape.prefix.push(undefined);
      } else if (tag === ATTRIBUTE) {
        const attrStart = r.pos - 1;
        const kvEnd = end(r);
        if (buf[r.pos++] !== 0x0a) return undefined;
        const key = keyString(r, SLOTS); // (no position cache: that is the general path's)
        if (key.bytes.length === 0 || buf[r.pos++] !== 0x12) return undefined;
        const avEnd = end(r);
        const vtype = buf[r.pos];
        if (avEnd !== kvEnd || (vtype !== DOUBLE && vtype !== INT && vtype !== STRING) || (vtype === DOUBLE && kvEnd !== r.pos + 9)) return undefined;
        const role = roleOf(key, vtype);
        if (role === undefined || (role !== IS_FEATURE && seen.has(100 + role))) return undefined;
        seen.add(100 + role);
        shape.keys.push(key);
        shape.vtypes.push(vtype);
        shape.roles.push(role);
        shape.prefix.push(vtype === DOUBLE ? pattern(new Uint8Array(buf.subarray(attrStart, r.pos + 1))) : undefined);
        if (role === IS_FEATURE) {
          if (names[features] !== key.kind.name) return undefined;
          shape.feature.push(features++);
        } else shape.feature.push(-1);
        r.pos = kvEnd;
      } else return undefined;
    }
    // The written record's names are these features, in order; and it had an id and a prediction.
    if (r.pos !== stop || events !== 1 || features !== names.length || features > limits.maxFeatures) return undefined;
    if (!seen.has(100 + IS_ID) || !seen.has(100 + IS_PREDICTION)) return undefined;
    return shape;
  } finally {
    r.pos = saved;
  }
}

/** What an attribute is in a shape (its value's wire type allowing), or undefined for none. */
function roleOf(key: KnownKey, vtype: number): number | undefined {
  const { kind, name, role } = key.kind;
  const number = vtype === DOUBLE || vtype === INT;
  if (kind === FEATURE) return number && name !== '' ? IS_FEATURE : undefined;
  if (kind !== OTHER) return undefined;
  if (role === ROLE.id) return vtype === STRING ? role : undefined;
  if (role === ROLE.prediction) return role;
  if (role === ROLE.score || role === ROLE.latency) return number ? role : undefined;
  return undefined;
}
