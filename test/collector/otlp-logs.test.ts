import { describe, expect, it } from 'vitest';
import { decodeLogs, DEFAULT_LIMITS, parseLogsRequest } from '../../collector/ingest/otlp-logs.js';
import { decodeLogsProtobuf } from '../../collector/ingest/otlp-logs-protobuf.js';
import { BadRequest } from '../../collector/ingest/body.js';
import { ExportLogsServiceRequest } from '../../otlp/schema.js';
import { resourceLogsFields, resourceLogsOf } from '../helpers/resource-logs.js';
import type { ExportLogsServiceRequest as Req } from '../../otlp/types.js';
import { buildRequest, encodeRequest } from '../helpers/reference-encoder.js';

// Records carry 2023 timestamps; decoding happens 'then', so clock-skew checks pass.
const NOW = 1_700_000_100_000;
const LIMITS = { ...DEFAULT_LIMITS };
const kv = (key: string, value: Record<string, unknown>) => ({ key, value });

function request(records: unknown[], resource: unknown[] = [kv('ml.model.name', { stringValue: 'm' })]): Req {
  return { resourceLogs: [{ resource: { attributes: resource }, scopeLogs: [{ logRecords: records }] }] } as Req;
}

const good = {
  timeUnixNano: '1700000000123000000',
  eventName: 'ml.prediction',
  attributes: [
    kv('ml.prediction.id', { stringValue: 'p1' }),
    kv('ml.prediction.value', { intValue: '1' }),
    kv('ml.prediction.score', { doubleValue: 0.75 }),
    kv('ml.feature.age', { intValue: 42 }),
    kv('ml.feature.income', { doubleValue: 'NaN' }),
    kv('ml.feature.country', { stringValue: 'DE' }),
    kv('ml.feature.vip', { boolValue: true }),
    kv('ml.feature.empty', {}),
    kv('ml.segment.channel', { stringValue: 'web' }),
  ],
};

describe('OTLP logs decoding', () => {
  it('reads a resource that comes after its records, or twice, as the generic decoder does', () => {
    // Encoders write the resource first, and the protobuf decoder builds rows as it reads; these
    // orders make it read the ResourceLogs again, keeping every record until the resource is known.
    const rec = (id: string) => ({ timeUnixNano: '1700000000123000000', eventName: 'ml.prediction', attributes: [kv('ml.prediction.id', { stringValue: id }), kv('ml.prediction.value', { intValue: '1' }), kv('ml.feature.x', { doubleValue: 2 })] });
    const res = (model: string) => [kv('ml.model.name', { stringValue: model }), kv('ml.model.version', { stringValue: `${model}-v` })];
    const one = (resource: unknown[], ids: string[]) => ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(request(ids.map(rec), resource))).finish();
    const fields = resourceLogsFields;
    const wrap = resourceLogsOf;
    const [resA, scope1] = fields(one(res('late-a'), ['l1', 'l2']));
    const [resB, scope2] = fields(one(res('late-b'), ['l3']));
    const cases = {
      'resource last': wrap(scope1, resA),
      'a second resource after the records': wrap(resA, scope1, resB, scope2),
      'the resource between two scopes': wrap(scope1, resB, scope2),
      // Two ResourceLogs: the first in the usual order, the second late; rows keep their order.
      'usual, then late': Buffer.concat([wrap(resA, scope1), wrap(scope2, resB)]),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const generic = decodeLogs(parseLogsRequest(bytes, 'protobuf'), LIMITS, NOW);
      const direct = decodeLogsProtobuf(bytes, LIMITS, NOW);
      const shape = (b: typeof direct) => b.predictions.map((p) => [p.model, p.version, p.id, p.num]);
      expect(shape(direct), name).toEqual(shape(generic));
      expect(direct.rejected, name).toEqual(generic.rejected);
    }
    expect(decodeLogsProtobuf(cases['resource last'], LIMITS, NOW).predictions.map((p) => `${p.model}/${p.id}`)).toEqual(['late-a/l1', 'late-a/l2']);
    expect(decodeLogsProtobuf(cases['a second resource after the records'], LIMITS, NOW).predictions.map((p) => `${p.model}/${p.id}`)).toEqual(['late-b/l1', 'late-b/l2', 'late-b/l3']);
    expect(decodeLogsProtobuf(cases['usual, then late'], LIMITS, NOW).predictions.map((p) => `${p.model}/${p.id}`)).toEqual(['late-a/l1', 'late-a/l2', 'late-b/l3']);
  });

  it('reads each key from its bytes when records reorder their keys or change one byte at a position', () => {
    // The protobuf decoder first compares a key with the one last seen at the same position: keys of
    // equal length that differ in one byte, and the same keys in another order, must not be mixed up.
    const rec = (id: string, keys: string[]) => ({
      timeUnixNano: '1700000000123000000',
      eventName: 'ml.prediction',
      attributes: [kv('ml.prediction.id', { stringValue: id }), kv('ml.prediction.value', { intValue: '1' }), ...keys.map((k, i) => kv(k, { doubleValue: i + 0.5 }))],
    });
    const req = request([
      rec('a', ['ml.feature.x1', 'ml.feature.x2', 'ml.segment.s1']),
      rec('b', ['ml.feature.x2', 'ml.feature.x1', 'ml.segment.s2']),
      rec('c', ['ml.feature.y1', 'ml.feature.x3', 'ml.feature.x1']),
      rec('d', ['ml.feature.x1', 'ml.feature.x2', 'ml.segment.s1']),
    ]);
    const b = decodeLogsProtobuf(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req)).finish(), LIMITS, NOW);
    expect(b.rejected).toEqual([]);
    expect(b.predictions.map((p) => [p.id, p.num, p.segment])).toEqual([
      ['a', { x1: 0.5, x2: 1.5 }, { s1: '2.5' }],
      ['b', { x2: 0.5, x1: 1.5 }, { s2: '2.5' }],
      ['c', { y1: 0.5, x3: 1.5, x1: 2.5 }, {}],
      ['d', { x1: 0.5, x2: 1.5 }, { s1: '2.5' }],
    ]);
    expect(b.predictions).toEqual(decodeLogs(req, LIMITS, NOW).predictions.map((p, i) => ({ ...p, id: b.predictions[i].id })));
  });

  it('turns a prediction record into a row, typing features by attribute type', () => {
    const b = decodeLogs(request([good]), LIMITS, NOW);
    expect(b.rejected).toEqual([]);
    expect(b.predictions).toHaveLength(1);
    const p = b.predictions[0];
    expect(p).toMatchObject({ model: 'm', version: 'unversioned', ts: 1700000000123, id: 'p1', prediction: '1', predictionNum: 1, score: 0.75 });
    expect(p.num.age).toBe(42);
    expect(p.num.income).toBeNaN();
    expect(p.num.empty).toBeNaN();
    expect(p.cat).toEqual({ country: 'DE', vip: 'true' });
    expect(p.segment).toEqual({ channel: 'web' });
    expect(p.latencyMs).toBeNaN();
  });

  it('keeps the last value of a feature or segment given twice, whatever the types, and names like __proto__', () => {
    const twice = {
      ...good,
      attributes: [
        kv('ml.prediction.value', { intValue: '1' }),
        kv('ml.feature.a', { intValue: 1 }), kv('ml.feature.a', { stringValue: 'x' }), // number, then text
        kv('ml.feature.b', { stringValue: 'y' }), kv('ml.feature.b', { doubleValue: 2.5 }), // text, then number
        kv('ml.feature.c', { intValue: 3 }), kv('ml.feature.c', { intValue: 4 }),
        kv('ml.feature.d', { stringValue: 'p' }), kv('ml.feature.d', {}), // text, then missing
        kv('ml.feature.__proto__', { intValue: 7 }), kv('ml.feature.constructor', { stringValue: 'k' }),
        kv('ml.segment.s', { stringValue: 'first' }), kv('ml.segment.s', { stringValue: 'last' }), kv('ml.segment.__proto__', { stringValue: 'z' }),
      ],
    };
    const body = request([twice]);
    // Both front ends: OTLP/JSON and protobuf.
    for (const b of [decodeLogs(body, LIMITS, NOW), decodeLogsProtobuf(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(body)).finish(), LIMITS, NOW)]) {
      expect(b.rejected).toEqual([]);
      const p = b.predictions[0];
      expect(Object.keys(p.num).sort()).toEqual(['__proto__', 'b', 'c', 'd']);
      expect(p.num.b).toBe(2.5);
      expect(p.num.c).toBe(4);
      expect(p.num.d).toBeNaN();
      expect(Object.getOwnPropertyDescriptor(p.num, '__proto__')?.value).toBe(7);
      expect(Object.getPrototypeOf(p.num)).toBe(Object.prototype);
      expect({ ...p.cat }).toEqual({ a: 'x', constructor: 'k' });
      expect(Object.entries(p.segment)).toEqual([['s', 'last'], ['__proto__', 'z']]);
    }
  });

  it('rejects only the bad records, naming the field and the reason', () => {
    const noModel = { ...good, attributes: good.attributes.slice(1) };
    const wrongType = { ...good, attributes: [...good.attributes, kv('ml.prediction.score', { stringValue: 'high' })] };
    const notOurs = { body: { stringValue: 'hello' } };
    const b = decodeLogs(request([good, wrongType, notOurs, good]), LIMITS, NOW);
    expect(b.predictions).toHaveLength(2);
    expect(b.rejected).toEqual([
      { path: 'resourceLogs[0].scopeLogs[0].logRecords[1].attributes["ml.prediction.score"]', reason: 'must be a number' },
      { path: 'resourceLogs[0].scopeLogs[0].logRecords[2].eventName', reason: 'must be "ml.prediction" or "ml.label", got ""' },
    ]);
    const m = decodeLogs(request([noModel], []), LIMITS, NOW);
    expect(m.rejected).toEqual([
      { path: 'resourceLogs[0].scopeLogs[0].logRecords[0].attributes["ml.model.name"]', reason: 'missing (set it on the record or the resource)' },
    ]);
  });

  it('reads labels and requires the prediction id', () => {
    const label = { eventName: 'ml.label', attributes: [kv('ml.prediction.id', { stringValue: 'p1' }), kv('ml.label.value', { intValue: '0' })] };
    const orphan = { eventName: 'ml.label', attributes: [kv('ml.label.value', { intValue: '0' })] };
    const b = decodeLogs(request([label, orphan]), LIMITS, 5000);
    expect(b.labels).toEqual([{ model: 'm', id: 'p1', ts: 5000, label: '0' }]);
    expect(b.rejected[0].path).toBe('resourceLogs[0].scopeLogs[0].logRecords[1].attributes["ml.prediction.id"]');
  });

  it('enforces limits on strings and feature counts', () => {
    const long = { ...good, attributes: [...good.attributes, kv('ml.feature.note', { stringValue: 'x'.repeat(5000) })] };
    const b = decodeLogs(request([long]), { maxFeatures: 500, maxStringBytes: 4096 }, NOW);
    expect(b.rejected[0]).toEqual({ path: 'resourceLogs[0].scopeLogs[0].logRecords[0].attributes["ml.feature.note"]', reason: 'string longer than 4096 bytes' });
    const many = decodeLogs(request([good]), { maxFeatures: 3, maxStringBytes: 4096 }, NOW);
    expect(many.rejected[0].reason).toBe('more than 3 features');
  });

  it('refuses bodies that are not OTLP at all', () => {
    expect(() => parseLogsRequest(Buffer.from('{"resourceLogs": '), 'json')).toThrow(BadRequest);
    expect(() => parseLogsRequest(Buffer.from('[1,2]'), 'json')).toThrow(/JSON object/);
    expect(() => parseLogsRequest(Buffer.from('{"resourceLogs": 3}'), 'json')).toThrow(/resourceLogs: must be an array/);
    expect(() => parseLogsRequest(Buffer.from([0x0a, 0xff, 0xff, 0xff]), 'protobuf')).toThrow(BadRequest);
  });

  it('decodes the SDK protobuf and JSON encodings to the same rows', () => {
    const entries = [
      { kind: 'prediction' as const, ts: 1700000000000, id: 'a', features: { x: 1.5, n: 3, c: 'u', miss: null }, prediction: 'yes', score: 0.9, latencyMs: 4.5, segment: { s: 'k' } },
      { kind: 'label' as const, ts: 1700000001000, id: 'a', value: 'no' },
    ];
    const res = { model: 'mm', version: 'v2', sdkVersion: 't' };
    const fromProto = decodeLogs(parseLogsRequest(encodeRequest(entries, res, 'protobuf'), 'protobuf'), LIMITS, NOW);
    const fromJson = decodeLogs(parseLogsRequest(encodeRequest(entries, res, 'json'), 'json'), LIMITS, NOW);
    expect(fromProto).toEqual(fromJson);
    expect(fromProto.rejected).toEqual([]);
    expect(fromProto.predictions[0]).toMatchObject({ model: 'mm', version: 'v2', id: 'a', prediction: 'yes', score: 0.9, latencyMs: 4.5, num: { x: 1.5, n: 3 }, cat: { c: 'u' }, segment: { s: 'k' } });
    expect(fromProto.predictions[0].num.miss).toBeNaN();
    expect(fromProto.labels).toEqual([{ model: 'mm', id: 'a', ts: 1700000001000, label: 'no' }]);
    // The protobuf really is protobuf: it round-trips through the schema.
    const decoded = ExportLogsServiceRequest.decode(encodeRequest(entries, res, 'protobuf'));
    expect(ExportLogsServiceRequest.toObject(decoded, { longs: String })).toMatchObject({ resourceLogs: [{ scopeLogs: [{ logRecords: [{}, {}] }] }] });
    expect(buildRequest(entries, res).resourceLogs[0].scopeLogs[0].logRecords).toHaveLength(2);
  });

  it('reads protobuf off the wire exactly as the generic decoder does, bad records included', () => {
    const wrongType = { ...good, attributes: [...good.attributes, kv('ml.prediction.score', { stringValue: 'high' })] };
    const arrays = { ...good, attributes: [...good.attributes, kv('ml.feature.vec', { arrayValue: { values: [{ doubleValue: 1 }] } })] };
    const label = { eventName: 'ml.label', timeUnixNano: '1700000000000000000', attributes: [kv('ml.prediction.id', { stringValue: 'p1' }), kv('ml.label.value', { boolValue: true })] };
    const noModel = { eventName: 'ml.prediction', attributes: [kv('ml.prediction.value', { doubleValue: 1 })] };
    const legacyEvent = { attributes: [kv('event.name', { stringValue: 'ml.prediction' }), kv('ml.prediction.id', { stringValue: 'legacy' }), kv('ml.prediction.value', { stringValue: 'x' }), kv('ml.model.name', { stringValue: 'rec-level' })] };
    const req = {
      resourceLogs: [
        { resource: { attributes: [kv('ml.model.name', { stringValue: 'm' }), kv('ml.model.version', { intValue: 3 })] }, scopeLogs: [{ logRecords: [good, wrongType, arrays, label] }, { logRecords: [good] }] },
        { scopeLogs: [{ logRecords: [noModel, legacyEvent, { body: { stringValue: 'x' } }] }] },
      ],
    };
    const bytes = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req)).finish();
    const now = NOW;
    const generic = decodeLogs(parseLogsRequest(bytes, 'protobuf'), LIMITS, now);
    const direct = decodeLogsProtobuf(bytes, LIMITS, now);
    expect(direct).toEqual(generic);
    expect(direct.predictions.map((p) => p.model)).toEqual(['m', 'm', 'rec-level']);
    expect(direct.predictions.map((p) => p.version)).toEqual(['3', '3', 'unversioned']);
    expect(direct.rejected.map((r) => r.path)).toEqual([
      'resourceLogs[0].scopeLogs[0].logRecords[1].attributes["ml.prediction.score"]',
      'resourceLogs[0].scopeLogs[0].logRecords[2].attributes["ml.feature.vec"]',
      'resourceLogs[1].scopeLogs[0].logRecords[0].attributes["ml.model.name"]',
      'resourceLogs[1].scopeLogs[0].logRecords[2].eventName',
    ]);
    expect(direct.labels).toEqual([{ model: 'm', id: 'p1', ts: 1700000000000, label: 'true' }]);
    expect(() => decodeLogsProtobuf(bytes.subarray(0, bytes.length - 3), { maxFeatures: 500, maxStringBytes: 4096 })).toThrow(BadRequest);
  });

  it('reads 64-bit integers and timestamps off the wire as the generic decoder does', () => {
    // Integer attributes and timestamps are read without protobufjs' Long objects: every width and
    // sign of varint, against its decoding.
    const ints = ['0', '1', '127', '128', '16383', '16384', '2147483647', '2147483648', '4294967295', '4294967296', '34359738367', '34359738368', '9007199254740991', '-1', '-2', '-128', '-2147483648', '-2147483649', '-4294967296', '-9007199254740991', '123456789012345', '-123456789012345'];
    const rec = (i: number, time: string) => ({
      timeUnixNano: time,
      observedTimeUnixNano: '1700000000999000000',
      eventName: 'ml.prediction',
      attributes: [kv('ml.prediction.id', { stringValue: `i${i}` }), kv('ml.prediction.value', { intValue: ints[i] }), kv('ml.feature.n', { intValue: ints[i] }), kv('ml.segment.s', { intValue: ints[i] })],
    });
    const times = ['1700000000123000000', '1700000000000000001', '0', '18446744073709551615'];
    const req = request(ints.map((_, i) => rec(i, times[i % times.length])));
    const bytes = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req)).finish();
    const limits = { ...LIMITS, maxAgeMs: undefined, maxFutureMs: undefined };
    const direct = decodeLogsProtobuf(bytes, limits, NOW);
    expect(direct).toEqual(decodeLogs(parseLogsRequest(bytes, 'protobuf'), limits, NOW));
    expect(direct.predictions.map((p) => p.num.n)).toEqual(ints.map(Number));
    expect(direct.predictions.map((p) => p.ts).slice(0, 3)).toEqual([1700000000123, 1700000000000, 1700000000999]);
  });

  it('refuses timestamps the store would expire at once, or from the future, by name', () => {
    const at = (ms: number) => ({ ...good, timeUnixNano: `${ms}000000` });
    const day = 86_400_000;
    const b = decodeLogs(request([at(NOW - 31 * day), at(NOW - 29 * day), at(NOW + 2 * 3_600_000), at(NOW + 30 * 60_000)]), LIMITS, NOW);
    expect(b.predictions.map((p) => p.ts)).toEqual([NOW - 29 * day, NOW + 30 * 60_000]);
    expect(b.rejected).toEqual([
      { path: 'resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano', reason: `timestamp ${new Date(NOW - 31 * day).toISOString()} is older than the retention (30 days)` },
      { path: 'resourceLogs[0].scopeLogs[0].logRecords[2].timeUnixNano', reason: `timestamp ${new Date(NOW + 2 * 3_600_000).toISOString()} is more than 60 minutes in the future (clock skew?)` },
    ]);
  });

  it('keeps zeros, empty-looking but real values, in both front ends', () => {
    const zero = { eventName: 'ml.prediction', attributes: [kv('ml.prediction.value', { intValue: 0 }), kv('ml.prediction.score', { doubleValue: 0 }), kv('ml.prediction.latency_ms', { doubleValue: 0 }), kv('ml.feature.x', { intValue: 0 }), kv('ml.prediction.id', { stringValue: 'z' })] };
    const label = { eventName: 'ml.label', attributes: [kv('ml.prediction.id', { stringValue: 'z' }), kv('ml.label.value', { intValue: 0 })] };
    const req = request([zero, label]);
    for (const b of [decodeLogs(req, LIMITS, NOW), decodeLogsProtobuf(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req)).finish(), LIMITS, NOW)]) {
      expect(b.rejected).toEqual([]);
      expect(b.predictions[0]).toMatchObject({ prediction: '0', predictionNum: 0, score: 0, latencyMs: 0, num: { x: 0 } });
      expect(b.labels[0].label).toBe('0');
    }
  });
});
