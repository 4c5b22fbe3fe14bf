// The receiver's protobuf path writes predictions straight into RowBinary (PredictionSink). Its
// contract: exactly what decoding to rows and encoding those would give, bytes, rejections, labels
// and all, on every kind of record (the row path is tested against the generic decoder in
// otlp-logs.test.ts).
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import { DEFAULT_LIMITS, type Limits } from '../../collector/ingest/otlp-logs.js';
import { decodeLogsProtobuf, encodeLogsProtobuf } from '../../collector/ingest/otlp-logs-protobuf.js';
import { EmbeddingDims } from '../../collector/ingest/embeddings.js';
import { encodePredictions } from '../../collector/store/rowbinary.js';
import { ExportLogsServiceRequest } from '../../otlp/schema.js';
import { resourceLogsFields, resourceLogsOf } from '../helpers/resource-logs.js';

const NOW = 1_700_000_100_000;
const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const T = '1700000000123000000';
const pred = (id: string, attrs: unknown[]) => ({ timeUnixNano: T, eventName: 'ml.prediction', attributes: [kv('ml.prediction.id', { stringValue: id }), kv('ml.prediction.value', { intValue: '1' }), ...attrs] });
const feats = (n: number, k = 0) => Array.from({ length: n }, (_, j) => kv(`ml.feature.f${j}`, { doubleValue: k * 100 + j + 0.5 }));
const encode = (req: unknown) => ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req as Record<string, unknown>)).finish();
const request = (records: unknown[], resource: unknown[] = [kv('ml.model.name', { stringValue: 'm' }), kv('ml.model.version', { stringValue: 'v1' })]) => ({ resourceLogs: [{ resource: { attributes: resource }, scopeLogs: [{ logRecords: records }] }] });

/** Both paths on the same bytes, with separate embedding-dimension state (each path claims its own). */
function both(bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS) {
  const rows = decodeLogsProtobuf(bytes, { ...limits, embeddingDims: limits.embeddingDims && new EmbeddingDims() }, NOW);
  const enc = encodeLogsProtobuf(bytes, { ...limits, embeddingDims: limits.embeddingDims && new EmbeddingDims() }, NOW);
  return { rows, enc, expected: encodePredictions(rows.predictions) };
}

function expectSame(bytes: Uint8Array, limits?: Limits) {
  const { rows, enc, expected } = both(bytes, limits);
  const p = enc.predictions;
  expect(Buffer.from(p.block.data).equals(Buffer.from(expected.data))).toBe(true);
  expect(p.block.ends).toEqual(expected.ends);
  expect(enc.rejected).toEqual(rows.rejected);
  expect(enc.labels).toEqual(rows.labels);
  // Generated ids differ between two decodings: the rows' own ids are compared where given.
  expect(p.models).toEqual(rows.predictions.map((r) => r.model));
  expect(p.versions).toEqual(rows.predictions.map((r) => r.version));
  expect(p.ids).toEqual(rows.predictions.map((r) => r.id));
  expect(p.names.map((n) => [...n].sort())).toEqual(rows.predictions.map((r) => [...Object.keys(r.num), ...Object.keys(r.cat), ...Object.keys(r.emb ?? {})].sort()));
  expect(p.embs.map((e) => (e ? Object.keys(e) : undefined))).toEqual(rows.predictions.map((r) => (r.emb ? Object.keys(r.emb) : undefined)));
  return enc;
}

describe('PredictionSink (predictions straight into RowBinary)', () => {
  it('writes the bytes the row path writes, for plain, mixed, missing and typed features, segments and labels', () => {
    const records = [
      pred('a', [...feats(20), kv('ml.prediction.score', { doubleValue: 0.25 }), kv('ml.prediction.latency_ms', { doubleValue: 3.5 })]),
      pred('b', feats(20, 1)), // the same names: one shared list
      pred('c', [kv('ml.feature.age', { intValue: 42 }), kv('ml.feature.income', { doubleValue: 'NaN' }), kv('ml.feature.country', { stringValue: 'DE' }), kv('ml.feature.vip', { boolValue: true }), kv('ml.feature.empty', {}), kv('ml.segment.channel', { stringValue: 'web' }), kv('ml.segment.n', { intValue: 7 }), kv('ml.segment.none', {})]),
      { timeUnixNano: T, eventName: 'ml.label', attributes: [kv('ml.prediction.id', { stringValue: 'a' }), kv('ml.label.value', { stringValue: 'yes' })] },
      pred('d', [kv('ml.feature.inf', { doubleValue: 'Infinity' }), kv('ml.feature.neg', { doubleValue: '-Infinity' }), kv('ml.feature.big', { intValue: '9007199254740991' })]),
      pred('e', [kv('ml.prediction.value', { stringValue: 'cat' }), kv('ml.model.name', { stringValue: 'own-model' }), kv('ml.model.version', { intValue: 3 }), ...feats(3)]),
      pred('f', []),
    ];
    const enc = expectSame(encode(request(records)));
    expect(enc.predictions.models).toEqual(['m', 'm', 'm', 'm', 'own-model', 'm']);
    expect(enc.predictions.versions).toEqual(['v1', 'v1', 'v1', 'v1', '3', 'v1']);
    expect(enc.predictions.names[0]).toBe(enc.predictions.names[1]);
    expect(enc.labels).toEqual([{ model: 'm', id: 'a', ts: 1700000000123, label: 'yes' }]);
  });

  it('writes all-number records from a template of their names, whatever their count, and records of other types among them', () => {
    const records = [
      pred('n1', feats(20)),
      pred('n2', feats(20, 1)),
      pred('mix', [...feats(19, 2), kv('ml.feature.f19', { stringValue: 'x' })]), // the same names, one a string
      pred('n3', [...feats(19, 3), kv('ml.feature.f19', { intValue: 7 })]),
      pred('wide1', feats(200)), // 200 entries: a two-byte count before the entries
      pred('wide2', feats(200, 4)),
      pred('n4', feats(20, 5)),
      pred('none1', []),
      pred('none2', []),
    ];
    const enc = expectSame(encode(request(records)));
    expect(enc.predictions.ids).toEqual(records.map((r) => (r as { attributes: { value: { stringValue: string } }[] }).attributes[0].value.stringValue));
  });

  it('gives a record without an id a generated one, in its row and beside it', () => {
    const enc = encodeLogsProtobuf(encode(request([{ timeUnixNano: T, eventName: 'ml.prediction', attributes: [kv('ml.prediction.value', { intValue: '1' }), ...feats(2)] }])), DEFAULT_LIMITS, NOW);
    const id = enc.predictions.ids[0];
    expect(id).toMatch(/^c[0-9a-z]+-[0-9a-z]+$/);
    expect(Buffer.from(enc.predictions.block.data).includes(Buffer.from([id.length, ...Buffer.from(id)]))).toBe(true);
  });

  it('rejects the records the row path rejects, with the same paths and reasons, and keeps the rest', () => {
    const records = [
      pred('ok1', feats(5)),
      pred('badscore', [...feats(2), kv('ml.prediction.score', { stringValue: 'high' })]),
      pred('arr', [kv('ml.feature.vec', { arrayValue: { values: [{ doubleValue: 1 }] } })]),
      pred('kv', [kv('ml.feature.k', { kvlistValue: { values: [] } })]),
      pred('long', [kv('ml.feature.note', { stringValue: 'x'.repeat(5000) })]),
      pred('emptyname', [kv('ml.feature.', { doubleValue: 1 })]),
      pred('badseg', [kv('ml.segment.s', { bytesValue: 'AAE=' })]),
      { body: { stringValue: 'not ours' } },
      { timeUnixNano: '1000000000000000000', eventName: 'ml.prediction', attributes: [kv('ml.prediction.value', { doubleValue: 1 })] },
      pred('ok2', feats(5)),
    ];
    const enc = expectSame(encode(request(records)));
    expect(enc.predictions.ids).toEqual(['ok1', 'ok2']);
    expect(enc.rejected).toHaveLength(8);
    const many = expectSame(encode(request([pred('many', feats(4)), pred('few', feats(3))])), { ...DEFAULT_LIMITS, maxFeatures: 3 });
    expect(many.rejected.map((r) => r.reason)).toEqual(['more than 3 features']);
  });

  it('takes a record with a name given twice, or a vector, through the row path: last value wins, dimensions checked', () => {
    const records = [
      pred('dup', [kv('ml.feature.a', { intValue: 1 }), kv('ml.feature.a', { stringValue: 'x' }), kv('ml.feature.b', { stringValue: 'y' }), kv('ml.feature.b', { doubleValue: 2.5 }), kv('ml.feature.__proto__', { intValue: 7 })]),
      pred('seg', [...feats(2), kv('ml.segment.s', { stringValue: 'first' }), kv('ml.segment.s', { stringValue: 'last' })]),
      pred('plain', feats(2)),
      pred('vec', [...feats(2), kv('ml.embedding.e', { arrayValue: { values: [{ doubleValue: 1 }, { doubleValue: 2 }] } })]),
      pred('vec-bad-dim', [kv('ml.embedding.e', { arrayValue: { values: [{ doubleValue: 1 }] } })]),
      pred('vec-missing', [...feats(2), kv('ml.embedding.e', {})]),
      pred('after', feats(2)),
    ];
    const enc = expectSame(encode(request(records)), { ...DEFAULT_LIMITS, embeddingDims: new EmbeddingDims() });
    expect(enc.predictions.ids).toEqual(['dup', 'seg', 'plain', 'vec', 'vec-missing', 'after']);
    expect(enc.rejected.map((r) => r.path)).toEqual(['resourceLogs[0].scopeLogs[0].logRecords[4].attributes["ml.embedding.e"]']);
    expect(enc.predictions.embs[3] && Array.from(enc.predictions.embs[3].e)).toEqual([1, 2]);
  });

  it('stores an embedding named __proto__ as an embedding (an assignment would have set a prototype)', () => {
    const vec = kv('ml.embedding.__proto__', { arrayValue: { values: [{ doubleValue: 1 }, { doubleValue: 2 }, { doubleValue: 3 }] } });
    const enc = expectSame(encode(request([pred('p', [...feats(2), vec])])), { ...DEFAULT_LIMITS, embeddingDims: new EmbeddingDims() });
    const emb = enc.predictions.embs[0]!;
    expect(Object.keys(emb)).toEqual(['__proto__']);
    expect(Array.from(Object.getOwnPropertyDescriptor(emb, '__proto__')!.value as Float64Array)).toEqual([1, 2, 3]);
    expect(Object.getPrototypeOf(emb)).toBe(Object.prototype);
    expect(enc.predictions.names[0]).toContain('__proto__');
    // One map entry with its three float32s, not one entry per element of a prototype.
    expect(enc.predictions.block.data.length).toBeLessThan(200);
  });

  it('sizes its buffer from the request: a small request does not hold a large one', () => {
    // Small Buffers share Node's pool (Buffer.poolSize: 8 KiB in Node 20, 64 KiB in 24): at most that.
    const one = encodeLogsProtobuf(encode(request([pred('one', feats(1))])), DEFAULT_LIMITS, NOW).predictions.block.data;
    expect(one.buffer.byteLength).toBeLessThanOrEqual(Buffer.poolSize);
    const labelsOnly = encodeLogsProtobuf(encode(request([{ timeUnixNano: T, eventName: 'ml.label', attributes: [kv('ml.prediction.id', { stringValue: 'a' }), kv('ml.label.value', { intValue: '1' })] }])), DEFAULT_LIMITS, NOW);
    expect(labelsOnly.predictions.block.data.length).toBe(0);
    expect(labelsOnly.predictions.block.data.buffer.byteLength).toBeLessThanOrEqual(Buffer.poolSize);
  });

  it('reads a resource that comes late again, dropping what it wrote from that ResourceLogs', () => {
    const recs = (ids: string[]) => ids.map((id) => pred(id, feats(3)));
    const one = (model: string, ids: string[]) => encode(request(recs(ids), [kv('ml.model.name', { stringValue: model })]));
    const fields = resourceLogsFields;
    const wrap = resourceLogsOf;
    const [resA, scope1] = fields(one('late-a', ['l1', 'l2']));
    const [resB, scope2] = fields(one('late-b', ['l3']));
    const bytes = Buffer.concat([wrap(resA, scope1), wrap(scope2, resB), wrap(resA, scope1, resB, scope2)]);
    const enc = expectSame(bytes);
    expect(enc.predictions.models).toEqual(['late-a', 'late-a', 'late-b', 'late-b', 'late-b', 'late-b']);
  });

  it('keeps every value of integer-like names, which a row object orders first (the maps differ only in order)', () => {
    const bytes = encode(request([pred('n', [kv('ml.feature.x', { doubleValue: 1 }), kv('ml.feature.2', { doubleValue: 2 }), kv('ml.feature.1', { stringValue: 'one' }), kv('ml.feature.0', { doubleValue: 0 })])]));
    const { enc, expected } = both(bytes);
    expect(enc.predictions.block.data.length).toBe(expected.data.length);
    // num in attribute order (x, 2, 0); the row object enumerates 0, 2, x.
    const text = Buffer.from(enc.predictions.block.data).toString('latin1');
    expect(text.indexOf('\u0001x')).toBeLessThan(text.indexOf('\u00012'));
    expect(text.indexOf('\u00012')).toBeLessThan(text.indexOf('\u00010'));
    expect([...Buffer.from(enc.predictions.block.data)].sort()).toEqual([...Buffer.from(expected.data)].sort());
  });
});

describe('CardinalityGuard.admitEncoded', () => {
  it('admits and rejects what admit() does on the same records, by name', async () => {
    const { CardinalityGuard } = await import('../../collector/ingest/cardinality.js');
    const records = [
      ...Array.from({ length: 6 }, (_, i) => pred(`s${i}`, feats(3))), // shared names: one check
      ...Array.from({ length: 6 }, (_, i) => pred(`b${i}`, [...feats(3), kv(`ml.feature.bomb${i}`, { doubleValue: 1 })])),
      pred('again', feats(3)),
      pred('dup', [kv('ml.feature.f0', { doubleValue: 1 }), kv('ml.feature.f0', { stringValue: 'x' }), kv('ml.feature.new1', { doubleValue: 1 })]),
    ];
    const bytes = encode({ resourceLogs: [
      request(records).resourceLogs[0],
      request([pred('m2', feats(2)), pred('m3', feats(2))], [kv('ml.model.name', { stringValue: 'other' })]).resourceLogs[0],
      request([pred('m4', feats(2))], [kv('ml.model.name', { stringValue: 'third' })]).resourceLogs[0],
    ] });
    const limits = { maxModels: 2, maxFeaturesPerModel: 6 };
    const rows = decodeLogsProtobuf(bytes, DEFAULT_LIMITS, NOW);
    const enc = encodeLogsProtobuf(bytes, DEFAULT_LIMITS, NOW);
    const rowsRejected = [...rows.rejected];
    const encRejected = [...enc.rejected];
    const kept = new CardinalityGuard(limits).admit(rows.predictions, rowsRejected);
    const keptEnc = new CardinalityGuard(limits).admitEncoded(enc.predictions, encRejected);
    expect(keptEnc.ids).toEqual(kept.map((r) => r.id));
    expect(encRejected).toEqual(rowsRejected);
    expect(Buffer.from(keptEnc.block.data).equals(Buffer.from(encodePredictions(kept).data))).toBe(true);
    expect(keptEnc.ids).toEqual(['s0', 's1', 's2', 's3', 's4', 's5', 'b0', 'b1', 'b2', 'again', 'm2', 'm3']);
    expect(encRejected.map((r) => r.reason)).toEqual([
      ...[3, 4, 5].map((i) => `feature "bomb${i}" would exceed the model's limit of 6 distinct features`),
      'feature "new1" would exceed the model\'s limit of 6 distinct features',
      'too many models (limit 2)',
    ]);
  });

  it('names the same feature as admit() whatever order the row lists its names in', async () => {
    // A row object lists integer-like names first, then numbers before text; encoded rows list
    // attributes in order. The message names the least fresh name either way.
    const { CardinalityGuard } = await import('../../collector/ingest/cardinality.js');
    const bytes = encode(request([
      pred('r1', [kv('ml.feature.country', { stringValue: 'DE' }), kv('ml.feature.age', { intValue: 1 })]),
      pred('r2', [kv('ml.feature.x', { doubleValue: 1 }), kv('ml.feature.2', { doubleValue: 1 }), kv('ml.feature.b', { stringValue: 'y' })]),
    ]));
    const rows = decodeLogsProtobuf(bytes, DEFAULT_LIMITS, NOW);
    const enc = encodeLogsProtobuf(bytes, DEFAULT_LIMITS, NOW);
    const rowsRejected = [...rows.rejected];
    const encRejected = [...enc.rejected];
    new CardinalityGuard({ maxModels: 5, maxFeaturesPerModel: 1 }).admit(rows.predictions, rowsRejected);
    new CardinalityGuard({ maxModels: 5, maxFeaturesPerModel: 1 }).admitEncoded(enc.predictions, encRejected);
    expect(encRejected).toEqual(rowsRejected);
    expect(encRejected.map((r) => r.reason.split('"')[1])).toEqual(['age', '2']);
  });
});
