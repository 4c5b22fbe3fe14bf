// The hand-written protobuf encoder against the schema (protobufjs) and the collector's decoder:
// protobuf and JSON requests of the same batch decode to the same rows, and to the rows of the
// reference (protobufjs-built) encoding of the same records.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { ColumnBuffer } from '../../agent/buffer.js';
import type { Batch, PipelineConfig } from '../../agent/batch.js';
import { encodeRequest, type Entry } from '../helpers/reference-encoder.js';
import { createPipeline } from '../../agent/pipeline.js';
import { httpPost } from '../../agent/worker.js';
import { decodeLogs, DEFAULT_LIMITS, parseLogsRequest } from '../../collector/ingest/otlp-logs.js';
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
  idPrefix: 'gen-',
  redact: {},
  redactSalt: '',
  ...over,
});

// Encoding only: nothing is posted.
const env = { gzip: async (b: Uint8Array) => b, hash: (t: string) => createHash('sha256').update(t).digest('hex'), post: () => {}, request: () => Promise.reject(new Error('not posted in these tests')) };

type Row = { id: string; ts: number; features: Record<string, number | string | boolean | null>; prediction: number | string | boolean; score?: number; latencyMs?: number; segment?: Record<string, string> };

// Recent timestamps: the collector refuses records outside its retention or from the future.
const T = Math.floor(Date.now() / 1000) * 1000 - 600_000;
const rows: Row[] = [
  { id: 'a', ts: T + 123, features: { age: 41, income: 52000.5, country: 'DE', vip: true, miss: null }, prediction: 1, score: 0.83, latencyMs: 4.2, segment: { channel: 'web' } },
  { id: 'b', ts: T + 999, features: { age: -3, income: NaN, country: 'Ünïcødé ✓', vip: false, miss: 7 }, prediction: 'approve' },
  { id: 'c', ts: T + 1, features: { age: 2 ** 53 + 2, income: -Infinity, country: '', vip: true, miss: null }, prediction: false, score: 0, latencyMs: 0 },
  { id: 'd'.repeat(300), ts: T + 2000, features: { big: 1e300, neg: -(2 ** 40), s: 'x'.repeat(1000) }, prediction: 0.25 },
];

function batchOf(input: Row[], labels: Batch['labels'] = []): Batch {
  let full = 0;
  const buf = new ColumnBuffer(1 << 24, 100, 4096, () => {}, () => full++);
  for (const r of input) buf.push(r.features, -1, r.id, r.ts, r.prediction, r.score, r.latencyMs, r.segment);
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
    { id: 'a', value: 0, ts: T + 5000 },
    { id: 'b', value: 'reject', ts: T + 6000 },
    { id: 'c', value: true, ts: T + 7000 },
  ];

  it('protobuf decodes with the schema and through the collector exactly like JSON and the reference encoder', () => {
    const proto = createPipeline(cfg(), env).encode(batchOf(rows, labels));
    const json = createPipeline(cfg({ encoding: 'json' }), env).encode(batchOf(rows, labels));
    const viaSchema = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(proto), TO_JSON_SHAPE);
    expect(viaSchema.resourceLogs[0].scopeLogs[0].logRecords).toHaveLength(rows.length + labels.length);

    const fromProto = decodeLogs(parseLogsRequest(proto, 'protobuf'));
    const fromJson = decodeLogs(parseLogsRequest(json, 'json'));
    const fromRef = decodeLogs(parseLogsRequest(reference(rows, labels), 'protobuf'));
    expect(fromProto.rejected).toEqual([]);
    expect(fromProto).toEqual(fromJson);
    expect(fromProto).toEqual(fromRef);
    expect(fromProto.predictions[0]).toMatchObject({ model: 'credit', version: 'v7', id: 'a', ts: T + 123, prediction: '1', score: 0.83, latencyMs: 4.2, num: { age: 41, income: 52000.5 }, cat: { country: 'DE', vip: 'true' }, segment: { channel: 'web' } });
    expect(fromProto.predictions[1].cat.country).toBe('Ünïcødé ✓');
    expect(fromProto.predictions[2].num.income).toBe(-Infinity);
    expect(fromProto.labels.map((l) => l.label)).toEqual(['0', 'reject', 'true']);
    // The same attributes as the reference encoding, record by record (order aside).
    const ref = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(reference(rows, labels)), TO_JSON_SHAPE);
    const sortAttrs = (r: { attributes: { key: string }[] }) => ({ ...r, attributes: [...r.attributes].sort((x, y) => x.key.localeCompare(y.key)) });
    expect(viaSchema.resourceLogs[0].scopeLogs[0].logRecords.map(sortAttrs)).toEqual(ref.resourceLogs[0].scopeLogs[0].logRecords.map(sortAttrs));
  });

  it('writes time_unix_nano exactly, whatever the epoch', () => {
    const times = [1, 999, 1700000000123, 1893456000000, 4102444800999];
    const batch = batchOf(times.map((ts, i) => ({ id: `t${i}`, ts, features: {}, prediction: 1 })));
    const req = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(createPipeline(cfg(), env).encode(batch)), TO_JSON_SHAPE);
    expect(req.resourceLogs[0].scopeLogs[0].logRecords.map((r: { timeUnixNano: string }) => r.timeUnixNano)).toEqual(times.map((t) => `${BigInt(t) * 1000000n}`));
  });

  it('encodes many rows and several layouts in one request', () => {
    const many: Row[] = [];
    for (let i = 0; i < 250; i++) many.push(i % 3 === 0 ? { id: `r${i}`, ts: T + i, features: { a: i, b: i / 7 }, prediction: i } : { id: `r${i}`, ts: T + i, features: { b: i / 7, a: i, c: 'k' + (i % 5) }, prediction: 'p' });
    const proto = createPipeline(cfg(), env).encode(batchOf(many.slice(0, 100)));
    const out = decodeLogs(parseLogsRequest(proto, 'protobuf'));
    expect(out.predictions).toHaveLength(100);
    expect(out.rejected).toEqual([]);
    const byId = new Map(out.predictions.map((p) => [p.id, p]));
    expect(byId.get('r3')).toMatchObject({ num: { a: 3, b: 3 / 7 }, prediction: '3' });
    expect(byId.get('r4')).toMatchObject({ num: { a: 4, b: 4 / 7 }, cat: { c: 'k4' }, prediction: 'p' });
  });

  it('writes rows of non-integer numbers from a template exactly as attribute by attribute, and records of any length', () => {
    const doubles = [0.5, NaN, Infinity, -Infinity, 1e300, 5e-324, -2.5, 2 ** 60, -(2 ** 70), 1 / 3];
    const many: Row[] = [];
    for (let i = 0; i < 40; i++) {
      const features: Row['features'] = {};
      for (let k = 0; k < 10; k++) features[`f${k}`] = doubles[(i + k) % doubles.length];
      // Every fifth row has one cell the template cannot take (an integer, a string, a missing value).
      if (i % 5 === 1) features.f3 = i;
      if (i % 5 === 2) features.f7 = 'txt';
      if (i % 5 === 3) features.f0 = null;
      many.push({ id: `d${i}`, ts: T + i, features, prediction: i / 7, score: i % 2 ? 0.25 : undefined });
    }
    // A record under 128 bytes (a one-byte length) and one over 16 KiB (three bytes).
    many.push({ id: 's', ts: T, features: {}, prediction: 1 });
    const wide: Row['features'] = {};
    for (let k = 0; k < 1500; k++) wide[`w${k}`] = k + 0.5;
    many.push({ id: 'w', ts: T, features: wide, prediction: 2 });
    const proto = createPipeline(cfg(), env).encode(batchOf(many));
    const viaSchema = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(proto), TO_JSON_SHAPE);
    const ref = ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(reference(many, [])), TO_JSON_SHAPE);
    const sortAttrs = (r: { attributes: { key: string }[] }) => ({ ...r, attributes: [...r.attributes].sort((x, y) => x.key.localeCompare(y.key)) });
    expect(viaSchema.resourceLogs[0].scopeLogs[0].logRecords.map(sortAttrs)).toEqual(ref.resourceLogs[0].scopeLogs[0].logRecords.map(sortAttrs));
    const out = decodeLogs(parseLogsRequest(proto, 'protobuf'), { ...DEFAULT_LIMITS, maxFeatures: 2000 });
    expect(out.rejected).toEqual([]);
    expect(out.predictions).toHaveLength(many.length);
    for (const [i, p] of out.predictions.entries()) {
      for (const [k, v] of Object.entries(many[i].features)) {
        if (typeof v === 'number') expect(Object.is(p.num[k], v), `${p.id} ${k}`).toBe(true);
      }
    }
    expect(out.predictions[1].num.f3).toBe(1);
    expect(out.predictions[2].cat.f7).toBe('txt');
    expect(Object.keys(out.predictions[41].num)).toHaveLength(1500);
  });

  it('keeps segments as columns and each string once per chunk', () => {
    const many: Row[] = [];
    for (let i = 0; i < 60; i++) many.push({ id: `s${i}`, ts: T + i, features: { n: i, c: ['DE', 'FR', 'US'][i % 3] }, prediction: i % 2 ? 'yes' : 'no', segment: { channel: i % 2 ? 'web' : 'app', tier: i % 4 } as unknown as Record<string, string> });
    many.push({ id: 'odd', ts: T, features: { n: 1, c: 'DE' }, prediction: 'no', segment: { channel: undefined as unknown as string, tier: 1 } as unknown as Record<string, string> });
    const batch = batchOf(many);
    expect(batch.chunks).toHaveLength(1);
    expect([...batch.chunks[0].strs].sort()).toEqual(['DE', 'FR', 'US', 'app', 'no', 'web', 'yes']);
    for (const encoding of ['protobuf', 'json'] as const) {
      const out = decodeLogs(parseLogsRequest(createPipeline(cfg({ encoding }), env).encode(batch), encoding));
      expect(out.rejected).toEqual([]);
      const byId = new Map(out.predictions.map((p) => [p.id, p]));
      expect(byId.get('s5')).toMatchObject({ prediction: 'yes', num: { n: 5 }, cat: { c: 'US' }, segment: { channel: 'web', tier: '1' } });
      expect(byId.get('odd')!.segment).toEqual({ tier: '1' }); // a missing segment value is left out
    }
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

  it.each([false, true])('sends every body intact while bodies reuse the buffers of requests answered before them (gzip %s)', async (gzip) => {
    // Rounds of batches in flight together, answered out of order; one batch is answered 503 and
    // retried while later rounds are encoded. A buffer reused before its request was answered 2xx
    // would be overwritten by a later batch while it is (re)sent.
    const received = new Map<string, Buffer[]>();
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const id = decodeLogs(parseLogsRequest(body, 'protobuf')).predictions[0].id;
        received.set(id, [...(received.get(id) ?? []), body]);
        const status = id === 'r0b3-0' && received.get(id)!.length === 1 ? 503 : 200;
        setTimeout(() => res.writeHead(status, { 'content-type': 'application/x-protobuf', 'retry-after': '1' }).end(), Math.random() * 30);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/logs`;
      const done: unknown[] = [];
      // Retry-After 1 s, capped at 4 x retryMaxMs: the retry comes 400 ms later.
      // With gzip on, this env's gzip gives back its input (a body still to be sent).
      const live = createPipeline(cfg({ url, gzip, retryDeadlineMs: 5000, retryMaxMs: 100 }), { ...env, post: (m) => done.push(m), request: httpPost(http, https) });
      const reference = createPipeline(cfg(), env);
      const batchOfRound = (round: number, b: number) => batchOf(Array.from({ length: 50 + 30 * b }, (_, i) => ({ id: `r${round}b${b}-${i}`, ts: T + i, features: { x: b + i / 3, y: round + 0.5 }, prediction: 0.5 })));
      const sends: Promise<void>[] = [];
      for (let round = 0; round < 4; round++) {
        for (let b = 0; b < 6; b++) sends.push(live.send(batchOfRound(round, b)));
        await new Promise((r) => setTimeout(r, 100));
      }
      await Promise.all(sends);
      for (let round = 0; round < 4; round++) {
        for (let b = 0; b < 6; b++) {
          const want = Buffer.from(reference.encode(batchOfRound(round, b)));
          const got = received.get(`r${round}b${b}-0`)!;
          expect(got.length).toBe(round === 0 && b === 3 ? 2 : 1);
          for (const body of got) expect(body.equals(want), `round ${round}, batch ${b}`).toBe(true);
        }
      }
      expect(done.filter((m) => (m as { type: string }).type === 'done')).toHaveLength(24);
    } finally {
      server.close();
    }
  });
});
