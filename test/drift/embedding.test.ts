// Embedding drift (`centroid`) against numpy/scipy (test/fixtures/drift/gen_embeddings.py): the
// formula alone, and the whole path through the embedded engine: vectors stored as predictions
// (RowBinary, Float32), the reference profiled by ClickHouse (avgForEach / varSampStableForEach),
// the current side summed from raw rows and from the embedding_minutes rollup (sumForEach states),
// tr(Sigma^2) from the Gram matrix of the reference (a self-join in ClickHouse); and the p-value's
// calibration under "no change" on correlated embeddings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { insertPredictions } from '../../collector/store/writer.js';
import type { PredictionRow } from '../../collector/ingest/records.js';
import {
  buildEmbeddingProfiles,
  centroidDrift,
  embeddingColumns,
  embeddingSumsFromRaw,
  embeddingSumsFromRollups,
  gramSampleSize,
  loadEmbeddingProfiles,
  momentsFromSums,
  traceSqFromGram,
} from '../../collector/drift/embedding.js';

interface Expected { statistic: number; p_value: number; effect_size: number; expected_sq: number; dof: number; trace_sq: number; drift: boolean }
interface Case { name: string; dim: number; reference: (number | string)[][]; current: (number | string)[][]; reference_missing: number; current_missing: number; expected: Expected }
const golden = JSON.parse(readFileSync(new URL('../fixtures/drift/embeddings-golden.json', import.meta.url), 'utf8')) as { cases: Case[] };

const value = (x: number | string) => (x === 'nan' ? NaN : x === 'inf' ? Infinity : x === '-inf' ? -Infinity : Math.fround(x as number));
const vectors = (rows: (number | string)[][]) => rows.map((r) => r.map(value));

/** Two-pass mean and sample variance in JS (numpy's definitions), finite vectors only. */
function moments(rows: number[][]) {
  const ok = rows.filter((r) => r.every(Number.isFinite));
  const d = ok[0].length;
  const mean = Array<number>(d).fill(0);
  for (const r of ok) for (let j = 0; j < d; j++) mean[j] += r[j];
  for (let j = 0; j < d; j++) mean[j] /= ok.length;
  const v = Array<number>(d).fill(0);
  for (const r of ok) for (let j = 0; j < d; j++) v[j] += (r[j] - mean[j]) ** 2;
  for (let j = 0; j < d; j++) v[j] /= ok.length - 1;
  return { n: ok.length, mean, var: v };
}

/** Chen & Qin's tr(Sigma^2) of finite rows from their centered Gram matrix (what ClickHouse sums). */
function traceSq(rows: number[][]) {
  const ok = rows.filter((r) => r.every(Number.isFinite));
  const { mean } = moments(ok);
  const z = ok.map((r) => r.map((x, j) => x - mean[j]));
  let tr = 0;
  let frob2 = 0;
  let diag2 = 0;
  for (let i = 0; i < z.length; i++) {
    for (let k = i; k < z.length; k++) {
      let dot = 0;
      for (let j = 0; j < mean.length; j++) dot += z[i][j] * z[k][j];
      if (i === k) {
        tr += dot;
        diag2 += dot * dot;
        frob2 += dot * dot;
      } else frob2 += 2 * dot * dot;
    }
  }
  return traceSqFromGram(z.length, tr, frob2, diag2);
}

/** Reference moments with tr(Sigma^2), as a baseline profile holds them. */
const refMoments = (rows: number[][]) => ({ ...moments(rows), traceSq: traceSq(rows) });

// mulberry32 + Box-Muller, seeded.
function rng(seed: number) {
  let s = seed;
  const u = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), 1e-300));
const worst = { formula: 0, engine: 0 };

function check(got: { statistic: number; p_value: number | null; effect_size?: number | null; drift: boolean }, e: Expected, tol: number, which: 'formula' | 'engine', name: string) {
  for (const [k, g, w] of [['statistic', got.statistic, e.statistic], ['p_value', got.p_value!, e.p_value], ['effect_size', got.effect_size!, e.effect_size]] as const) {
    const r = rel(g, w);
    worst[which] = Math.max(worst[which], r);
    expect(r, `${name} ${k}: ${g} vs numpy/scipy ${w}`).toBeLessThan(tol);
  }
  expect(got.drift, `${name} verdict`).toBe(e.drift);
}

describe('centroid drift: the formula against numpy/scipy', () => {
  it.each(golden.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const ref = refMoments(vectors(c.reference));
    expect(rel(ref.traceSq, c.expected.trace_sq), 'tr(Sigma^2)').toBeLessThan(1e-9);
    const r = centroidDrift(ref, moments(vectors(c.current)));
    check({ ...r, drift: r.p_value < 0.05 && r.effect_size >= 0.1 }, c.expected, 1e-9, 'formula', c.name);
    expect(rel(r.dof, c.expected.dof)).toBeLessThan(1e-9);
    expect(rel(r.expected_sq, c.expected.expected_sq)).toBeLessThan(1e-9);
  });

  it('identical sides: distance 0, p-value 1; constant sides that differ: p-value 0', () => {
    const a = { n: 10, mean: [1, 2], var: [0.5, 0.5] };
    expect(centroidDrift(a, a)).toMatchObject({ statistic: 0, p_value: 1, effect_size: 0 });
    const c = centroidDrift({ n: 5, mean: [0, 0], var: [0, 0] }, { n: 5, mean: [3, 4], var: [0, 0] });
    expect(c).toMatchObject({ statistic: 5, p_value: 0 });
    expect(() => centroidDrift(a, { n: 3, mean: [1], var: [1] })).toThrow(/dimensions differ/);
  });

  it('under H0 with independent dimensions, p < 0.05 about 5% of the time', () => {
    // 400 pairs of samples from one distribution (heteroscedastic, independent dimensions).
    const normal = rng(12345);
    const sample = (k: number, d: number) => Array.from({ length: k }, () => Array.from({ length: d }, (_, j) => normal() * (1 + j / 4)));
    let hits = 0;
    const runs = 400;
    for (let i = 0; i < runs; i++) if (centroidDrift(refMoments(sample(60, 12)), moments(sample(40, 12))).p_value < 0.05) hits++;
    // Binomial(400, 0.05): mean 20, sd 4.4.
    expect(hits).toBeGreaterThan(6);
    expect(hits).toBeLessThan(36);
  });

  it('under H0 with correlated dimensions (rank 3 in 32), p < 0.05 about 5% of the time', () => {
    // 300 pairs as the golden correlated cases (n = 200 reference vectors, m = 150 current), each from
    // a fresh rank-3 basis plus N(0, 0.1^2) noise. The reference as a profile holds it (moments and
    // tr(Sigma^2) from its Gram matrix), the current side from per-dimension sums as the rollup gives.
    const normal = rng(20240518);
    const d = 32;
    let hits = 0;
    let diagonalHits = 0;
    const runs = 300;
    for (let i = 0; i < runs; i++) {
      const basis = Array.from({ length: 3 }, () => Array.from({ length: d }, () => normal()));
      const sample = (k: number) => Array.from({ length: k }, () => {
        const z = [normal(), normal(), normal()];
        return Array.from({ length: d }, (_, j) => z[0] * basis[0][j] + z[1] * basis[1][j] + z[2] * basis[2][j] + 0.1 * normal());
      });
      const ref = refMoments(sample(200));
      const cur = sample(150);
      const sum = Array<number>(d).fill(0);
      const sumSq = Array<number>(d).fill(0);
      for (const r of cur) for (let j = 0; j < d; j++) { sum[j] += r[j]; sumSq[j] += r[j] * r[j]; }
      const curMoments = momentsFromSums({ embedding: 'e', dim: d, rows: cur.length, n: cur.length, sum, sumSq });
      if (centroidDrift(ref, curMoments).p_value < 0.05) hits++;
      if (centroidDrift({ ...ref, traceSq: undefined }, curMoments).p_value < 0.05) diagonalHits++;
    }
    console.log(`centroid null calibration (rank 3 in 32 dims, ${runs} pairs): p < 0.05 in ${hits} (${((100 * hits) / runs).toFixed(1)}%), diagonal approximation ${diagonalHits} (${((100 * diagonalHits) / runs).toFixed(1)}%)`);
    // Binomial(300, 0.05): mean 15, sd 3.8; [5, 27] is about +-3 sd.
    expect(hits).toBeGreaterThanOrEqual(5);
    expect(hits).toBeLessThanOrEqual(27);
    // The diagonal approximation (profiles from before migration 9) is far off here.
    expect(diagonalHits).toBeGreaterThan(40);
  });
});

describe('centroid drift through the embedded engine', () => {
  let store: Store;
  const MIN = 60_000;
  const t0 = Math.floor((Date.now() - 3 * 3_600_000) / MIN) * MIN;
  const refFrom = t0;
  const curFrom = t0 + 60 * MIN;

  function rows(c: Case, side: 'reference' | 'current', from: number): PredictionRow[] {
    return vectors(c[side]).map((v, i) => ({
      model: 'golden', version: c.name, ts: from + i * 7, id: `${side}-${i}`, prediction: '1', predictionNum: 1, score: NaN, latencyMs: NaN,
      num: {}, cat: {}, segment: {}, emb: { e: v },
    }));
  }

  beforeAll(async () => {
    store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'dw-embedding-')) });
    await migrate(store.client, { retentionDays: 30 });
    for (const c of golden.cases) {
      await insertPredictions(store, rows(c, 'reference', refFrom));
      await insertPredictions(store, rows(c, 'current', curFrom));
    }
  });
  afterAll(async () => {
    await store?.close();
    // The figure the README quotes.
    console.log(`centroid golden: max relative error ${worst.formula.toExponential(2)} (formula), ${worst.engine.toExponential(2)} (through ClickHouse)`);
  });

  it.each(golden.cases.map((c) => [c.name, c] as const))('%s: profile, raw rows and rollups give numpy/scipy\'s numbers', async (_name, c) => {
    const refRows = c.reference.length;
    await buildEmbeddingProfiles(store.client, 'golden', c.name, 1, refFrom, refFrom + 7 * (refRows - 1), refRows);
    const [p] = await loadEmbeddingProfiles(store.client, 'golden', c.name, 1);
    expect(p).toMatchObject({ embedding: 'e', dim: c.dim, rows: refRows, n: refRows - c.reference_missing, nonfinite: c.reference_missing, traceSqN: refRows - c.reference_missing });
    // tr(Sigma^2) from the self-joined Gram matrix in ClickHouse.
    expect(rel(p.traceSq!, c.expected.trace_sq), 'tr(Sigma^2)').toBeLessThan(1e-9);
    const curEnd = curFrom + 7 * c.current.length;
    for (const cur of [
      await embeddingSumsFromRaw(store.client, 'golden', c.name, curFrom, curEnd),
      await embeddingSumsFromRollups(store.client, 'golden', c.name, curFrom, Math.ceil(curEnd / MIN) * MIN),
    ]) {
      const [col] = embeddingColumns([p], cur, c.current.length);
      expect(col).toMatchObject({ column: 'e', type: 'embedding', method: 'centroid', threshold: 0.05, min_effect_size: 0.1, dimension: c.dim, reference_missing: c.reference_missing, current_missing: c.current_missing });
      // Current moments come from sums (mean = S/m, var = (Q - S mean)/(m - 1)); measured worst ~5e-14.
      check(col, c.expected, 1e-9, 'engine', c.name);
    }
  });

  it('tr(Sigma^2) from a sample of 2000 when the reference has more vectors', async () => {
    expect([gramSampleSize(32, 2100), gramSampleSize(768, 5000), gramSampleSize(4096, 5000), gramSampleSize(8, 10)]).toEqual([2000, 2000, 866, 10]);
    const normal = rng(7);
    const basis = Array.from({ length: 3 }, () => Array.from({ length: 32 }, () => normal()));
    const ref = Array.from({ length: 2100 }, () => {
      const z = [normal(), normal(), normal()];
      return Array.from({ length: 32 }, (_, j) => Math.fround(z[0] * basis[0][j] + z[1] * basis[1][j] + z[2] * basis[2][j] + 0.1 * normal()));
    });
    await insertPredictions(store, ref.map((v, i) => ({
      model: 'golden', version: 'sampled', ts: refFrom + i, id: `s-${i}`, prediction: '1', predictionNum: 1, score: NaN, latencyMs: NaN,
      num: {}, cat: {}, segment: {}, emb: { e: v },
    })));
    await buildEmbeddingProfiles(store.client, 'golden', 'sampled', 1, refFrom, refFrom + 2099, 2100);
    const [p] = await loadEmbeddingProfiles(store.client, 'golden', 'sampled', 1);
    expect(p).toMatchObject({ n: 2100, traceSqN: 2000 });
    // 2000 of the 2100 vectors: close to the estimate from all of them, not equal.
    const all = traceSq(ref);
    expect(rel(p.traceSq!, all)).toBeLessThan(0.05);
    expect(p.traceSq).not.toBe(all);
  });
});
