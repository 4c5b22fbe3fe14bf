// Embedding drift: method `centroid` for vector features (ml.embedding.<name>). Formulas in
// collector/drift/README.md ("centroid"); in short, with x_1..x_n the reference vectors and y_1..y_m
// the current ones (dimension d; vectors with a non-finite component left out):
//
//   statistic  D = || mean(y) - mean(x) ||_2                       (Euclidean distance of the centroids)
//   effect     D / max(sqrt(T), 0.001), T = sum_j s2_ref_j = tr S_ref (relative to the reference's RMS spread)
//   p-value    E = sum_j (s2_ref_j / n + s2_cur_j / m)             (E[D^2] under H0, each side its own variances)
//              W = unbiased estimate of tr(Sigma^2) = ||Sigma||_F^2 (off-diagonal terms included), stored
//                  with the baseline profile (Chen & Qin's U-statistic on the centered Gram matrix of
//                  a sample of at most 2000 reference vectors)
//              h = clamp(T^2 / W, 1, d),  g = E / h                 (D^2 ~ g chi2(h): mean E, variance 2 g^2 h)
//              p = chi2.sf(D^2 / g, h)
//   drift      p < 0.05 and effect >= 0.1
//
// Under a common covariance Sigma, g = (1/n + 1/m) tr(Sigma^2) / tr(Sigma) and h = tr(Sigma)^2 / tr(Sigma^2),
// matching the mean tr(Sigma)(1/n + 1/m) and variance 2 tr(Sigma^2)(1/n + 1/m)^2 of D^2. Profiles built
// before migration 9 carry no W: their h is the diagonal (Welch-Satterthwaite) E^2 / sum_j v_j^2.
//
// s2 are per-dimension sample variances (ddof = 1). Everything per row (counts, per-dimension sums,
// means, variances, the Gram matrix) is computed inside ClickHouse (avgForEach / varSampStableForEach
// and a self-join of the sample with dotProduct over the reference, sumForEach states in the
// embedding_minutes rollup for current windows); only one vector of d numbers per side and
// embedding reaches the collector. The offline CLI's vector columns go through the same SQL
// (vectorMomentsSql, traceSqSql) and column (embeddingColumn): vectors.ts. Per-segment columns
// (segmentEmbeddingColumns) read both sides of a segment from raw rows, as its scalar columns do.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows, settingsClause } from '../store/client.js';
import { tsText } from '../store/writer.js';
import { float64ToBits } from './bins.js';
import { chi2Sf } from './chisquare.js';
import type { ColumnDrift } from './report.js';
import { columnQuality, DEFAULT_QUALITY_THRESHOLDS, type QualityThresholds } from './quality.js';

export const EMBEDDING_METHOD = 'centroid' as const;
/** Drift when the p-value is below this... */
export const CENTROID_THRESHOLD = 0.05;
/** ...and the distance is at least this share of the reference's RMS spread sqrt(tr Sigma_ref). */
export const CENTROID_MIN_EFFECT = 0.1;
/** Floor of the RMS spread that normalises the effect size (as wasserstein's 0.001 std floor). */
const MIN_SPREAD = 0.001;
/** The Gram matrix behind tr(Sigma^2) uses at most this many reference vectors... */
export const GRAM_MAX_VECTORS = 2000;
/** ...and at most sqrt(GRAM_WORK / d) of them (n_s^2 d multiply-adds: 2000 up to d = 768, 866 at d = 4096). */
export const GRAM_WORK = 2000 * 2000 * 768;

/**
 * The Gram sample size for dimension d: min(available, 2000, floor(sqrt(GRAM_WORK / d))). With
 * `shares` > 1 (per-segment drift: one sample per segment), each gets GRAM_WORK / shares.
 */
export function gramSampleSize(d: number, available: number, shares = 1): number {
  return Math.min(available, GRAM_MAX_VECTORS, Math.floor(Math.sqrt(GRAM_WORK / (d * Math.max(1, shares)))));
}

/**
 * Chen & Qin's (2010) unbiased estimator of tr(Sigma^2) from ns vectors, in Himeno & Yamada's (2014)
 * O(ns^2) form on the centered Gram matrix K (K_ij = (x_i - xbar).(x_j - xbar)): `trace` = tr K,
 * `frob2` = sum_ij K_ij^2, `diag2` = sum_i K_ii^2. NaN for ns < 4. Unbiased without normality; may be
 * <= 0 by chance when tr(Sigma^2) is small against its noise (centroidDrift then takes h = d).
 */
export function traceSqFromGram(ns: number, trace: number, frob2: number, diag2: number): number {
  if (!(ns >= 4)) return NaN;
  return ((ns - 2) * frob2 + (trace * trace) / (ns - 1) - ns * diag2) / (ns * (ns - 2) * (ns - 3));
}

/** One side's summary of an embedding: n vectors of dimension mean.length. */
export interface EmbeddingMoments {
  n: number;
  mean: ArrayLike<number>;
  /** Per-dimension sample variance (ddof = 1). */
  var: ArrayLike<number>;
  /**
   * Reference side only: the estimate W of tr(Sigma^2) (traceSqFromGram). Absent or non-finite: the
   * p-value takes the diagonal (Welch-Satterthwaite) degrees of freedom instead.
   */
  traceSq?: number;
}

export interface CentroidResult {
  statistic: number;
  p_value: number;
  effect_size: number;
  /** E[D^2] under H0 (sum of v_j), for reading the statistic. */
  expected_sq: number;
  /** The scaled chi-square's degrees of freedom h (tr(Sigma)^2 / tr(Sigma^2), or the diagonal fallback's). */
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
  const w = ref.traceSq;
  // With the covariance: h = tr(Sigma)^2 / tr(Sigma^2) from the reference, clamped to [1, d] (its range
  // for any covariance; W <= 0 is an estimate below its noise, i.e. a very spread spectrum: h = d).
  // Without (older profiles, or a constant reference): the diagonal approximation.
  const h = w !== undefined && Number.isFinite(w) && trRef > 0 ? (w > 0 ? Math.min(d, Math.max(1, (trRef * trRef) / w)) : d) : (e * e) / f;
  const g = e / h;
  return { statistic, p_value: chi2Sf(d2 / g, h), effect_size: effect, expected_sq: e, dof: h };
}

// ---- the reference: a profile per embedding ---------------------------------------------------

export interface EmbeddingProfile extends EmbeddingMoments {
  embedding: string;
  /** Reference rows (predictions). */
  rows: number;
  nonfinite: number;
  dim: number;
  /** Vectors in the Gram sample behind traceSq (0: a profile built before migration 9, no traceSq). */
  traceSqN: number;
}

/** SQL: true when every component of the Array(Float64) `v` is finite (a vector with NaN or +-Inf is missing). */
export const finiteVectorSql = (v: string) => `arrayAll(x -> isFinite(x), ${v})`;

/** SQL aggregates of one side's vectors `v` where `ok`: n, per-dimension mean and sample variance (ddof = 1). */
export const vectorMomentsSql = (v: string, ok: string) =>
  `countIf(${ok}) AS n, avgForEachIf(${v}, ${ok}) AS mean, varSampStableForEachIf(${v}, ${ok}) AS var`;

/** A row of vectorMomentsSql's aggregates (JSON numbers may come as strings, NaN as null), with its non-finite count. */
export interface MomentsRow { n: string | number; nonfinite: string | number; mean: (number | null)[]; var: (number | null)[] }

const num = (v: unknown): number => (v === null || v === undefined ? NaN : Number(v));

/** One side of a vector column from its moments row (none: no usable vector) and its row count. */
export function momentsSide(r: MomentsRow | undefined, rows: number): VectorSide {
  if (!r) return { rows, n: 0, nonfinite: 0, mean: [], var: [] };
  return { rows, n: num(r.n), nonfinite: num(r.nonfinite), mean: r.mean.map(num), var: r.var.map(num) };
}

/** Vectors of the predictions rows matching `where` (with {dw_*} parameters), as (k, e, v, ok). */
const vectors = (where: string) => `
  SELECT k, e, CAST(e, 'Array(Float64)') AS v, ${finiteVectorSql('e')} AS ok, id, ts
  FROM predictions ARRAY JOIN mapKeys(emb) AS k, mapValues(emb) AS e
  WHERE ${where} AND notEmpty(emb)`;

const VERSION = 'model = {dw_model:String} AND version = {dw_version:String}';

/**
 * tr(Sigma^2) of one embedding, inside ClickHouse: `source` yields its finite vectors `v`
 * (Array(Float64), one dimension) and what `order` reads; the first `ns` by `order` are the sample
 * (`order` must make it repeatable: the sample is numbered twice, once per side of the join). The
 * sample is centered on its own mean, cross-joined with itself (every ordered pair, dotProduct =
 * K_ij), summed to tr K, sum K_ij^2 and sum K_ii^2, and put through traceSqFromGram's formula.
 * Returns one row (ns, trace_sq); the query carries its own settings (GRAM_SETTINGS).
 * (A CROSS JOIN per embedding: a hash join of all embeddings on their name took twice as long.)
 */
export function traceSqSql(source: string, order: string, ns: number): string {
  if (!Number.isSafeInteger(ns) || ns < 0) throw new Error(`internal: Gram sample size ${ns}`);
  return `
  WITH s AS (
    SELECT i, arrayMap((x, c) -> x - c, v, c) AS z FROM (
      SELECT i, v, avgForEach(v) OVER () AS c FROM (
        SELECT v, row_number() OVER (ORDER BY ${order}) AS i
        FROM (SELECT * FROM (${source}) ORDER BY ${order} LIMIT ${ns}))))
  SELECT ns, if(ns >= 4, ((ns - 2) * frob2 + tr * tr / (ns - 1) - ns * diag2) / (ns * (ns - 2) * (ns - 3)), nan) AS trace_sq
  FROM (
    SELECT toFloat64(countIf(i = j)) AS ns, sumIf(kk, i = j) AS tr, sum(kk * kk) AS frob2, sumIf(kk * kk, i = j) AS diag2
    FROM (SELECT a.i AS i, b.i AS j, dotProduct(a.z, b.z) AS kk FROM s AS a CROSS JOIN s AS b))${settingsClause(GRAM_SETTINGS)}`;
}

/**
 * The cross join's output blocks carry two d-vectors per pair: 256 pairs are 16 MB at d = 4096. In
 * the statement, not as the client's clickhouse_settings: the embedded engine's connection turns
 * those into SET statements that stay for every later query of the process (inserts' joins included).
 */
const GRAM_SETTINGS = { max_joined_block_size_rows: 256 } as const;

/** The live sample: the first n_s finite vectors of the embedding and dimension by cityHash64(id). */
const gram = (where: string, ns: number) =>
  traceSqSql(`SELECT v, id, ts FROM (${vectors(`${where} AND k = {dw_k:String}`)}) WHERE ok AND length(e) = {dw_dim:UInt32}`, 'cityHash64(id), ts, id', ns);

/**
 * Profiles the embeddings of a version's predictions in [fromMs, toMs] (both inclusive, as range
 * baselines) and stores them under the profile id, inside ClickHouse. One dimension per embedding
 * (ingest keeps it so; should several exist, the one with the most vectors). Per embedding, one
 * query more for tr(Sigma^2) (gram above); only its two numbers reach the collector.
 */
export async function buildEmbeddingProfiles(client: ClickHouseClient, model: string, version: string, profileId: number, fromMs: number, toMs: number, rows: number): Promise<void> {
  const where = `${VERSION} AND ts >= {dw_from:DateTime64(3)} AND ts <= {dw_to:DateTime64(3)}`;
  const params = { dw_model: model, dw_version: version, dw_from: tsText(fromMs), dw_to: tsText(toMs) };
  const chosen = await queryRows<{ k: string; dim: number; n: string }>(
    client,
    `SELECT k, toUInt32(length(e)) AS dim, countIf(ok) AS n FROM (${vectors(where)}) GROUP BY k, dim ORDER BY k, n DESC LIMIT 1 BY k`,
    params,
  );
  const names: string[] = [];
  const traceSq: number[] = [];
  const sampleN: number[] = [];
  // Embeddings without an estimate (fewer than 4 vectors) get trace_sq = nan, trace_sq_n = 0.
  for (const c of chosen) {
    const ns = gramSampleSize(Number(c.dim), Number(c.n));
    if (ns < 4) continue;
    const rs = await client.query({
      query: gram(where, ns),
      query_params: { ...params, dw_k: c.k, dw_dim: Number(c.dim) },
      format: 'JSONEachRow',
    });
    const [r] = await rs.json<{ ns: number; trace_sq: number | null }>();
    if (!r || r.trace_sq === null || !Number.isFinite(Number(r.trace_sq))) continue;
    names.push(c.k);
    traceSq.push(Number(r.trace_sq));
    sampleN.push(Number(r.ns));
  }
  await client.command({
    query: `INSERT INTO drift_profile_embeddings (model, version, profile_id, embedding, rows, n, nonfinite, dim, mean, var, trace_sq, trace_sq_n)
      SELECT {dw_model:String}, {dw_version:String}, {dw_p:UInt64}, k, {dw_rows:UInt64}, n, nonfinite, dim, mean, var,
             transform(k, {dw_ks:Array(String)}, {dw_ws:Array(Float64)}, nan), transform(k, {dw_ks:Array(String)}, {dw_ns:Array(UInt64)}, toUInt64(0))
      FROM (
        SELECT k, toUInt32(length(e)) AS dim, countIf(NOT ok) AS nonfinite, ${vectorMomentsSql('v', 'ok')}
        FROM (${vectors(where)})
        GROUP BY k, dim ORDER BY k, n DESC LIMIT 1 BY k)`,
    query_params: { ...params, dw_p: profileId, dw_rows: rows, dw_ks: names, dw_ws: traceSq, dw_ns: sampleN },
  });
}

/**
 * Stores embedding profiles computed elsewhere (an uploaded reference file's: vectors.ts,
 * referenceEmbeddingProfiles) under the profile id, in the rows buildEmbeddingProfiles writes.
 * Floats travel as their bits (bins.ts), exact whatever the server's float parser.
 */
export async function storeEmbeddingProfiles(client: ClickHouseClient, model: string, version: string, profileId: number, profiles: readonly EmbeddingProfile[]): Promise<void> {
  const bits = (xs: ArrayLike<number>) => Array.from(xs, float64ToBits);
  const f64 = (p: string) => `arrayMap(x -> reinterpretAsFloat64(toUInt64(x)), {${p}:Array(String)})`;
  for (const p of profiles) {
    await client.command({
      query: `INSERT INTO drift_profile_embeddings (model, version, profile_id, embedding, rows, n, nonfinite, dim, mean, var, trace_sq, trace_sq_n)
        SELECT {m:String}, {v:String}, {p:UInt64}, {e:String}, {rows:UInt64}, {n:UInt64}, {nonfinite:UInt64}, {dim:UInt32},
               ${f64('mean')}, ${f64('var')}, reinterpretAsFloat64(toUInt64({w:String})), {wn:UInt64}`,
      query_params: {
        m: model, v: version, p: profileId, e: p.embedding, rows: p.rows, n: p.n, nonfinite: p.nonfinite, dim: p.dim,
        mean: bits(p.mean), var: bits(p.var), w: float64ToBits(p.traceSq ?? NaN), wn: p.traceSq === undefined ? 0 : p.traceSqN,
      },
    });
  }
}

export async function loadEmbeddingProfiles(client: ClickHouseClient, model: string, version: string, profileId: number): Promise<EmbeddingProfile[]> {
  const rows = await queryRows<{ embedding: string; rows: string; n: string; nonfinite: string; dim: number; mean: number[]; var: number[]; trace_sq: number | string | null; trace_sq_n: string }>(
    client,
    `SELECT embedding, rows, n, nonfinite, dim, mean, var, trace_sq, trace_sq_n FROM drift_profile_embeddings FINAL
     WHERE model = {m:String} AND version = {v:String} AND profile_id = {p:UInt64} ORDER BY embedding`,
    { m: model, v: version, p: profileId },
  );
  return rows.map((r) => {
    const traceSqN = Number(r.trace_sq_n);
    // NaN arrives as null in JSON; a profile from before migration 9 has trace_sq_n = 0.
    const w = r.trace_sq === null ? NaN : Number(r.trace_sq);
    return {
      embedding: r.embedding, rows: Number(r.rows), n: Number(r.n), nonfinite: Number(r.nonfinite), dim: Number(r.dim), mean: r.mean.map(Number), var: r.var.map(Number),
      traceSqN, ...(traceSqN >= 4 && Number.isFinite(w) ? { traceSq: w } : {}),
    };
  });
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

// ---- per segment: both sides from raw rows -----------------------------------------------------

/**
 * The embedding columns of one segment (LiveDrift.computeSegments), read from raw rows on both sides
 * as the scalar per-segment columns are: the reference is the segment's predictions in the baseline's
 * time range (the profile describes the whole population, not the segment), the current side its
 * predictions in the window. The profile's embeddings only, each at the profile's dimension (a vector
 * of another is missing, as in the whole report). Each side's n, mean and variance as a reference is
 * profiled (avgForEach / varSampStableForEach); tr(Sigma^2) from the segment's reference Gram
 * sample, the first by cityHash64(id) as for a baseline, of gramSampleSize(d, n, segments) vectors:
 * the segments of one request share one baseline's Gram work per embedding.
 * `params`: {dw_model}, {dw_version}, {dw_ref_from}, {dw_ref_to}, {dw_cur_from}, {dw_cur_to}
 * (DateTime64(3) text, bounds inclusive, the current range after the reference's) and those of
 * `filter` (SQL over the predictions row: the segment). `rows`: the segment's predictions per side.
 */
export async function segmentEmbeddingColumns(
  client: ClickHouseClient,
  profiles: readonly EmbeddingProfile[],
  filter: string,
  params: Record<string, unknown>,
  rows: { ref: number; cur: number },
  segments: number,
  /** Keeps each segment's reference tr(Sigma^2) (the request's costliest part) by its inputs. */
  cache?: (key: string, load: () => Promise<number>) => Promise<number>,
): Promise<ColumnDrift[]> {
  if (profiles.length === 0) return [];
  const range = (side: 'ref' | 'cur') => `ts >= {dw_${side}_from:DateTime64(3)} AND ts <= {dw_${side}_to:DateTime64(3)}`;
  const names = { dw_seg_ks: profiles.map((p) => p.embedding), dw_seg_dims: profiles.map((p) => p.dim) };
  type Row = { side: number; k: string; n: string; nonfinite: string; mean: (number | null)[]; var: (number | null)[] };
  const found = await queryRows<Row>(
    client,
    `SELECT side, k, countIf(NOT ok) AS nonfinite, ${vectorMomentsSql('v', 'ok')}
     FROM (
       SELECT if(ts <= {dw_ref_to:DateTime64(3)}, 0, 1) AS side, k, v, ok
       FROM (${vectors(`${VERSION} AND ((${range('ref')}) OR (${range('cur')})) AND (${filter}) AND k IN {dw_seg_ks:Array(String)}`)})
       WHERE length(e) = transform(k, {dw_seg_ks:Array(String)}, {dw_seg_dims:Array(UInt32)}, toUInt32(0)))
     GROUP BY side, k`,
    { ...params, ...names },
  );
  const side = (k: string, s: number, total: number): VectorSide => {
    const r = found.find((x) => x.k === k && Number(x.side) === s);
    return momentsSide(r, Math.max(total, r ? num(r.n) + num(r.nonfinite) : 0));
  };
  const out: ColumnDrift[] = [];
  for (const p of profiles) {
    const ref = side(p.embedding, 0, rows.ref);
    const cur = side(p.embedding, 1, rows.cur);
    if (ref.n < 2 || cur.n < 2) continue;
    const ns = gramSampleSize(p.dim, ref.n, segments);
    if (ns >= 4) {
      const load = async () => {
        const rs = await client.query({
          query: gram(`${VERSION} AND ${range('ref')} AND (${filter})`, ns),
          query_params: { ...params, dw_k: p.embedding, dw_dim: p.dim },
          format: 'JSONEachRow',
        });
        const [r] = await rs.json<{ ns: number; trace_sq: number | null }>();
        return r ? num(r.trace_sq) : NaN;
      };
      // The reference side depends on everything but the current window's bounds.
      const inputs = Object.entries(params).filter(([k]) => k !== 'dw_cur_from' && k !== 'dw_cur_to').sort(([a], [b]) => (a < b ? -1 : 1));
      const w = cache ? await cache(JSON.stringify([filter, inputs, p.embedding, p.dim, ns]), load) : await load();
      if (Number.isFinite(w)) ref.traceSq = w;
    }
    out.push(embeddingColumn(p.embedding, ref, cur));
  }
  return out;
}

// ---- report columns ----------------------------------------------------------------------------

/** One side of a vector column: its rows, the usable vectors' moments (n of them) and the rows whose vector has a non-finite component. */
export interface VectorSide extends EmbeddingMoments {
  rows: number;
  nonfinite: number;
}

/**
 * The report column of one embedding (`"type": "embedding"`, method centroid), from both sides'
 * moments (n >= 2, m >= 2, one dimension): the live report's and the offline CLI's alike.
 * `threshold`: the p-value's (CENTROID_THRESHOLD unless the caller overrides it).
 */
export function embeddingColumn(column: string, ref: VectorSide, cur: VectorSide, threshold = CENTROID_THRESHOLD, qualityThresholds: QualityThresholds = DEFAULT_QUALITY_THRESHOLDS): ColumnDrift {
  const r = centroidDrift(ref, cur);
  const quality = columnQuality(
    { type: 'embedding', refRows: ref.rows, curRows: cur.rows, refMissing: ref.rows - ref.n, curMissing: cur.rows - cur.n, refNonFinite: ref.nonfinite, curNonFinite: cur.nonfinite, curOutside: 0, m: cur.n },
    qualityThresholds,
  );
  return {
    column,
    type: 'embedding',
    method: EMBEDDING_METHOD,
    statistic: r.statistic,
    p_value: r.p_value,
    threshold,
    drift: r.p_value < threshold && r.effect_size >= CENTROID_MIN_EFFECT,
    reference_missing: ref.rows - ref.n,
    current_missing: cur.rows - cur.n,
    effect_size: r.effect_size,
    min_effect_size: CENTROID_MIN_EFFECT,
    dimension: ref.mean.length,
    quality,
  };
}

/**
 * One `"type": "embedding"` column per reference embedding that has at least 2 vectors on each
 * side (current vectors of another dimension do not count). `currentRows` = predictions in the window.
 */
export function embeddingColumns(ref: EmbeddingProfile[], cur: EmbeddingSums[], currentRows: number): ColumnDrift[] {
  const out: ColumnDrift[] = [];
  for (const p of ref) {
    const c = cur.find((x) => x.embedding === p.embedding && x.dim === p.dim);
    if (!c || p.n < 2 || c.n < 2) continue;
    // Rows without the embedding are missing too: the window's predictions count.
    const curRows = Math.max(currentRows, c.rows);
    out.push(embeddingColumn(p.embedding, p, { ...momentsFromSums(c), rows: curRows, nonfinite: c.rows - c.n }));
  }
  return out;
}
