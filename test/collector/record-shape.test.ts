// Records read by their shape (record-shape.ts) against the general path: the same bytes, rows,
// rejections and labels on requests built to hit and to just miss a learned shape (one byte of a
// key, a value's type, a field more or less or in another place, a value a check refuses), and
// the shape itself: which records it reads and which it leaves to the general path.
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { DEFAULT_LIMITS, type Limits } from '../../collector/ingest/otlp-logs.js';
import { decodeLogsProtobuf, encodeLogsProtobuf } from '../../collector/ingest/otlp-logs-protobuf.js';
import { PredictionSink } from '../../collector/ingest/encoded.js';
import { learnShape } from '../../collector/ingest/record-shape.js';
import { Reader, setBody } from '../../collector/ingest/protobuf-wire.js';
import { encodePredictions } from '../../collector/store/rowbinary.js';
import { ExportLogsServiceRequest } from '../../otlp/schema.js';
import { rng } from '../../demo/model.js'; // seeded (mulberry32), so a failure is reproducible

const NOW = 1_700_000_100_000;
const T = 1_700_000_000_123_000_000n;
const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const encode = (req: unknown) => ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req as Record<string, unknown>)).finish();
const resource = (model: string) => ({ attributes: [kv('ml.model.name', { stringValue: model }), kv('ml.model.version', { stringValue: 'v1' })] });

const DOUBLES = [0.5, -1.25, 1e300, 5e-324, -0, NaN, Infinity, -Infinity, 123456.789];

/** A record like the SDK's (time, id, prediction, score, latency, features, event name), perhaps with one thing changed. */
function record(rand: () => number, i: number, nf: number, change = true): Record<string, unknown> {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const num = () => (rand() < 0.2 ? { doubleValue: pick(DOUBLES) } : { doubleValue: rand() * 100 });
  const attrs: { key: string; value: Record<string, unknown> }[] = [
    kv('ml.prediction.id', { stringValue: rand() < 0.05 ? 'é✓'.repeat(1 + Math.floor(rand() * 2)) : `id-${i}-${'x'.repeat(Math.floor(rand() * 3) * 60)}` }),
    kv('ml.prediction.value', rand() < 0.8 ? { intValue: i & 1 } : { doubleValue: 0.5 }),
    kv('ml.prediction.score', num()),
    kv('ml.prediction.latency_ms', { doubleValue: 2 }),
  ];
  for (let k = 0; k < nf; k++) attrs.push(kv(`ml.feature.f${k}`, num()));
  const rec: Record<string, unknown> = { timeUnixNano: String(T + BigInt(i) * 1_000_000n), eventName: 'ml.prediction', attributes: attrs };
  // One change in about a third of the records (none leaves a record without its id: a generated
  // one differs between the two paths).
  switch (change && rand() < 0.35 ? Math.floor(rand() * 17) : -1) {
    case 0: attrs[4 + Math.floor(rand() * nf)].key = 'ml.feature.g'; break; // another key
    case 1: attrs[4].key = 'ml.feature.f0'.replace('f0', 'e0'); break; // one byte apart
    case 2: attrs[4 + Math.floor(rand() * nf)].value = { intValue: 7 }; break; // another value type
    case 3: attrs[4 + Math.floor(rand() * nf)].value = {}; break; // a missing value
    case 4: attrs.push(kv('ml.feature.extra', { doubleValue: 1 })); break; // a field more
    case 5: attrs.splice(3, 1); break; // a field less
    case 6: attrs.push(kv('ml.prediction.id', { stringValue: 'twice' })); break; // a repeated key
    case 7: rec.timeUnixNano = '1000000000000000000'; break; // too old
    case 8: rec.timeUnixNano = String(T + 10n ** 16n); break; // from the future
    case 9: delete rec.timeUnixNano; rec.observedTimeUnixNano = String(T); break; // observed time only
    case 10: attrs[0].value = { stringValue: 'y'.repeat(5000) }; break; // an id over the limit
    case 11: rec.eventName = 'ml.label'; attrs.push(kv('ml.label.value', { stringValue: 'yes' })); break; // a label
    case 12: rec.severityNumber = 9; break; // a field the shape does not have
    case 13: attrs[1].value = { stringValue: 'cat' }; break; // a string prediction
    case 14: attrs.push(kv('ml.segment.s', { stringValue: 'web' })); break; // a segment
    case 15: attrs[2].value = { stringValue: 'high' }; break; // a score that is not a number (rejected)
    case 16: attrs.push(kv('ml.model.name', { stringValue: 'own' })); break; // the model on the record
  }
  return rec;
}

function expectSame(bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS) {
  const rows = decodeLogsProtobuf(bytes, limits, NOW);
  const enc = encodeLogsProtobuf(bytes, limits, NOW);
  const expected = encodePredictions(rows.predictions);
  expect(Buffer.from(enc.predictions.block.data).equals(Buffer.from(expected.data))).toBe(true);
  expect(enc.predictions.block.ends).toEqual(expected.ends);
  expect(enc.rejected).toEqual(rows.rejected);
  expect(enc.labels).toEqual(rows.labels);
  expect(enc.predictions.ids).toEqual(rows.predictions.map((r) => r.id));
  expect(enc.predictions.models).toEqual(rows.predictions.map((r) => r.model));
  expect(enc.predictions.names.map((n) => [...n].sort())).toEqual(rows.predictions.map((r) => [...Object.keys(r.num), ...Object.keys(r.cat)].sort()));
  return { rows, enc };
}

describe('records read by their shape', () => {
  it('writes what the general path writes, on requests of records that hit and just miss a shape (seeded)', () => {
    let records = 0;
    let rejected = 0;
    for (let seed = 1; seed <= 60; seed++) {
      const rand = rng(seed);
      const nf = 1 + Math.floor(rand() * 25);
      const resourceLogs = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, ri) => ({
        resource: resource(`m${ri % 2}`),
        scopeLogs: Array.from({ length: 1 + Math.floor(rand() * 2) }, () => ({ logRecords: Array.from({ length: 30 }, (_, i) => record(rand, i, nf)) })),
      }));
      const { enc } = expectSame(encode({ resourceLogs }));
      records += enc.predictions.ids.length;
      rejected += enc.rejected.length;
    }
    // The requests were of both kinds: rows written and records refused.
    expect(records).toBeGreaterThan(2000);
    expect(rejected).toBeGreaterThan(50);
  });

  it('writes the same when a LogRecord lists its fields in another order, or has one more at its end', () => {
    // Each LogRecord of an encoded request taken apart into its fields; one in four is put together
    // with its event name first (encoders write it last).
    const records = Array.from({ length: 8 }, (_, i) => record(rng(100 + i), i, 5, false));
    const body = encode({ resourceLogs: [{ resource: resource('m'), scopeLogs: [{ logRecords: records }] }] });
    const fieldsOf = (bytes: Uint8Array) => {
      const r = protobuf.Reader.create(bytes);
      const out: { tag: number; bytes: Uint8Array }[] = [];
      while (r.pos < r.len) {
        const from = r.pos;
        const tag = r.uint32();
        r.skipType(tag & 7);
        out.push({ tag, bytes: bytes.subarray(from, r.pos) });
      }
      return out;
    };
    const inner = (field: { bytes: Uint8Array }) => {
      const r = protobuf.Reader.create(field.bytes);
      r.uint32();
      return r.bytes();
    };
    const [rl] = fieldsOf(body);
    const [res, sl] = fieldsOf(inner(rl));
    const logRecords = fieldsOf(inner(sl)).filter((f) => f.tag === 0x12);
    // And one in four, after a record of its shape, gets a field after its last: a score given
    // again, as a string (last wins: the record is refused).
    const lateScore = protobuf.Writer.create().uint32(0x32).fork().uint32(0x0a).string('ml.prediction.score').uint32(0x12).fork().uint32(0x0a).string('late').ldelim().ldelim().finish();
    const moved = logRecords.map((f, i) => {
      const fields = fieldsOf(inner(f)).map((x) => x.bytes);
      if (i % 4 === 1) fields.unshift(fields.pop()!);
      if (i % 4 === 3) fields.push(lateScore);
      return protobuf.Writer.create().uint32(0x12).bytes(Buffer.concat(fields)).finish();
    });
    const scope = protobuf.Writer.create().uint32(0x12).bytes(Buffer.concat(moved)).finish();
    const again = protobuf.Writer.create().uint32(0x0a).bytes(Buffer.concat([res.bytes, scope])).finish();
    const { enc } = expectSame(again);
    expect(enc.predictions.ids.length + enc.rejected.length + enc.labels.length).toBe(8);
    expect(enc.rejected.filter((x) => x.reason === 'must be a number')).toHaveLength(2);
  });

  it('reads the records of its shape and leaves the others to the general path', () => {
    const rec = (id: string, attrs: unknown[] = [], extra: Record<string, unknown> = {}) => ({
      timeUnixNano: String(T),
      eventName: 'ml.prediction',
      attributes: [kv('ml.prediction.id', { stringValue: id }), kv('ml.prediction.value', { intValue: 1 }), kv('ml.feature.a', { doubleValue: 1.5 }), kv('ml.feature.b', { intValue: 2 }), ...attrs],
      ...extra,
    });
    const records = [rec('first'), rec('same-shape-longer-id'), rec('x', [kv('ml.feature.c', { doubleValue: 1 })]), rec('y', [], { timeUnixNano: '5' }), rec('z', [], { severityNumber: 3 })];
    const body = encode({ resourceLogs: [{ resource: resource('m'), scopeLogs: [{ logRecords: records }] }] });
    // The LogRecords' places in the body.
    const spans: [number, number][] = [];
    const r = Reader.create(body);
    r.uint32();
    const rlEnd = r.uint32() + r.pos;
    while (r.pos < rlEnd) {
      const t = r.uint32();
      if (t >>> 3 !== 2) {
        r.skipType(t & 7);
        continue;
      }
      const slEnd = r.uint32() + r.pos;
      while (r.pos < slEnd) {
        r.uint32();
        const len = r.uint32();
        spans.push([r.pos, r.pos + len]);
        r.pos += len;
      }
    }
    expect(spans).toHaveLength(5);
    // The first record's shape, as the sink's head for it (the resource's model and version) gives it.
    const sink = new PredictionSink([], body.length);
    setBody(body);
    try {
      const head = { model: 'm', version: 'v1', ts: 1_700_000_000_123, id: 'first', prediction: '1', predictionNum: 1, score: NaN, latencyMs: NaN };
      const shape = learnShape(r, spans[0][0], spans[0][1], head, ['a', 'b'], DEFAULT_LIMITS)!;
      expect(shape).toBeDefined();
      const readAt = (k: number) => {
        r.pos = spans[k][0];
        const ok = shape.read(r, spans[k][1], DEFAULT_LIMITS, NOW, sink);
        return [ok, r.pos === (ok ? spans[k][1] : spans[k][0])];
      };
      expect(readAt(1)).toEqual([true, true]); // another id, the same shape
      expect(readAt(2)).toEqual([false, true]); // an attribute more
      expect(readAt(3)).toEqual([false, true]); // a timestamp the checks refuse
      expect(readAt(4)).toEqual([false, true]); // a field the shape does not have
      expect(sink.finish().ids).toEqual(['same-shape-longer-id']);
      // No shape for a record whose names are not the sink's, or with a field it cannot hold.
      expect(learnShape(r, spans[0][0], spans[0][1], head, ['b', 'a'], DEFAULT_LIMITS)).toBeUndefined();
      expect(learnShape(r, spans[4][0], spans[4][1], head, ['a', 'b'], DEFAULT_LIMITS)).toBeUndefined();
    } finally {
      setBody(undefined);
    }
  });
});
