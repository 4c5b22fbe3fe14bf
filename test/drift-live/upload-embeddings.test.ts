// Uploaded references with vector columns: a CSV, JSON lines or Parquet file's vectors become the
// baseline's embedding profiles, the same as the same vectors sent live and profiled from a past
// window (counts, per-dimension mean and variance, tr(Sigma^2)), and the drift API reports the same
// embedding columns against either. Bad vector columns fail the upload, naming the column.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertPredictions } from '../../collector/store/writer.js';
import type { PredictionRow } from '../../collector/ingest/records.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { rng } from '../../demo/model.js';

const MIN = 60_000;
const D = 16;

interface Sample { x: number; text: Float32Array; img?: Float32Array }

/** Float32 vectors (as ingest stores them): `text` d = 16, `img` d = 4 missing in every 7th row, non-finite in every 50th. */
function samples(n: number, seed: number, shift: number): Sample[] {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return Array.from({ length: n }, (_, i) => {
    const z = normal();
    const text = Float32Array.from({ length: D }, (_, j) => (j < 4 ? z * 1.5 : 0) + normal() * (0.5 + j / 16) + (j < 4 ? shift : 0));
    const img = i % 7 === 3 ? undefined : Float32Array.from({ length: 4 }, (_, j) => (i % 50 === 1 && j === 2 ? NaN : normal() * 2 + 1));
    return { x: Math.round(normal() * 1000) / 100, text, ...(img ? { img } : {}) };
  });
}

const toRows = (s: Sample[], version: string, from: number): PredictionRow[] =>
  s.map((v, i) => ({
    model: 'upemb', version, ts: from + i * 1000, id: `${version}-${from}-${i}`, prediction: '1', predictionNum: 1, score: NaN, latencyMs: NaN,
    num: { x: v.x }, cat: {}, segment: {}, emb: { text: v.text, ...(v.img ? { img: v.img } : {}) },
  }));

// 9 significant digits: not the float32's shortest decimal, so the upload's rounding to Float32 is what makes them equal.
const dec = (x: number) => (Number.isNaN(x) ? 'nan' : x.toPrecision(9));
const list = (v: ArrayLike<number>) => `[${Array.from(v, dec).join(', ')}]`;

interface EmbProfile { embedding: string; dimension: number; rows: number; n: number; non_finite: number; mean: number[]; var: number[]; trace_sq: number | null; trace_sq_n: number }
interface Column { column: string; type: string; statistic: number; p_value: number | null; effect_size?: number | null; drift: boolean; [k: string]: unknown }
interface Version { version: string; reference_rows: number; current_rows: number; columns: Column[] }

const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), 1e-300));

describe('uploaded references with embeddings', () => {
  let c: TestCollector;
  const now = Date.now();
  const refFrom = Math.floor((now - 3 * 3_600_000) / MIN) * MIN;
  const ref = samples(600, 11, 0);
  const cur = samples(500, 12, 0.6);
  let worst = 0;
  let worstAt = '';

  beforeAll(async () => {
    c = await startTestCollector({ baselineRows: 1_000_000 });
    await insertPredictions(c.store, toRows(ref, 'live', refFrom));
  });
  afterAll(async () => {
    console.log(`uploaded vs live embedding profiles and drift columns: max relative difference ${worst.toExponential(2)} (${worstAt})`);
    await c?.close();
  });

  const api = (path: string, init?: RequestInit) => fetch(`${c.url}/api/v1/models/upemb${path}`, init);
  const upload = (version: string, body: BodyInit, contentType: string) => api(`/baseline?version=${version}`, { method: 'POST', body, headers: { 'content-type': contentType } });
  const embeddings = async (version: string): Promise<EmbProfile[]> => {
    const res = await api(`/baseline?version=${version}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { baselines: { embeddings: EmbProfile[] }[] }).baselines[0].embeddings;
  };
  const drift = async (version: string): Promise<Version> => {
    const res = await api(`/drift?window=1h&version=${version}`);
    expect(res.status, await res.clone().text()).toBe(200);
    return ((await res.json()) as { versions: Version[] }).versions[0];
  };
  const close = (got: number | null | undefined, want: number | null | undefined, what: string) => {
    if (want === null || want === undefined || Number.isNaN(want)) return expect(got, what).toBe(want);
    const r = rel(got as number, want);
    if (r > worst) [worst, worstAt] = [r, what];
    expect(r, `${what}: ${got} vs ${want}`).toBeLessThan(1e-12);
  };

  const csv = () => 'id,x,text,img\n' + ref.map((s, i) => `${i},${s.x},"${list(s.text)}",${s.img ? `"${list(s.img)}"` : ''}`).join('\n') + '\n';
  // JSON has no NaN: a null element makes the vector non-finite, as "nan" does in CSV.
  const jsonl = () => ref.map((s) => `{"x":${s.x},"text":${list(s.text)}${s.img ? `,"img":${list(s.img).replace('nan', 'null')}` : ''}}`).join('\n');
  async function parquet(): Promise<Uint8Array<ArrayBuffer>> {
    // Written by the engine's Parquet writer: Float32 lists, NULL for the missing element, [] for a missing vector.
    await c.store.client.command({ query: 'CREATE TABLE IF NOT EXISTS pq_src (x Float64, text Array(Float32), img Array(Nullable(Float32))) ENGINE = Memory' });
    await c.store.client.insert({
      table: 'pq_src',
      format: 'JSONEachRow',
      values: ref.map((s) => ({ x: s.x, text: Array.from(s.text), img: s.img ? Array.from(s.img, (v) => (Number.isNaN(v) ? null : v)) : [] })),
    });
    const rs = await c.store.client.exec({ query: 'SELECT x, text, img FROM pq_src FORMAT Parquet' });
    const chunks: Buffer[] = [];
    for await (const chunk of rs.stream) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }

  it('a file with vector columns gives the embedding profiles of the same vectors sent live', async () => {
    const res = await api('/baseline', { method: 'PUT', body: JSON.stringify({ version: 'live', from: refFrom / 1000, to: (refFrom + 599_000) / 1000 }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ rows: 600, embeddings: 2 });
    const live = await embeddings('live');
    expect(live.map((e) => [e.embedding, e.dimension, e.rows, e.n, e.non_finite, e.trace_sq_n])).toEqual([
      ['img', 4, 600, 600 - 86 - 10, 10, 504],
      ['text', D, 600, 600, 0, 600],
    ]);
    for (const [version, body, type] of [['up-csv', csv(), 'text/csv'], ['up-jsonl', jsonl(), 'application/x-ndjson'], ['up-pq', await parquet(), 'application/vnd.apache.parquet']] as const) {
      const up = await upload(version, body, type);
      expect(up.status, await up.clone().text()).toBe(200);
      expect(await up.json()).toMatchObject({ version, rows: 600, features: 1, embeddings: 2, from: null });
      const got = await embeddings(version);
      expect(got.map((e) => e.embedding)).toEqual(['img', 'text']);
      for (const [k, e] of got.entries()) {
        const l = live[k];
        expect([e.dimension, e.rows, e.n, e.non_finite, e.trace_sq_n], `${version} ${e.embedding}`).toEqual([l.dimension, l.rows, l.n, l.non_finite, l.trace_sq_n]);
        e.mean.forEach((x, j) => close(x, l.mean[j], `${version} ${e.embedding} mean[${j}]`));
        e.var.forEach((x, j) => close(x, l.var[j], `${version} ${e.embedding} var[${j}]`));
        close(e.trace_sq, l.trace_sq, `${version} ${e.embedding} tr(Sigma^2)`);
      }
    }
  });

  it('drift against an uploaded reference reports the embeddings as against the live one', async () => {
    for (const v of ['live', 'up-csv', 'up-jsonl', 'up-pq']) await insertPredictions(c.store, toRows(cur, v, now - 30 * MIN));
    const live = await drift('live');
    const text = live.columns.find((x) => x.column === 'text')!;
    expect(text).toMatchObject({ type: 'embedding', method: 'centroid', dimension: D, drift: true, reference_missing: 0, current_missing: 0 });
    expect(live.columns.find((x) => x.column === 'img')).toMatchObject({ type: 'embedding', drift: false, reference_missing: 96, dimension: 4 });
    for (const v of ['up-csv', 'up-jsonl', 'up-pq']) {
      const got = await drift(v);
      expect([got.reference_rows, got.current_rows]).toEqual([live.reference_rows, live.current_rows]);
      expect(got.columns.map((x) => x.column)).toEqual(['x', 'img', 'text']);
      for (const col of got.columns) {
        const want = live.columns.find((x) => x.column === col.column)!;
        const { statistic, p_value, effect_size, quality, ...rest } = col;
        const { statistic: s0, p_value: p0, effect_size: e0, quality: q0, ...rest0 } = want;
        expect(rest, `${v} ${col.column}`).toEqual(rest0);
        expect(quality).toEqual(q0);
        close(statistic, s0, `${v} ${col.column} statistic`);
        close(p_value, p0, `${v} ${col.column} p-value`);
        close(effect_size, e0, `${v} ${col.column} effect size`);
      }
    }
  });

  it('a file of vectors only is a baseline of embeddings', async () => {
    const up = await upload('only-emb', ref.map((s) => JSON.stringify({ text: Array.from(s.text) })).join('\n'), 'application/x-ndjson');
    expect(up.status, await up.clone().text()).toBe(200);
    expect(await up.json()).toMatchObject({ rows: 600, features: 0, embeddings: 1 });
    await insertPredictions(c.store, toRows(cur, 'only-emb', now - 30 * MIN));
    const got = await drift('only-emb');
    expect(got).toMatchObject({ reference_rows: 600, current_rows: 500 });
    expect(got.columns.map((x) => [x.column, x.type, x.drift])).toEqual([['text', 'embedding', true]]);
  });

  it('holds an embedding to one dimension per version, whether the reference or live records came first', async () => {
    const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
    const send = (version: string, id: string, dim: number) =>
      fetch(`${c.url}/v1/logs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ resourceLogs: [{ resource: { attributes: [kv('ml.model.name', { stringValue: 'upemb' }), kv('ml.model.version', { stringValue: version })] }, scopeLogs: [{ logRecords: [{
          timeUnixNano: `${Date.now()}000000`, eventName: 'ml.prediction',
          attributes: [kv('ml.prediction.id', { stringValue: id }), kv('ml.prediction.value', { intValue: 1 }),
            kv('ml.embedding.v', { arrayValue: { values: Array.from({ length: dim }, (_, j) => ({ doubleValue: j / 4 })) } })],
        }] }] }] }),
      });
    const vectors = (dim: number) => Array.from({ length: 20 }, (_, i) => JSON.stringify({ v: Array.from({ length: dim }, (_, j) => i + j / 4) })).join('\n');
    // Live first (d = 4): a reference of d = 3 is refused by name, and no baseline is set.
    expect((await send('dim-live', 'l1', 4)).status).toBe(200);
    const refused = await upload('dim-live', vectors(3), 'application/x-ndjson');
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toBe('column "v": vectors of dimension 3, but embedding "v" of model "upemb" version "dim-live" has dimension 4');
    expect((await api('/baseline?version=dim-live')).status).toBe(404);
    expect((await upload('dim-live', vectors(4), 'application/x-ndjson')).status).toBe(200);
    // The reference first (d = 5): live records of d = 4 are then refused by name.
    expect((await upload('dim-ref', vectors(5), 'application/x-ndjson')).status).toBe(200);
    const live = await send('dim-ref', 'r1', 4);
    expect(live.status).toBe(400);
    expect(((await live.json()) as { message: string }).message).toContain('dimension 4, but embedding "v" of model "upemb" version "dim-ref" has dimension 5');
    expect((await send('dim-ref', 'r2', 5)).status).toBe(200);
  });

  it('refuses vectors of different lengths, or too long, naming the column', async () => {
    const bad = [
      ['bad-csv', 'x,emb\n1,"[1, 2, 3]"\n2,"[1, 2]"\n3,\n', 'text/csv', /column "emb" has vectors of 2 different lengths \(2, 3\)/],
      ['bad-jsonl', '{"x":1,"emb":[1,2,3]}\n{"x":2,"emb":[1,2,3,4]}\n', 'application/x-ndjson', /column "emb" has vectors of 2 different lengths \(3, 4\)/],
      ['bad-long', `{"emb":[${Array(4097).fill(0).join(',')}]}\n{"emb":[${Array(4097).fill(1).join(',')}]}\n`, 'application/x-ndjson', /column "emb" has vectors of 4097 numbers: an embedding has at most 4096/],
    ] as const;
    for (const [version, body, type, message] of bad) {
      const res = await upload(version, body, type);
      expect(res.status, version).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(message);
      expect((await api(`/baseline?version=${version}`)).status, `${version}: no baseline`).toBe(404);
    }
    await c.store.client.command({ query: 'CREATE TABLE pq_bad (x Float64, emb Array(Float64)) ENGINE = Memory' });
    await c.store.client.command({ query: 'INSERT INTO pq_bad VALUES (1, [1, 2]), (2, [1, 2, 3]), (3, [])' });
    const rs = await c.store.client.exec({ query: 'SELECT x, emb FROM pq_bad FORMAT Parquet' });
    const chunks: Buffer[] = [];
    for await (const chunk of rs.stream) chunks.push(chunk as Buffer);
    const res = await upload('bad-pq', new Uint8Array(Buffer.concat(chunks)), 'application/vnd.apache.parquet');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/column "emb" has vectors of 2 different lengths \(2, 3\)/);
  });
});
