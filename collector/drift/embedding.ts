// Embedding drift: method `centroid` for vector features (ml.embedding.<name>). Formulas in
// collector/drift/README.md ("centroid"); in short, with x_1..x_n the reference vectors and y_1..y_m
// the current ones (dimension d; vectors with a non-finite component left out):
//
//   statistic  D = || mean(y) - mean(x) ||_2                       (Euclidean distance of the centroids)
//   effect     D / max(sqrt(sum_j s2_ref_j), 0.001)                (relative to the reference's RMS spread)
//   p-value    v_j = s2_ref_j / n + s2_cur_j / m,  E = sum v_j,  F = sum v_j^2
//              D^2 ~ g chi2(h) with g = F / E, h = E^2 / F         (Welch-Satterthwaite, per-dimension variances)
//              p = chi2.sf(D^2 / g, h)
//   drift      p < 0.05 and effect >= 0.1
//
// s2 are per-dimension sample variances (ddof = 1). Everything per row (counts, per-dimension sums,
// means, variances) is computed inside ClickHouse (avgForEach / varSampStableForEach over the
// reference, sumForEach states in the embedding_minutes rollup for current windows); only one
// vector of d numbers per side and embedding reaches the collector.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import { tsText } from '../store/writer.js';
import { chi2Sf } from './chisquare.js';
import type { ColumnDrift } from './report.js';
import type { ColumnQuality } from './quality.js';

export const EMBEDDING_METHOD = 'centroid' as const;
/** Drift when the p-value is below this... */
export const CENTROID_THRESHOLD = 0.05;
/** ...and the distance is at least this share of the reference's RMS spread sqrt(tr Sigma_ref). */
export const CENTROID_MIN_EFFECT = 0.1;
/** Floor of the RMS spread that normalises the effect size (as wasserstein's 0.001 std floor). */
const MIN_SPREAD = 0.001;

/** One side's summary of an embedding: n vectors of dimension mean.length. */
export interface EmbeddingMoments {
  n: number;
  mean: ArrayLike<number>;
  /** Per-dimension sample variance (ddof = 1). */
  var: ArrayLike<number>;
}

export interface CentroidResult {
  statistic: number;
  p_value: number;
  effect_size: number;
  /** E[D^2] under H0 (sum of v_j), for reading the statistic. */
  expected_sq: number;
  /** Satterthwaite's degrees of freedom h. */
  dof: number;
}

/** The centroid statistic, its p-value and effect size (needs n >= 2, m >= 2 and equal dimensions). */
export function centroidDrift(ref: EmbeddingMoments, cur: EmbeddingMoments): CentroidResult {
  const d = ref.mean.length;
  if (cur.mean.length !== d) throw new Error(`centroid: dimensions differ (${d} vs ${cur.mean.length})`);
  const n = ref.n;
  const m = cur.n;
  let d2 = 0;
  let trRef = 0;
  let e = 0;
  let f = 0;
  for (let j = 0; j < d; j++) {
    const diff = cur.mean[j] - ref.mean[j];
    d2 += diff * diff;
    const sr = Math.max(0, ref.var[j]);
    const sc = Math.max(0, cur.var[j]);
    trRef += sr;
    const v = sr / n + sc / m;
    e += v;
    f += v * v;
  }
  const statistic = Math.sqrt(d2);
  const effect = statistic / Math.max(Math.sqrt(trRef), MIN_SPREAD);
  if (!(e > 0)) return { statistic, p_value: d2 > 0 ? 0 : 1, effect_size: effect, expected_sq: 0, dof: 0 };
  const g = f / e;
  const h = (e * e) / f;
  return { statistic, p_value: chi2Sf(d2 / g, h), effect_size: effect, expected_sq: e, dof: h };
}

// ---- the reference: a profile per embedding ---------------------------------------------------

export interface EmbeddingProfile extends EmbeddingMoments {
  embedding: string;
  /** Reference rows (predictions). */
  rows: number;
  nonfinite: number;
  dim: number;
}

/** Vectors of the predictions rows matching `where` (with {dw_*} parameters), as (k, e, v, ok). */
const vectors = (where: string) => `
  SELECT k, e, CAST(e, 'Array(Float64)') AS v, arrayAll(x -> isFinite(x), e) AS ok
  FROM predictions ARRAY JOIN mapKeys(emb) AS k, mapValues(emb) AS e
  WHERE ${where} AND notEmpty(emb)`;

const VERSION = 'model = {dw_model:String} AND version = {dw_version:String}';

/**
 * Profiles the embeddings of a version's predictions in [fromMs, toMs] (both inclusive, as range
 * baselines) and stores them under the profile id, inside ClickHouse. One dimension per embedding
 * (ingest keeps it so; should several exist, the one with the most vectors).
 */
export async function buildEmbeddingProfiles(client: ClickHouseClient, model: string, version: string, profileId: number, fromMs: number, toMs: number, rows: number): Promise<void> {
  await client.command({
    query: `INSERT INTO drift_profile_embeddings (model, version, profile_id, embedding, rows, n, nonfinite, dim, mean, var)
      SELECT {dw_model:String}, {dw_version:String}, {dw_p:UInt64}, k, {dw_rows:UInt64}, n, nonfinite, dim, mean, var FROM (
        SELECT k, toUInt32(length(e)) AS dim, countIf(ok) AS n, countIf(NOT ok) AS nonfinite,
               avgForEachIf(v, ok) AS mean, varSampStableForEachIf(v, ok) AS var
        FROM (${vectors(`${VERSION} AND ts >= {dw_from:DateTime64(3)} AND ts <= {dw_to:DateTime64(3)}`)})
        GROUP BY k, dim ORDER BY k, n DESC LIMIT 1 BY k)`,
    query_params: { dw_model: model, dw_version: version, dw_p: profileId, dw_rows: rows, dw_from: tsText(fromMs), dw_to: tsText(toMs) },
  });
}

export async function loadEmbeddingProfiles(client: ClickHouseClient, model: string, version: string, profileId: number): Promise<EmbeddingProfile[]> {
  const rows = await queryRows<{ embedding: string; rows: string; n: string; nonfinite: string; dim: number; mean: number[]; var: number[] }>(
    client,
    `SELECT embedding, rows, n, nonfinite, dim, mean, var FROM drift_profile_embeddings FINAL
     WHERE model = {m:String} AND version = {v:String} AND profile_id = {p:UInt64} ORDER BY embedding`,
    { m: model, v: version, p: profileId },
  );
  return rows.map((r) => ({ embedding: r.embedding, rows: Number(r.rows), n: Number(r.n), nonfinite: Number(r.nonfinite), dim: Number(r.dim), mean: r.mean.map(Number), var: r.var.map(Number) }));
}

// ---- the current window: counts and per-dimension sums -------------------------------------------

export interface EmbeddingSums {
  embedding: string;
  dim: number;
  /** Rows holding the embedding, and vectors with every component finite (n) among them. */
  rows: number;
  n: number;
  sum: number[];
  sumSq: number[];
}

type SumRow = { embedding: string; dim: number; rows: string; n: string; s: number[]; q: number[] };
const toSums = (r: SumRow): EmbeddingSums => ({ embedding: r.embedding, dim: Number(r.dim), rows: Number(r.rows), n: Number(r.n), sum: r.s.map(Number), sumSq: r.q.map(Number) });

/** Sums over whole minutes [fromMs, toMs) from the embedding_minutes rollup. */
export async function embeddingSumsFromRollups(client: ClickHouseClient, model: string, version: string, fromMs: number, toMs: number): Promise<EmbeddingSums[]> {
  const rows = await queryRows<SumRow>(
    client,
    `SELECT embedding, dim, sum(rows) AS rows, sum(n) AS n, sumForEachMerge(sum) AS s, sumForEachMerge(sum_sq) AS q
     FROM embedding_minutes
     WHERE ${VERSION} AND minute >= toDateTime({dw_from:DateTime64(3)}) AND minute < toDateTime({dw_to:DateTime64(3)})
     GROUP BY embedding, dim`,
    { dw_model: model, dw_version: version, dw_from: tsText(fromMs), dw_to: tsText(toMs) },
  );
  return rows.map(toSums);
}

/** Sums over raw rows with ts in [fromMs, toMs), to the millisecond. */
export async function embeddingSumsFromRaw(client: ClickHouseClient, model: string, version: string, fromMs: number, toMs: number): Promise<EmbeddingSums[]> {
  const rows = await queryRows<SumRow>(
    client,
    `SELECT k AS embedding, toUInt32(length(e)) AS dim, count() AS rows, countIf(ok) AS n,
            sumForEach(if(ok, v, CAST([], 'Array(Float64)'))) AS s, sumForEach(if(ok, arrayMap(x -> x * x, v), CAST([], 'Array(Float64)'))) AS q
     FROM (${vectors(`${VERSION} AND ts >= {dw_from:DateTime64(3)} AND ts < {dw_to:DateTime64(3)}`)})
     GROUP BY embedding, dim`,
    { dw_model: model, dw_version: version, dw_from: tsText(fromMs), dw_to: tsText(toMs) },
  );
  return rows.map(toSums);
}

/** Adds sums of the same embedding and dimension. */
export function addEmbeddingSums(a: EmbeddingSums[], b: EmbeddingSums[]): EmbeddingSums[] {
  const out = new Map<string, EmbeddingSums>();
  for (const s of [...a, ...b]) {
    const k = `${s.embedding}\u0000${s.dim}`;
    const o = out.get(k);
    if (!o) {
      out.set(k, { ...s, sum: [...s.sum], sumSq: [...s.sumSq] });
      continue;
    }
    o.rows += s.rows;
    o.n += s.n;
    for (let j = 0; j < s.sum.length; j++) {
      o.sum[j] = (o.sum[j] ?? 0) + s.sum[j];
      o.sumSq[j] = (o.sumSq[j] ?? 0) + s.sumSq[j];
    }
  }
  return [...out.values()];
}

/** Means and sample variances from sums (n >= 2). */
export function momentsFromSums(s: EmbeddingSums): EmbeddingMoments {
  const n = s.n;
  const mean = new Float64Array(s.dim);
  const v = new Float64Array(s.dim);
  for (let j = 0; j < s.dim; j++) {
    const sum = s.sum[j] ?? 0;
    mean[j] = sum / n;
    v[j] = Math.max(0, ((s.sumSq[j] ?? 0) - sum * mean[j]) / (n - 1));
  }
  return { n, mean, var: v };
}

// ---- report columns ----------------------------------------------------------------------------

const share = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

/**
 * One `"type": "embedding"` column per reference embedding that has at least 2 vectors on each
 * side (current vectors of another dimension do not count). `currentRows` = predictions in the window.
 */
export function embeddingColumns(ref: EmbeddingProfile[], cur: EmbeddingSums[], currentRows: number): ColumnDrift[] {
  const out: ColumnDrift[] = [];
  for (const p of ref) {
    const c = cur.find((x) => x.embedding === p.embedding && x.dim === p.dim);
    if (!c || p.n < 2 || c.n < 2) continue;
    const r = centroidDrift(p, momentsFromSums(c));
    const curRows = Math.max(currentRows, c.rows);
    const quality: ColumnQuality = {
      reference_missing_share: share(p.rows - p.n, p.rows),
      current_missing_share: share(curRows - c.n, curRows),
      reference_non_finite: p.nonfinite,
      current_non_finite: c.rows - c.n,
      out_of_range_share: null,
      unseen_share: null,
      issues: [],
    };
    if (quality.current_missing_share - quality.reference_missing_share > 0.05) quality.issues.push('missing_share');
    if (c.rows - c.n > 0) quality.issues.push('non_finite');
    out.push({
      column: p.embedding,
      type: 'embedding',
      method: EMBEDDING_METHOD,
      statistic: r.statistic,
      p_value: r.p_value,
      threshold: CENTROID_THRESHOLD,
      drift: r.p_value < CENTROID_THRESHOLD && r.effect_size >= CENTROID_MIN_EFFECT,
      reference_missing: p.rows - p.n,
      current_missing: curRows - c.n,
      effect_size: r.effect_size,
      min_effect_size: CENTROID_MIN_EFFECT,
      dimension: p.dim,
      quality,
    });
  }
  return out;
}
