// Live drift against a stored profile. The reference side is the profile (profile.ts); the current
// side is counted either from the per-minute rollups (drift_minutes for numerical features and
// outputs, category_minutes and prediction_minutes for categories) or from raw rows, with the
// profile's edges. Binned methods (psi, kl, jensenshannon, hellinger, tvd, linf, chisquare) and all
// categorical columns need nothing else; KS and Wasserstein read the current window's raw values
// and the profile's stored reference values. The statistics are the engine's (binned.ts,
// kolmogorov.ts, quality.ts): on the same windows, the same bin counts give the same numbers.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import { tsText } from '../store/writer.js';
import { autoMethod } from './auto.js';
import { binnedStatistic, isBinnedMethod, type BinnedMethod } from './binned.js';
import { categoryBins, compareCodePoints, float64ToBits, QUANTILE_BINS } from './bins.js';
import { DEFAULT_MIN_EFFECT_SIZE, WASSERSTEIN_MIN_SCALE, type MinEffectSize } from './engine.js';
import { ksPValue } from './kolmogorov.js';
import type { CategoricalProfile, NumericProfile, Profile } from './profile.js';
import { columnQuality, DEFAULT_QUALITY_THRESHOLDS } from './quality.js';
import { categoryCountsSql, numericBinCountsSql, numericSummarySql, rawDistanceSql } from './queries.js';
import { DEFAULT_THRESHOLDS, DriftInputError, P_VALUE_METHODS, RAW_VALUE_METHODS, type ColumnDrift, type DriftReport, type Method } from './report.js';
import { rawCategoricalSource, rawNumericSource } from './sources.js';

export const MINUTE_MS = 60_000;

export interface NumericCurrent { rows: number; m: number; nonfinite: number; bins: number[]; outside: number }
export interface CategoricalCurrent { rows: number; counts: Map<string, number> }
export interface CurrentCounts { numeric: Map<string, NumericCurrent>; categorical: Map<string, CategoricalCurrent> }

/** A current window [fromMs, toMs): whole minutes (multiples of a minute) when read from rollups. */
export interface MinuteWindow { fromMs: number; toMs: number }

const num = (v: unknown): number => (v === null || v === undefined ? NaN : Number(v));
const NAN_KEY = 65534;
const INF_KEY = 65535;

function windowParams(p: Profile, w: MinuteWindow) {
  return { dw_model: p.model, dw_version: p.version, dw_pid: p.profileId, dw_from_s: Math.floor(w.fromMs / 1000), dw_to_s: Math.floor(w.toMs / 1000) };
}
const MINUTES = 'minute >= toDateTime({dw_from_s:UInt32}, \'UTC\') AND minute < toDateTime({dw_to_s:UInt32}, \'UTC\')';

/** Current counts from the rollups: ~1 row per feature and minute. */
export async function currentFromRollups(client: ClickHouseClient, p: Profile, w: MinuteWindow): Promise<CurrentCounts> {
  const params = windowParams(p, w);
  const out: CurrentCounts = { numeric: new Map(), categorical: new Map() };
  // Features without reference values are left out of every report: not read.
  const numeric = [...p.features.values()].filter((f): f is NumericProfile => f.type === 'numerical' && f.n > 0);
  const categorical = [...p.features.values()].filter((f): f is CategoricalProfile => f.type === 'categorical' && f.n > 0);
  if (numeric.length > 0) {
    const rows = await queryRows<{ feature: string; k: number[]; c: string[] }>(
      client,
      `SELECT feature, mapKeys(b) AS k, mapValues(b) AS c FROM (
         SELECT feature, sumMap(bins) AS b FROM drift_minutes
         WHERE model = {dw_model:String} AND version = {dw_version:String} AND profile_id = {dw_pid:UInt64} AND ${MINUTES}
         GROUP BY feature)`,
      params,
    );
    for (const r of rows) {
      const f = p.features.get(r.feature);
      if (!f || f.type !== 'numerical') continue;
      const cur: NumericCurrent = { rows: 0, m: 0, nonfinite: 0, bins: new Array<number>(f.edges.length + 1).fill(0), outside: 0 };
      r.k.forEach((key, i) => {
        const c = num(r.c[i]);
        cur.rows += c;
        if (key === INF_KEY) cur.nonfinite += c;
        else if (key !== NAN_KEY) {
          cur.m += c;
          cur.bins[key >> 1] += c;
          if (key & 1) cur.outside += c;
        }
      });
      out.numeric.set(r.feature, cur);
    }
  }
  const cats = categorical.filter((f) => f.feature !== '@prediction').map((f) => f.feature);
  if (cats.length > 0) {
    const rows = await queryRows<{ feature: string; value: string; c: string }>(
      client,
      `SELECT feature, value, sum(rows) AS c FROM category_minutes
       WHERE model = {dw_model:String} AND version = {dw_version:String} AND ${MINUTES} AND feature IN {dw_cats:Array(String)}
       GROUP BY feature, value`,
      { ...params, dw_cats: cats },
    );
    for (const r of rows) addCategory(out, r.feature, r.value, num(r.c));
  }
  if (categorical.some((f) => f.feature === '@prediction')) {
    const [r] = await queryRows<{ k: string[]; c: string[] }>(
      client,
      `SELECT mapKeys(o) AS k, mapValues(o) AS c FROM (
         SELECT sumMap(outputs) AS o FROM prediction_minutes
         WHERE model = {dw_model:String} AND version = {dw_version:String} AND ${MINUTES})`,
      params,
    );
    // The profile says this version's outputs are text: every output is a category ('' = missing).
    r?.k.forEach((value, i) => addCategory(out, '@prediction', value, num(r.c[i])));
  }
  return out;
}

/** The sum of two disjoint windows' counts (into `a`). */
export function addCounts(a: CurrentCounts, b: CurrentCounts): CurrentCounts {
  for (const [f, c] of b.numeric) {
    const x = a.numeric.get(f);
    if (!x) a.numeric.set(f, c);
    else {
      x.rows += c.rows;
      x.m += c.m;
      x.nonfinite += c.nonfinite;
      x.outside += c.outside;
      c.bins.forEach((k, i) => (x.bins[i] += k));
    }
  }
  for (const [f, c] of b.categorical) {
    const x = a.categorical.get(f);
    if (!x) a.categorical.set(f, c);
    else {
      x.rows += c.rows;
      for (const [v, k] of c.counts) x.counts.set(v, (x.counts.get(v) ?? 0) + k);
    }
  }
  return a;
}

function addCategory(out: CurrentCounts, feature: string, value: string, c: number): void {
  let cur = out.categorical.get(feature);
  if (!cur) out.categorical.set(feature, (cur = { rows: 0, counts: new Map() }));
  cur.rows += c;
  if (value !== '') cur.counts.set(value, (cur.counts.get(value) ?? 0) + c);
}

/** The raw-row sources of a current window (side 1), with an optional extra filter. */
function currentSources(p: Profile, w: MinuteWindow, filter?: string, filterParams: Record<string, unknown> = {}) {
  const params = { dw_model: p.model, dw_version: p.version, dw_cur_from: tsText(w.fromMs), dw_cur_to: tsText(w.toMs - 1), ...filterParams };
  return {
    numeric: { sql: rawNumericSource([[1, 'dw_cur_from', 'dw_cur_to']], filter), params },
    categorical: { sql: rawCategoricalSource([[1, 'dw_cur_from', 'dw_cur_to']], filter), params },
  };
}

/** The same counts from raw rows (windows older than the rollups of this profile, or filtered ones). */
export async function currentFromRaw(client: ClickHouseClient, p: Profile, w: MinuteWindow, filter?: string, filterParams?: Record<string, unknown>): Promise<CurrentCounts> {
  const src = currentSources(p, w, filter, filterParams);
  const out: CurrentCounts = { numeric: new Map(), categorical: new Map() };
  type Row = { col: string; cur_rows: string; m: string; cur_inf: string };
  const summaries = await queryRows<Row>(client, numericSummarySql(src.numeric.sql), src.numeric.params);
  const binned: NumericProfile[] = [];
  for (const r of summaries) {
    const f = p.features.get(r.col);
    if (!f || f.type !== 'numerical' || num(r.cur_rows) === 0) continue;
    out.numeric.set(r.col, { rows: num(r.cur_rows), m: num(r.m), nonfinite: num(r.cur_inf), bins: new Array<number>(f.edges.length + 1).fill(0), outside: 0 });
    if (f.n > 0) binned.push(f);
  }
  if (binned.length > 0) {
    const inf = float64ToBits(Infinity);
    const bounds = binned.map((f) => [float64ToBits(f.min), float64ToBits(f.max), ...f.edges.map(float64ToBits), ...Array<string>(QUANTILE_BINS - 1 - f.edges.length).fill(inf)]);
    const rows = await queryRows<{ col: string; side: number; bin: number; oor: number; c: string }>(
      client, numericBinCountsSql(src.numeric.sql), { ...src.numeric.params, dw_engine_bin_cols: binned.map((f) => f.feature), dw_engine_bin_edges: bounds });
    for (const r of rows) {
      const cur = out.numeric.get(r.col);
      if (!cur || Number(r.side) !== 1) continue;
      cur.bins[Number(r.bin)] += num(r.c);
      if (Number(r.oor)) cur.outside += num(r.c);
    }
  }
  const cats = await queryRows<{ col: string; val: string | null; c1: string }>(client, categoryCountsSql(src.categorical.sql), src.categorical.params);
  for (const r of cats) {
    const f = p.features.get(r.col);
    if (!f || f.type !== 'categorical') continue;
    addCategory(out, r.col, r.val ?? '', num(r.c1));
  }
  return out;
}

interface RawDistance { n: number; m: number; d: number; w: number; outside: number }

/** KS D and Wasserstein distance of the profile's reference values against the window's raw values. */
async function rawDistances(client: ClickHouseClient, p: Profile, w: MinuteWindow, cols: string[], filter?: string, filterParams?: Record<string, unknown>): Promise<Map<string, RawDistance>> {
  const cur = currentSources(p, w, filter, filterParams).numeric;
  const sql = `SELECT 0 AS side, feature AS column, value FROM drift_profile_values ARRAY JOIN range(count) AS dw_i
    WHERE model = {dw_model:String} AND version = {dw_version:String} AND profile_id = {dw_pid:UInt64} AND feature IN {dw_ref_cols:Array(String)}
    UNION ALL
    ${cur.sql}`;
  const rows = await queryRows<{ col: string; n: string; m: string; d: number; w: number; oor: string }>(
    client, rawDistanceSql(sql), { ...cur.params, dw_pid: p.profileId, dw_ref_cols: cols, dw_engine_raw_cols: cols });
  return new Map(rows.map((r) => [r.col, { n: num(r.n), m: num(r.m), d: num(r.d), w: num(r.w), outside: num(r.oor) }]));
}

export interface ProfileDriftOptions {
  method: Method | 'auto';
  /** Raw-row filter for KS/Wasserstein current values (the same filter as the counts'). */
  filter?: string;
  filterParams?: Record<string, unknown>;
  /** ks/wasserstein read raw current values: refuse (DriftInputError) above this many in all. */
  maxRawValues?: number;
  /** The engine's effect-size guard of ks and chisquare verdicts (engine.ts, MinEffectSize); off by default here. */
  minEffectSize?: boolean | Partial<MinEffectSize>;
}

/** Default limit of raw current values a ks/wasserstein computation may read (about 3 s of work). */
export const MAX_RAW_VALUES = 20_000_000;

/**
 * The drift report (conventions' shape) of a profile against current counts. Columns missing on
 * either side are left out (a live window need not have every feature), as the engine's
 * emptyColumns: 'skip' does.
 */
export async function profileReport(client: ClickHouseClient, p: Profile, cur: CurrentCounts, w: MinuteWindow, o: ProfileDriftOptions): Promise<DriftReport> {
  const features = [...p.features.values()].sort((a, b) => compareCodePoints(a.feature, b.feature));
  const referenceRows = Math.max(0, ...features.map((f) => f.rows));
  const currentRows = Math.max(0, ...[...cur.numeric.values()].map((c) => c.rows), ...[...cur.categorical.values()].map((c) => c.rows));
  const finish = (columns: ColumnDrift[]): DriftReport => ({
    reference_rows: referenceRows,
    current_rows: currentRows,
    drift_share: 0.5,
    drifted_columns: columns.filter((c) => c.drift).length,
    dataset_drift: columns.length > 0 && columns.filter((c) => c.drift).length / columns.length >= 0.5,
    columns,
  });
  if (referenceRows === 0 || currentRows === 0) return finish([]);

  type Plan = { f: NumericProfile; c: NumericCurrent; method: Method } | { f: CategoricalProfile; c: CategoricalCurrent; method: Method };
  const plan: Plan[] = [];
  for (const f of features) {
    if (f.type === 'numerical') {
      const c = cur.numeric.get(f.feature);
      if (!c || f.n === 0 || c.m === 0) continue;
      plan.push({ f, c, method: o.method === 'auto' ? autoMethod('numerical', f.n, f.distinct) : o.method });
    } else {
      const c = cur.categorical.get(f.feature);
      const m = c ? [...c.counts.values()].reduce((s, x) => s + x, 0) : 0;
      if (!c || f.n === 0 || m === 0) continue;
      // Checked on the columns reported: a column without values on a side is left out before.
      if (o.method !== 'auto' && RAW_VALUE_METHODS.has(o.method)) {
        throw new DriftInputError(`column "${f.feature}" is categorical: ${o.method} needs numerical values; use chisquare, jensenshannon, psi, kl, hellinger, tvd or linf`, f.feature);
      }
      plan.push({ f, c, method: o.method === 'auto' ? autoMethod('categorical', f.n, f.counts.filter((x) => x > 0).length) : o.method });
    }
  }
  const minEffect = o.minEffectSize ? { ...DEFAULT_MIN_EFFECT_SIZE, ...(o.minEffectSize === true ? {} : o.minEffectSize) } : undefined;
  const rawPlan = plan.filter((x) => !isBinnedMethod(x.method));
  const rawCols = rawPlan.map((x) => x.f.feature);
  const rawValues = rawPlan.reduce((sum, x) => sum + (x.c as NumericCurrent).m, 0);
  const limit = o.maxRawValues ?? MAX_RAW_VALUES;
  if (rawValues > limit) {
    const names = rawCols.slice(0, 5).join(', ') + (rawCols.length > 5 ? `, ... (${rawCols.length} columns)` : '');
    throw new DriftInputError(`ks and wasserstein read every raw current value: this window holds ${rawValues} for ${names} (limit ${limit}); ask for a binned method (e.g. method=jensenshannon, read from the rollups) or a shorter window`);
  }
  const raw = rawCols.length > 0 ? await rawDistances(client, p, w, rawCols, o.filter, o.filterParams) : new Map<string, RawDistance>();

  const columns: ColumnDrift[] = plan.map((x) => {
    let statistic: number;
    let pValue: number | null = null;
    let outside: number;
    let m: number;
    let curNonFinite = 0;
    let refNonFinite = 0;
    if (x.f.type === 'categorical') {
      const c = x.c as CategoricalCurrent;
      const present = new Map<string, { value: string; ref: number; cur: number }>();
      x.f.categories.forEach((v, i) => present.set(v, { value: v, ref: x.f.type === 'categorical' ? (x.f as CategoricalProfile).counts[i] : 0, cur: 0 }));
      for (const [v, k] of c.counts) {
        const e = present.get(v);
        if (e) e.cur += k;
        else present.set(v, { value: v, ref: 0, cur: k });
      }
      const bins = categoryBins(present.values());
      const r = binnedStatistic(x.method as BinnedMethod, bins.reference, bins.current);
      statistic = r.statistic;
      pValue = r.p_value;
      outside = bins.current.reduce((s, k, i) => (bins.reference[i] === 0 ? s + k : s), 0);
      m = bins.current.reduce((s, k) => s + k, 0);
    } else {
      const f = x.f;
      const c = x.c as NumericCurrent;
      m = c.m;
      curNonFinite = c.nonfinite;
      refNonFinite = f.nonfinite;
      if (isBinnedMethod(x.method)) {
        const r = binnedStatistic(x.method, f.refBins, c.bins);
        statistic = r.statistic;
        pValue = r.p_value;
        outside = c.outside;
      } else {
        const r = raw.get(f.feature);
        if (!r) throw new Error(`internal: no raw-value distances for column "${f.feature}"`);
        if (x.method === 'ks') {
          statistic = r.d;
          pValue = ksPValue(r.d, f.n, r.m);
        } else {
          statistic = r.w / Math.max(f.std, WASSERSTEIN_MIN_SCALE);
        }
        outside = c.outside;
      }
    }
    const curRows = x.c.rows;
    const threshold = DEFAULT_THRESHOLDS[x.method];
    const n = x.f.type === 'numerical' ? x.f.n : x.f.counts.reduce((sum, k) => sum + k, 0);
    const effect = x.method === 'ks' ? statistic : x.method === 'chisquare' ? Math.sqrt(statistic / (n + m)) : null;
    const min = minEffect && (x.method === 'ks' || x.method === 'chisquare') ? minEffect[x.method] : null;
    const quality = columnQuality(
      { type: x.f.type, refRows: x.f.rows, curRows, refMissing: x.f.rows - x.f.n, curMissing: curRows - m, refNonFinite, curNonFinite, curOutside: outside, m },
      DEFAULT_QUALITY_THRESHOLDS,
    );
    return {
      column: x.f.feature,
      type: x.f.type,
      method: x.method,
      statistic,
      p_value: pValue,
      threshold,
      drift: P_VALUE_METHODS.has(x.method) ? (pValue as number) < threshold && (min === null || (effect as number) >= min) : statistic >= threshold,
      ...(minEffect ? { effect_size: effect, min_effect_size: min } : {}),
      reference_missing: x.f.rows - x.f.n,
      current_missing: curRows - m,
      quality,
    };
  });
  return finish(columns);
}
