// The hand-written protobuf encoder against the schema (protobufjs) and the collector's decoder:
// protobuf and JSON requests of the same batch decode to the same rows, and to the rows of the
// reference (protobufjs-built) encoding of the same records.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ColumnBuffer } from '../../agent/buffer.js';
import type { Batch, PipelineConfig } from '../../agent/batch.js';
import { encodeRequest, type Entry } from '../../agent/encode.js';
import { createPipeline } from '../../agent/pipeline.js';
import { decodeLogs, parseLogsRequest } from '../../collector/ingest/otlp-logs.js';
import { ExportLogsServiceRequest, TO_JSON_SHAPE } from '../../otlp/schema.js';

const cfg = (over: Partial<PipelineConfig> = {}): PipelineConfig => ({
  url: 'http://127.0.0.1:1/v1/logs',
  encoding: 'protobuf',
  gzip: false,
  headers: {},
  timeoutMs: 1000,
  retryDeadlineMs: 0,
  retryBaseMs: 1,
  retryMaxMs: 1,
  model: 'credit',
  version: 'v7',
  sdkVersion: 'test',
  redact: {},
  redactSalt: '',
  ...over,
});

const env = { gzip: async (b: Uint8Array) => b, hash: (t: string) => createHash('sha256').update(t).digest('hex'), post: () => {} };

type Row = { id: string; ts: number; features: Record<string, number | string | boolean | null>; prediction: number | string | boolean; score?: number; latencyMs?: number; segment?: Record<string, string> };

const rows: Row[] = [
  { id: 'a', ts: 1700000000123, features: { age: 41, income: 52000.5, country: 'DE', vip: true, miss: null }, prediction: 1, score: 0.83, latencyMs: 4.2, segment: { channel: 'web' } },
  { id: 'b', ts: 1700000000999, features: { age: -3, income: NaN, country: 'Ünïcødé ✓', vip: false, miss: 7 }, prediction: 'approve' },
  { id: 'c', ts: 1, features: { age: 2 ** 53 + 2, income: -Infinity, country: '', vip: true, miss: null }, prediction: false, score: 0, latencyMs: 0 },
  { id: 'd'.repeat(300), ts: 1893456000000, features: { big: 1e300, neg: -(2 ** 40), s: 'x'.repeat(1000) }, prediction: 0.25 },
];

function batchOf(input: Row[], labels: Batch['labels'] = []): Batch {
  let full = 0;
  const buf = new ColumnBuffer(1 << 24, 100, 4096, () => {}, () => full++);
  for (const r of input) buf.push(r.features, r.id, r.ts, r.prediction, r.score, r.latencyMs, r.segment);
  for (const l of labels) buf.label(l.id, l.value, l.ts);
  buf.sealAll();
  return buf.take()!;
}

function reference(input: Row[], labels: Batch['labels']): Uint8Array {
  const entries: Entry[] = [
    ...input.map((r) => ({ kind: 'prediction' as const, ts: r.ts, id: r.id, features: r.features, prediction: r.prediction, score: r.score, latencyMs: r.latencyMs, segment: r.segment })),
    ...labels.map((l) => ({ kind: 'label' as const, ts: l.ts, id: l.id, value: l.value })),
  ];
  return encodeRequest(entries, { model: 'credit', version: 'v7', sdkVersion: 'test' }, 'protobuf');
}

describe('OTLP encoding of columnar batches', () => {
  const labels = [
    { id: 'a', value: 0, ts: 1700000005000 },
    { id: 'b', value: 'reject', ts: 1700000006000 },
    { id: 'c', value: true, ts: 1700000007000 },
  ];

  it('protobuf decodes with the schema and through the collector exactly like JSON and the reference encoder', () => {
    const proto = createPipeline(cfg(), env).encode(batchOf(rows, labels));
    const json = createPipeline(cfg({ encoding: 'json' }), env).encode(batchOf(rows, labels));
    const viaSchema = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(proto), TO_JSON_SHAPE);
    expect(viaSchema.resourceLogs[0].scopeLogs[0].logRecords).toHaveLength(rows.length + labels.length);

    const now = 1;
    const fromProto = decodeLogs(parseLogsRequest(proto, 'protobuf'), undefined, now);
    const fromJson = decodeLogs(parseLogsRequest(json, 'json'), undefined, now);
    const fromRef = decodeLogs(parseLogsRequest(reference(rows, labels), 'protobuf'), undefined, now);
    expect(fromProto.rejected).toEqual([]);
    expect(fromProto).toEqual(fromJson);
    expect(fromProto).toEqual(fromRef);
    expect(fromProto.predictions[0]).toMatchObject({ model: 'credit', version: 'v7', id: 'a', ts: 1700000000123, prediction: '1', score: 0.83, latencyMs: 4.2, num: { age: 41, income: 52000.5 }, cat: { country: 'DE', vip: 'true' }, segment: { channel: 'web' } });
    expect(fromProto.predictions[1].cat.country).toBe('Ünïcødé ✓');
    expect(fromProto.predictions[2].num.income).toBe(-Infinity);
    expect(fromProto.labels.map((l) => l.label)).toEqual(['0', 'reject', 'true']);
    // The same attributes as the reference encoding, record by record (order aside).
    const ref = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(reference(rows, labels)), TO_JSON_SHAPE);
    const sortAttrs = (r: { attributes: { key: string }[] }) => ({ ...r, attributes: [...r.attributes].sort((x, y) => x.key.localeCompare(y.key)) });
    expect(viaSchema.resourceLogs[0].scopeLogs[0].logRecords.map(sortAttrs)).toEqual(ref.resourceLogs[0].scopeLogs[0].logRecords.map(sortAttrs));
  });

  it('encodes many rows and several layouts in one request', () => {
    const many: Row[] = [];
    for (let i = 0; i < 250; i++) many.push(i % 3 === 0 ? { id: `r${i}`, ts: 1700000000000 + i, features: { a: i, b: i / 7 }, prediction: i } : { id: `r${i}`, ts: 1700000000000 + i, features: { b: i / 7, a: i, c: 'k' + (i % 5) }, prediction: 'p' });
    const proto = createPipeline(cfg(), env).encode(batchOf(many.slice(0, 100)));
    const out = decodeLogs(parseLogsRequest(proto, 'protobuf'));
    expect(out.predictions).toHaveLength(100);
    expect(out.rejected).toEqual([]);
    const byId = new Map(out.predictions.map((p) => [p.id, p]));
    expect(byId.get('r3')).toMatchObject({ num: { a: 3, b: 3 / 7 }, prediction: '3' });
    expect(byId.get('r4')).toMatchObject({ num: { a: 4, b: 4 / 7 }, cat: { c: 'k4' }, prediction: 'p' });
  });

  it('redacts: drops or hashes named features before they leave', () => {
    const c = cfg({ redact: { income: 'drop', country: 'hash' }, redactSalt: 's' });
    for (const encoding of ['protobuf', 'json'] as const) {
      const body = createPipeline({ ...c, encoding }, env).encode(batchOf(rows.slice(0, 2)));
      const out = decodeLogs(parseLogsRequest(body, encoding));
      const [a, b] = out.predictions;
      expect('income' in a.num || 'income' in a.cat).toBe(false);
      expect(a.cat.country).toBe(createHash('sha256').update('sDE').digest('hex').slice(0, 32));
      expect(b.cat.country).not.toContain('Ü');
      expect(a.num.age).toBe(41);
      expect(Buffer.from(body).includes('52000')).toBe(false);
    }
  });
});
