// The protobuf front end of the logs decoder: reads ExportLogsServiceRequest straight off the wire
// (protobufjs' Reader for varints and strings) into record views, skipping fields it does not use,
// so no intermediate message objects are built. Field numbers follow opentelemetry-proto v1 (the
// same as otlp/schema.ts). Output is identical to parseLogsRequest + decodeLogs (tested).
import { BadRequest } from './body.js';
import { Attrs, FieldError, InvalidArray, MISSING, recordToRow, UNSUPPORTED, withEmbeddingDims, type AttrVal, type Limits, type RecordView } from './otlp-logs.js';
import { MAX_EMBEDDING_DIMS } from './embeddings.js';
import type { DecodedBatch, LabelRow, Rejection } from './records.js';
import { PredictionSink, type EncodedPredictions } from './encoded.js';
import { learnShape, type RecordShape } from './record-shape.js';
import { bodyView, end, EVENT_SLOT, fixed64, int64, keyString, nanosToMs, Reader, setBody, SLOTS, type KnownKey } from './protobuf-wire.js';

function anyValue(r: Reader, stop: number): AttrVal {
  let v: AttrVal = MISSING;
  while (r.pos < stop) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: v = r.string(); break;
      case 2: v = String(r.bool()); break;
      case 3: v = int64(r); break;
      case 4: v = r.double(); break;
      case 5: v = (tag & 7) === 2 ? arrayValue(r, end(r)) : (r.skipType(tag & 7), UNSUPPORTED.array); break;
      case 6: r.skipType(tag & 7); v = UNSUPPORTED.kvlist; break;
      case 7: r.skipType(tag & 7); v = UNSUPPORTED.bytes; break;
      default: r.skipType(tag & 7);
    }
  }
  return v;
}

// An ArrayValue of numbers (double_value or int_value elements) into one Float64Array: elements
// go to a reused scratch array first, so a vector costs one allocation, no object per element.
let scratch = new Float64Array(1024);
function arrayValue(r: Reader, stop: number): AttrVal {
  let n = 0;
  let bad = -1;
  while (r.pos < stop) {
    const tag = r.uint32();
    if (tag >>> 3 !== 1 || (tag & 7) !== 2) {
      r.skipType(tag & 7);
      continue;
    }
    const vEnd = end(r);
    let x = 0;
    let ok = false;
    while (r.pos < vEnd) {
      const t = r.uint32();
      const f = t >>> 3;
      if (f === 4 && (t & 7) === 1) {
        x = r.double();
        ok = true;
      } else if (f === 3 && (t & 7) === 0) {
        x = int64(r);
        ok = true;
      } else {
        r.skipType(t & 7);
        if (f >= 1 && f <= 7) ok = false; // the last value field wins, as in anyValue
      }
    }
    if (!ok && bad < 0) bad = n;
    if (n < MAX_EMBEDDING_DIMS) {
      if (n === scratch.length) {
        const next = new Float64Array(scratch.length * 2);
        next.set(scratch);
        scratch = next;
      }
      scratch[n] = x;
    }
    n++;
  }
  if (bad >= 0) return new InvalidArray(`arrayValue element ${bad} must be a number (doubleValue or intValue)`);
  if (n === 0) return new InvalidArray('empty arrayValue');
  if (n > MAX_EMBEDDING_DIMS) return new InvalidArray(`arrayValue has ${n} elements, more than ${MAX_EMBEDDING_DIMS}`);
  return scratch.slice(0, n);
}

// Slots of the position cache: a record's attributes from 0, the resource's from SLOTS / 2.
function keyValue(r: Reader, stop: number, into: Attrs, base: number): void {
  let key: KnownKey | undefined;
  let value: AttrVal = MISSING;
  const buf = r.buf;
  if (r.pos < stop && buf[r.pos] === 0x0a) {
    r.pos++;
    key = keyString(r, base + into.size);
    // The common attribute: its key, then a value that is a double and nothing else (tag, length 9,
    // AnyValue.double_value): read here, without anyValue's loop (bench/README.md, session 6).
    const p = r.pos;
    if (p + 11 === stop && buf[p] === 0x12 && buf[p + 1] === 9 && buf[p + 2] === 0x21) {
      r.pos = stop;
      into.set(key.key, bodyView.getFloat64(p + 3, true), key.kind);
      return;
    }
  }
  while (r.pos < stop) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) key = keyString(r, base + into.size);
    else if (tag >>> 3 === 2) value = anyValue(r, end(r));
    else r.skipType(tag & 7);
  }
  if (key !== undefined) into.set(key.key, value, key.kind);
}

function resource(r: Reader, stop: number): Attrs {
  const attrs = new Attrs();
  while (r.pos < stop) {
    const tag = r.uint32();
    if (tag >>> 3 === 1) keyValue(r, end(r), attrs, SLOTS / 2);
    else r.skipType(tag & 7);
  }
  return attrs;
}


/** Reads a LogRecord into `view` (its fields reset first). */
function logRecord(r: Reader, stop: number, view: RecordView = { eventName: '', attrs: new Attrs() }): RecordView {
  view.eventName = '';
  view.timeMs = undefined;
  view.observedMs = undefined;
  view.attrs.clear();
  while (r.pos < stop) {
    const tag = r.uint32();
    switch (tag >>> 3) {
      case 1: view.timeMs = nanosToMs(fixed64(r)); break;
      case 11: view.observedMs = nanosToMs(fixed64(r)); break;
      case 6: keyValue(r, end(r), view.attrs, 0); break;
      case 12: view.eventName = keyString(r, EVENT_SLOT).key; break; // one of two names: kept like a key
      default: r.skipType(tag & 7);
    }
  }
  return view;
}

/** A record's place in the request, spelled only for an error message. */
class RecordPath {
  constructor(public ri = 0, public si = 0, public li = 0) {}
  toString(): string {
    return `resourceLogs[${this.ri}].scopeLogs[${this.si}].logRecords[${this.li}]`;
  }
}

/** Where records go: rows (recordToRow) or RowBinary (PredictionSink); `mark`/`reset` undo a ResourceLogs. */
interface Sink {
  record(view: RecordView, path: RecordPath, res: Attrs, limits: Limits, now: number): void;
  mark(): unknown;
  reset(mark: unknown): void;
}

class RowSink implements Sink {
  constructor(readonly out: DecodedBatch) {}
  record(view: RecordView, path: RecordPath, res: Attrs, limits: Limits, now: number): void {
    recordToRow(view, path, res, limits, now, this.out);
  }
  mark(): unknown {
    return [this.out.predictions.length, this.out.labels.length];
  }
  reset(mark: unknown): void {
    [this.out.predictions.length, this.out.labels.length] = mark as [number, number];
  }
}

/** One record into the sink, or its rejection (the record alone). */
function take(view: RecordView, path: RecordPath, res: Attrs, limits: Limits, now: number, sink: Sink, rejected: Rejection[]): void {
  try {
    sink.record(view, path, res, limits, now);
  } catch (e) {
    rejected.push(e instanceof FieldError ? { path: e.field, reason: e.message } : { path: String(path), reason: (e as Error).message });
  }
}

/**
 * One ResourceLogs (r at its first field, up to rlEnd). Encoders write the resource (field 1) before
 * the scope logs (field 2): then each record becomes its row as it is read, through one reused view
 * and path, so a valid record leaves no garbage but its row. A resource after the records (or a
 * second one) needs every record kept until the end: `buffered` reads it that way (the caller
 * rewinds and asks for it when this returns false).
 */
function resourceLogs(r: Reader, rlEnd: number, ri: number, buffered: boolean, limits: Limits, now: number, sink: Sink, rejected: Rejection[]): boolean {
  let res: Attrs | undefined;
  let recordsSeen = false;
  const pending: { view: RecordView; path: RecordPath }[] = [];
  const view: RecordView = { eventName: '', attrs: new Attrs() };
  const path = new RecordPath(ri);
  let si = 0;
  // Records of the last shape are read by it (record-shape.ts), when they are written as RowBinary.
  const encoding = sink instanceof PredictionSink ? sink : undefined;
  let shape: RecordShape | undefined;
  let learns = 0;
  while (r.pos < rlEnd) {
    const t = r.uint32();
    if (t >>> 3 === 1) {
      if (recordsSeen && !buffered) return false;
      res = resource(r, end(r));
    } else if (t >>> 3 === 2) {
      const slEnd = end(r);
      let li = 0;
      while (r.pos < slEnd) {
        const u = r.uint32();
        if (u >>> 3 !== 2) {
          r.skipType(u & 7);
          continue;
        }
        if (!buffered && res === undefined) return false;
        recordsSeen = true;
        if (buffered) pending.push({ view: logRecord(r, end(r)), path: new RecordPath(ri, si, li++) });
        else {
          const stop = end(r);
          if (shape !== undefined && shape.read(r, stop, limits, now, encoding!)) {
            li++;
            continue;
          }
          const start = r.pos;
          logRecord(r, stop, view);
          path.si = si;
          path.li = li++;
          take(view, path, res!, limits, now, sink, rejected);
          // A record the sink wrote from its template teaches its shape (at most 64 times per ResourceLogs).
          if (encoding?.shapeable !== undefined && learns < 64) {
            learns++;
            shape = learnShape(r, start, stop, encoding.shapeable, encoding.featureNames, limits);
          }
        }
      }
      si++;
    } else r.skipType(t & 7);
  }
  for (const p of pending) take(p.view, p.path, res ?? new Attrs(), limits, now, sink, rejected);
  return true;
}

/** The request's records as rows (the row path, which encodeLogsProtobuf's output is tested against). */
export function decodeLogsProtobuf(body: Uint8Array, limits: Limits, now = Date.now()): DecodedBatch {
  const out: DecodedBatch = { predictions: [], labels: [], rejected: [] };
  read(body, limits, now, new RowSink(out), out.rejected);
  return out;
}

/**
 * decodeLogsProtobuf with the predictions written straight into RowBinary (PredictionSink): what
 * the receiver stores. The same rejections, labels and stored values.
 */
export function encodeLogsProtobuf(body: Uint8Array, limits: Limits, now = Date.now()): { predictions: EncodedPredictions; labels: LabelRow[]; rejected: Rejection[] } {
  const labels: LabelRow[] = [];
  const rejected: Rejection[] = [];
  const sink = new PredictionSink(labels, body.length);
  read(body, limits, now, sink, rejected);
  return { predictions: sink.finish(), labels, rejected };
}

function read(body: Uint8Array, givenLimits: Limits, now: number, sink: Sink, rejected: Rejection[]): void {
  const limits = withEmbeddingDims(givenLimits);
  const r = Reader.create(body);
  setBody(body);
  let ri = 0;
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag >>> 3 !== 1) {
        r.skipType(tag & 7);
        continue;
      }
      const rlEnd = end(r);
      const start = r.pos;
      const mark = sink.mark();
      const rejectedBefore = rejected.length;
      if (!resourceLogs(r, rlEnd, ri, false, limits, now, sink, rejected)) {
        // The resource came late: what was built from this ResourceLogs goes, and it is read again.
        sink.reset(mark);
        rejected.length = rejectedBefore;
        r.pos = start;
        resourceLogs(r, rlEnd, ri, true, limits, now, sink, rejected);
      }
      ri++;
    }
    if (r.pos !== r.len) throw new Error('trailing bytes');
  } catch (e) {
    if (e instanceof FieldError) throw e;
    throw new BadRequest(`body is not a valid ExportLogsServiceRequest protobuf: ${(e as Error).message}`);
  } finally {
    setBody(undefined);
  }
}
