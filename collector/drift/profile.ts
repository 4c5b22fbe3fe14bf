// Baseline profiles: everything a drift computation needs from the reference, computed once inside
// ClickHouse from a long-format reference source and stored, so the reference rows are never read
// again (and an uploaded reference need not be kept at all).
//
// Per numerical feature (exact): rows, non-missing n, +-Inf count, distinct values capped at
// AUTO_MAX_DISCRETE_VALUES + 1 (all `auto` needs), population std, min and max, the conventions'
// bin edges and the reference bin counts: computed by the drift engine's own SQL (queries.ts), so a
// profile's edges and counts are the engine's bit for bit. For KS and Wasserstein, the distinct
// reference values with their counts (drift_profile_values): exact up to PROFILE_MAX_VALUES
// distinct values per feature; beyond that PROFILE_MAX_VALUES order statistics spread evenly from
// the minimum to the maximum, each counted once (values_exact = false): KS D and the Wasserstein
// distance are then those of that evenly thinned reference (error of the empirical CDF below
// 1 / PROFILE_MAX_VALUES), while the KS p-value still uses the true n.
// Per categorical feature (exact): rows, n, and the count of each reference category.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import { AUTO_MAX_DISCRETE_VALUES } from './auto.js';
import { bitsToFloat64, categoryBins, float64ToBits, QUANTILE_BINS, uniqueEdges } from './bins.js';
import { categoryCountsByColumn, type SqlSource } from './engine.js';
import { numericBinCountsSql, numericInput, numericSummarySql } from './queries.js';

/** Distinct reference values kept exactly per numerical feature (for KS and Wasserstein). */
export const PROFILE_MAX_VALUES = 100_000;

export interface NumericProfile {
  feature: string;
  type: 'numerical';
  rows: number;
  n: number;
  nonfinite: number;
  /** Distinct non-missing values, capped at AUTO_MAX_DISCRETE_VALUES + 1. */
  distinct: number;
  std: number;
  min: number;
  max: number;
  edges: number[];
  /** Reference counts of the edges.length + 1 bins. */
  refBins: number[];
  /** drift_profile_values holds every distinct value with its count (else a thinned sample). */
  valuesExact: boolean;
}

export interface CategoricalProfile {
  feature: string;
  type: 'categorical';
  rows: number;
  n: number;
  /** Sorted by code point; counts aligned. */
  categories: string[];
  counts: number[];
}

export type FeatureProfile = NumericProfile | CategoricalProfile;

export interface Profile {
  model: string;
  version: string;
  profileId: number;
  features: Map<string, FeatureProfile>;
}

export interface ReferenceSources {
  /** side 0 rows only: (side, column, value Float64). */
  numeric?: SqlSource;
  /** side 0 rows only: (side, column, value Nullable(String)). */
  categorical?: SqlSource;
  /**
   * side 0 rows only: (side, column, value Array(Float64)), the vector columns of an uploaded file.
   * Not read by buildProfile: they become embedding profiles (vectors.ts, referenceEmbeddingProfiles).
   */
  embedding?: SqlSource;
}

const num = (v: unknown): number => (v === null || v === undefined ? NaN : Number(v));

/** Computes the profile of the reference sources and stores it under (model, version, profileId). */
export async function buildProfile(client: ClickHouseClient, model: string, version: string, profileId: number, src: ReferenceSources): Promise<Profile> {
  const features = new Map<string, FeatureProfile>();
  if (src.numeric) {
    for (const p of await numericProfiles(client, src.numeric)) features.set(p.feature, p);
  }
  if (src.categorical) {
    for (const p of await categoricalProfiles(client, src.categorical)) {
      const other = features.get(p.feature);
      // A column in both sources (e.g. @prediction missing in some rows) keeps the side with values.
      if (other && (other.n > 0 || p.n === 0)) continue;
      features.set(p.feature, p);
    }
  }
  const profile: Profile = { model, version, profileId, features };
  await storeProfile(client, profile, src.numeric);
  return profile;
}

async function numericProfiles(client: ClickHouseClient, src: SqlSource): Promise<NumericProfile[]> {
  type Row = { col: string; ref_rows: string; n: string; ref_inf: string; q: string[]; distinct_capped: number; std: number | null; ref_min: string; ref_max: string };
  const rows = await queryRows<Row>(client, numericSummarySql(src.sql), src.params ?? {});
  const out: NumericProfile[] = rows
    .filter((r) => num(r.ref_rows) > 0)
    .map((r) => {
      const n = num(r.n);
      const edges = n > 0 ? uniqueEdges(r.q.map(bitsToFloat64)) : [];
      return {
        feature: r.col,
        type: 'numerical',
        rows: num(r.ref_rows),
        n,
        nonfinite: num(r.ref_inf),
        distinct: Math.min(num(r.distinct_capped), AUTO_MAX_DISCRETE_VALUES + 1),
        std: n > 0 ? num(r.std) : NaN,
        min: n > 0 ? bitsToFloat64(r.ref_min) : NaN,
        max: n > 0 ? bitsToFloat64(r.ref_max) : NaN,
        edges,
        refBins: new Array<number>(edges.length + 1).fill(0),
        valuesExact: true,
      };
    });
  const binned = out.filter((p) => p.n > 0);
  if (binned.length > 0) {
    const inf = float64ToBits(Infinity);
    const bounds = binned.map((p) => [float64ToBits(p.min), float64ToBits(p.max), ...p.edges.map(float64ToBits), ...Array<string>(QUANTILE_BINS - 1 - p.edges.length).fill(inf)]);
    type BinRow = { col: string; side: number; bin: number; c: string };
    const counts = await queryRows<BinRow>(client, numericBinCountsSql(src.sql), { ...src.params, dw_engine_bin_cols: binned.map((p) => p.feature), dw_engine_bin_edges: bounds });
    const byName = new Map(binned.map((p) => [p.feature, p]));
    for (const r of counts) {
      const p = byName.get(r.col);
      if (p && Number(r.side) === 0) p.refBins[Number(r.bin)] += num(r.c);
    }
  }
  return out;
}

async function categoricalProfiles(client: ClickHouseClient, src: SqlSource): Promise<CategoricalProfile[]> {
  const byCol = await categoryCountsByColumn(client, src);
  const out: CategoricalProfile[] = [];
  for (const [feature, list] of byCol) {
    const rowsTotal = list.reduce((s, r) => s + num(r.c0), 0);
    if (rowsTotal === 0) continue;
    const bins = categoryBins(list.filter((r) => r.val !== null).map((r) => ({ value: r.val as string, ref: num(r.c0), cur: 0 })));
    out.push({ feature, type: 'categorical', rows: rowsTotal, n: bins.reference.reduce((s, c) => s + c, 0), categories: bins.categories, counts: bins.reference });
  }
  return out;
}

const bitsArray = (xs: readonly number[]) => xs.map(float64ToBits);

async function storeProfile(client: ClickHouseClient, p: Profile, numeric: SqlSource | undefined): Promise<void> {
  const key = { dw_p_model: p.model, dw_p_version: p.version, dw_p_id: p.profileId };
  const nums = [...p.features.values()].filter((f): f is NumericProfile => f.type === 'numerical' && f.n > 0);
  // Distinct values per numerical feature: at most PROFILE_MAX_VALUES are kept exactly.
  const distinct = numeric && nums.length > 0
    ? await queryRows<{ col: string; u: string }>(
      client,
      `SELECT dw_col AS col, uniqExact(dw_v + 0.) AS u FROM (${numericInput(numeric.sql)}) WHERE dw_ok AND dw_side = 0 GROUP BY col`,
      numeric.params ?? {},
    )
    : [];
  const many = new Set(distinct.filter((r) => num(r.u) > PROFILE_MAX_VALUES).map((r) => r.col));
  for (const f of nums) f.valuesExact = !many.has(f.feature);
  // Floats travel as their bits (see bins.ts): exact whatever the server's float parser.
  for (const f of p.features.values()) {
    const isNum = f.type === 'numerical';
    await client.command({
      query: `INSERT INTO drift_profiles (model, version, profile_id, feature, type, rows, n, nonfinite, distinct_capped, std, min, max, edges, ref_bins, categories, category_counts, values_exact)
        SELECT {dw_p_model:String}, {dw_p_version:String}, {dw_p_id:UInt64}, {f:String}, {type:String}, {rows:UInt64}, {n:UInt64}, {nonfinite:UInt64}, {distinct:UInt64},
          reinterpretAsFloat64(toUInt64({std:String})), reinterpretAsFloat64(toUInt64({min:String})), reinterpretAsFloat64(toUInt64({max:String})),
          arrayMap(x -> reinterpretAsFloat64(toUInt64(x)), {edges:Array(String)}), {ref_bins:Array(UInt64)}, {categories:Array(String)}, {category_counts:Array(UInt64)}, {exact:Bool}`,
      query_params: {
        ...key,
        f: f.feature,
        type: f.type,
        rows: f.rows,
        n: f.n,
        nonfinite: isNum ? f.nonfinite : 0,
        distinct: isNum ? f.distinct : f.counts.filter((c) => c > 0).length,
        std: float64ToBits(isNum ? f.std : NaN),
        min: float64ToBits(isNum ? f.min : NaN),
        max: float64ToBits(isNum ? f.max : NaN),
        edges: isNum ? bitsArray(f.edges) : [],
        ref_bins: isNum ? f.refBins : [],
        categories: isNum ? [] : f.categories,
        category_counts: isNum ? [] : f.counts,
        exact: isNum ? f.valuesExact : true,
      },
    });
  }
  if (!numeric || nums.length === 0) return;
  const exact = nums.filter((f) => f.valuesExact).map((f) => f.feature);
  const thinned = nums.filter((f) => !f.valuesExact).map((f) => f.feature);
  const params = { ...numeric.params, ...key };
  if (exact.length > 0) {
    await client.command({
      query: `INSERT INTO drift_profile_values (model, version, profile_id, feature, value, count)
        SELECT {dw_p_model:String}, {dw_p_version:String}, {dw_p_id:UInt64}, dw_col, dw_v + 0. AS v, count()
        FROM (${numericInput(numeric.sql)}) WHERE dw_ok AND dw_side = 0 AND dw_col IN {dw_p_cols:Array(String)}
        GROUP BY dw_col, v`,
      query_params: { ...params, dw_p_cols: exact },
    });
  }
  if (thinned.length > 0) {
    // PROFILE_MAX_VALUES order statistics at positions round(i (n - 1) / (K - 1)): minimum and maximum included.
    await client.command({
      query: `INSERT INTO drift_profile_values (model, version, profile_id, feature, value, count)
        SELECT {dw_p_model:String}, {dw_p_version:String}, {dw_p_id:UInt64}, col, v, 1 FROM (
          SELECT dw_col AS col, arraySort(groupArray(dw_v + 0.)) AS sv, length(sv) AS len,
                 -- a position is kept when it is the rounding of some i (n - 1) / (K - 1) (n > K: at most one i).
                 -- The lambda captures only the scalar len (a captured array is copied per element).
                 arrayFilter((x, k) -> toUInt64(round(toUInt64(round(k * ${PROFILE_MAX_VALUES - 1} / (len - 1))) * (len - 1) / ${PROFILE_MAX_VALUES - 1})) = k,
                             sv, arrayMap(j -> j - 1, arrayEnumerate(sv))) AS picked
          FROM (${numericInput(numeric.sql)}) WHERE dw_ok AND dw_side = 0 AND dw_col IN {dw_p_cols:Array(String)}
          GROUP BY col)
        ARRAY JOIN picked AS v`,
      query_params: { ...params, dw_p_cols: thinned },
    });
  }
}

/** The stored profile (undefined when there is none). */
export async function loadProfile(client: ClickHouseClient, model: string, version: string, profileId: number): Promise<Profile | undefined> {
  type Row = {
    feature: string; type: string; rows: string; n: string; nonfinite: string; distinct_capped: string;
    std: string; min: string; max: string; edges: string[]; ref_bins: string[]; categories: string[]; category_counts: string[]; values_exact: boolean | number;
  };
  const rows = await queryRows<Row>(
    client,
    `SELECT feature, type, rows, n, nonfinite, distinct_capped,
            toString(reinterpretAsUInt64(std)) AS std, toString(reinterpretAsUInt64(min)) AS min, toString(reinterpretAsUInt64(max)) AS max,
            arrayMap(x -> toString(reinterpretAsUInt64(x)), edges) AS edges, ref_bins, categories, category_counts, values_exact
     FROM drift_profiles WHERE model = {m:String} AND version = {v:String} AND profile_id = {p:UInt64}`,
    { m: model, v: version, p: profileId },
  );
  if (rows.length === 0) return undefined;
  const features = new Map<string, FeatureProfile>();
  for (const r of rows) {
    if (r.type === 'numerical') {
      features.set(r.feature, {
        feature: r.feature, type: 'numerical', rows: num(r.rows), n: num(r.n), nonfinite: num(r.nonfinite), distinct: num(r.distinct_capped),
        std: bitsToFloat64(r.std), min: bitsToFloat64(r.min), max: bitsToFloat64(r.max), edges: r.edges.map(bitsToFloat64), refBins: r.ref_bins.map(num),
        valuesExact: Boolean(r.values_exact),
      });
    } else {
      features.set(r.feature, { feature: r.feature, type: 'categorical', rows: num(r.rows), n: num(r.n), categories: r.categories, counts: r.category_counts.map(num) });
    }
  }
  return { model, version, profileId, features };
}
