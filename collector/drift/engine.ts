// The drift engine: counting, quantiles, KS D and the Wasserstein integral run inside ClickHouse
// (a few queries for all columns, GROUP BY column); the formulas of drift-conventions.md are then
// applied in TypeScript to per-column summaries (bin counts, D, W), never to raw rows. Vector
// columns (an `embedding` source) get embedding.ts's centroid from vectors.ts's summaries.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import { autoMethod } from './auto.js';
import { binnedStatistic, isBinnedMethod, type BinnedMethod } from './binned.js';
import { bitsToFloat64, categoryBins, compareCodePoints, float64ToBits, QUANTILE_BINS, uniqueEdges } from './bins.js';
import { benjaminiHochberg } from './correction.js';
import { CENTROID_THRESHOLD, EMBEDDING_METHOD, embeddingColumn } from './embedding.js';
import { ksPValue } from './kolmogorov.js';
import { columnQuality, resolveQualityThresholds, type QualityThresholds } from './quality.js';
import { categoryCountsSql, numericBinCountsSql, numericColumnBinCountsSql, numericQuantilesSql, numericSummaryRawSql, numericSummarySql, rawDistanceSql } from './queries.js';
import {
  DEFAULT_THRESHOLDS,
  DriftInputError,
  isMethod,
  P_VALUE_METHODS,
  RAW_VALUE_METHODS,
  type ColumnDrift,
  type ColumnType,
  type DriftReport,
  type Method,
} from './report.js';
import { vectorSummaries, vectorTraceSq, type VectorSummary } from './vectors.js';
import type { ScannedColumn } from './column-scan.js';

export interface SqlSource {
  sql: string;
  params?: Record<string, unknown>;
  /**
   * The columns this source yields, when known: a query that needs none of them skips the source.
   * Only meaningful in a list of sources (see DriftOptions.numeric).
   */
  columns?: readonly string[];
}

/**
 * Effect-size guard of the p-value methods: a column drifts only when its p-value is below the
 * threshold and its effect size reaches the minimum. ks: the KS statistic D itself (a distance
 * between the two CDFs, in [0, 1]); chisquare: Cramér's V = sqrt(chi2 / (n + m)) of the 2 x k table.
 */
export interface MinEffectSize {
  ks: number;
  chisquare: number;
}

/**
 * Defaults of the guard, chosen to flag the effect sizes the distance methods' default thresholds
 * flag. ks: D = 0.04 is what a shift of 0.1 standard deviations of a normal gives (2 Phi(0.05) - 1),
 * the shift at which the Wasserstein default (0.1 std) drifts. chisquare: V = 0.1, Cohen's "small"
 * effect; for small differences V ~ 1.18 x the Jensen-Shannon distance (JS 0.1 ~ V 0.118) and
 * V ~ sqrt(2) x Hellinger, so it sits at the jensenshannon default, auto's large-sample choice.
 * With the KS test's own 5% critical value 1.36 sqrt((n + m) / nm), the ks minimum only bites above
 * n m / (n + m) ~ 1150: the sizes at which auto no longer picks ks.
 */
export const DEFAULT_MIN_EFFECT_SIZE: Readonly<MinEffectSize> = { ks: 0.04, chisquare: 0.1 };

/** A column's distributions on the bins its statistics use (for drawing them). */
export type ColumnDistribution =
  | {
      column: string;
      type: 'numerical';
      /** The reference's bin edges: bins (-inf, e1), [e1, e2), ..., [e_last, +inf). */
      edges: number[];
      /** The reference's minimum and maximum (where the outer bins' reference values end). */
      referenceMin: number;
      referenceMax: number;
      reference: number[];
      current: number[];
    }
  | { column: string; type: 'categorical'; categories: string[]; reference: number[]; current: number[] }
  /** A vector column: both centroids, and the reference's per-dimension variance (for its scale). */
  | { column: string; type: 'embedding'; referenceMean: number[]; currentMean: number[]; referenceVar: number[] };

export interface DriftDetails {
  report: DriftReport;
  /** With `distributions: true`: one per reported column, in the report's order. */
  distributions: ColumnDistribution[];
}

export interface DriftOptions {
  /**
   * SELECT yielding side UInt8 (0 = reference, 1 = current), column String, value Float64 (NaN or
   * +-Inf = missing). A list of sources, each yielding its own columns, is aggregated part by part
   * (UNION ALL): ClickHouse then runs the parts in parallel, which is how the CLI reads a wide file,
   * one part per core. Each part costs ClickHouse a plan of the engine's per-column query (about
   * 15 ms), so a few parts of many columns beat one part per column.
   */
  numeric?: SqlSource | SqlSource[];
  /**
   * The numerical columns' summaries and raw-value distances computed from their values as the
   * engine streams them out (column-scan.ts; the CLI on the embedded engine). Used instead of the
   * summary query when `auto` or a raw-value method is asked for; `numeric` still serves the binned
   * methods and the distributions.
   */
  numericScan?: () => Promise<ScannedColumn[]>;
  /** SELECT yielding side UInt8, column String, value Nullable(String) (NULL or '' = missing). */
  categorical?: SqlSource;
  /**
   * SELECT yielding side UInt8, column String, value Array(Float64): vector columns (embeddings),
   * compared with `centroid` (embedding.ts; formulas in README.md). An empty array is a missing row,
   * a vector with a NaN or +-Inf component a missing one (counted as non-finite); vectors of
   * different lengths in one column are a DriftInputError.
   */
  embedding?: SqlSource;
  /**
   * Default 'auto'; a map gives a method per column (columns not in it use 'auto'). Vector columns
   * take only 'centroid' (what 'auto' picks for them); scalar columns anything but 'centroid'.
   */
  method?: ColumnMethod | 'auto' | Record<string, ColumnMethod | 'auto'>;
  /** Overrides of the default thresholds (centroid's: the p-value's, CENTROID_THRESHOLD by default). */
  thresholds?: Partial<Record<ColumnMethod, number>>;
  /** Share of drifted columns at which the dataset drifts; default 0.5. */
  driftShare?: number;
  /**
   * A column with no non-missing value on one side has no statistic: 'error' (default) throws a
   * DriftInputError naming it, 'skip' leaves it out of the report. A side with no rows at all gives
   * a report with no columns, never an error.
   */
  emptyColumns?: 'error' | 'skip';
  /**
   * 'bh': Benjamini-Hochberg across the report's p-value columns (ks, chisquare). Each column then
   * carries p_value_adjusted, and p-value verdicts use it; p_value stays the raw, scipy-reproducible one.
   */
  pValueCorrection?: 'none' | 'bh';
  /** Overrides of the data-quality thresholds (see quality.ts). */
  quality?: Partial<QualityThresholds>;
  /**
   * Effect-size guard of the p-value methods (see MinEffectSize); `true` for DEFAULT_MIN_EFFECT_SIZE.
   * Off by default here, so the engine's verdicts are the conventions' (the golden tests); the CLI
   * turns it on by default. With it, every column carries `effect_size` (D for ks, Cramér's V for
   * chisquare, null for the distance methods, whose statistic is the effect size) and `min_effect_size`.
   */
  minEffectSize?: boolean | Partial<MinEffectSize>;
  /** Also return each column's bin counts (numerical columns are binned even for ks/wasserstein). */
  distributions?: boolean;
}

/** A scalar method, or centroid (vector columns). */
export type ColumnMethod = Method | typeof EMBEDDING_METHOD;

/** Query parameters of the engine's own SQL start with this; a source's parameters must not. */
export const RESERVED_PARAM_PREFIX = 'dw_engine_';

/** Minimum of the reference standard deviation that normalises the Wasserstein distance. */
export const WASSERSTEIN_MIN_SCALE = 0.001;

export interface ColumnSummary {
  column: string;
  type: ColumnType;
  refRows: number;
  curRows: number;
  n: number;
  m: number;
  /** +-Inf values per side (the non-finite share; NaN and NULL are missing, as rows - n). */
  refNonFinite: number;
  curNonFinite: number;
  /** Distinct non-missing reference values, capped (only compared against the auto limit). */
  distinct: number;
}

export interface NumericSummary extends ColumnSummary {
  type: 'numerical';
  edges: number[];
  /** Population standard deviation of the reference. */
  std: number;
  refMin: number;
  refMax: number;
}

interface CategoricalSummary extends ColumnSummary {
  type: 'categorical';
  categories: string[];
  refCounts: number[];
  curCounts: number[];
}

/** A vector column: n, m = usable vectors per side. */
interface EmbeddingSummary {
  column: string;
  type: 'embedding';
  refRows: number;
  curRows: number;
  n: number;
  m: number;
  vectors: VectorSummary;
}

function embeddingSummary(v: VectorSummary): EmbeddingSummary {
  return { column: v.column, type: 'embedding', refRows: v.ref.rows, curRows: v.cur.rows, n: v.ref.n, m: v.cur.n, vectors: v };
}

const num = (v: unknown): number => (v === null || v === undefined ? NaN : Number(v));

/** One query over a list of sources: the query of each (needed) source, UNION ALL. */
function combined(parts: readonly SqlSource[], query: (sql: string) => string, needed?: ReadonlySet<string>): SqlSource | undefined {
  const use = needed ? parts.filter((p) => !p.columns || p.columns.some((c) => needed.has(c))) : parts;
  if (use.length === 0) return undefined;
  return { sql: use.map((p) => query(p.sql)).join('\nUNION ALL\n'), params: Object.assign({}, ...use.map((p) => p.params ?? {})) };
}

/**
 * Per-column summaries; with `raw`, the raw-value distances of every column from the same scan
 * (numericSummaryRawSql), for when raw-value methods or `auto` are asked for.
 */
async function numericSummaries(client: ClickHouseClient, parts: readonly SqlSource[], raw: boolean): Promise<{ summaries: NumericSummary[]; raw?: Map<string, RawDistance> }> {
  type Row = { col: string; ref_rows: string; cur_rows: string; n: string; m: string; ref_inf: string; cur_inf: string; distinct_capped: number; std: number | null; ref_min: string; ref_max: string; fits?: number; d?: number; w?: number; oor?: string };
  const q = combined(parts, (sql) => (raw ? numericSummaryRawSql(sql) : numericSummarySql(sql, { quantiles: false })))!;
  const rows = await queryRows<Row>(client, q.sql, q.params);
  let distances: Map<string, RawDistance> | undefined;
  if (raw) {
    distances = new Map(rows.filter((r) => Number(r.fits) === 1).map((r) => [r.col, { n: num(r.n), m: num(r.m), d: num(r.d), w: num(r.w), outside: num(r.oor) }]));
    // Values beyond the single sort's keys (magnitudes >= 2^65 or tiny ones): the two-sort query.
    const rest = rows.filter((r) => Number(r.fits) !== 1 && num(r.n) > 0 && num(r.m) > 0).map((r) => r.col);
    if (rest.length > 0) for (const [col, r] of await rawDistances(client, parts, rest)) distances.set(col, r);
  }
  return { raw: distances, summaries: rows.map((r) => ({
    column: r.col,
    type: 'numerical',
    refRows: num(r.ref_rows),
    curRows: num(r.cur_rows),
    n: num(r.n),
    m: num(r.m),
    refNonFinite: num(r.ref_inf),
    curNonFinite: num(r.cur_inf),
    distinct: num(r.distinct_capped),
    // Filled in for the columns that are binned (quantiles cost the most of the summary).
    edges: [],
    std: num(r.std),
    refMin: bitsToFloat64(r.ref_min),
    refMax: bitsToFloat64(r.ref_max),
  })) };
}

/** numericSummaries' result from a scan of the columns' values. */
function fromScan(columns: ScannedColumn[]): { summaries: NumericSummary[]; raw: Map<string, RawDistance> } {
  const raw = new Map<string, RawDistance>();
  const summaries = columns.map(({ d, w, outside, ...summary }): NumericSummary => {
    if (summary.n > 0 && summary.m > 0) raw.set(summary.column, { n: summary.n, m: summary.m, d, w, outside });
    return { ...summary, type: 'numerical', edges: [] };
  });
  return { summaries, raw };
}

/** A categorical source's counts per value and side (c0 reference, c1 current), grouped by column. */
export type CategoryCountRow = { col: string; val: string | null; c0: string; c1: string };
export async function categoryCountsByColumn(client: ClickHouseClient, src: SqlSource): Promise<Map<string, CategoryCountRow[]>> {
  const rows = await queryRows<CategoryCountRow>(client, categoryCountsSql(src.sql), src.params ?? {});
  const byCol = new Map<string, CategoryCountRow[]>();
  for (const r of rows) {
    const list = byCol.get(r.col);
    if (list) list.push(r);
    else byCol.set(r.col, [r]);
  }
  return byCol;
}

async function categoricalSummaries(client: ClickHouseClient, src: SqlSource): Promise<CategoricalSummary[]> {
  const byCol = await categoryCountsByColumn(client, src);
  return [...byCol].map(([column, list]) => {
    let refRows = 0;
    let curRows = 0;
    const present: { value: string; ref: number; cur: number }[] = [];
    for (const r of list) {
      const ref = num(r.c0);
      const cur = num(r.c1);
      refRows += ref;
      curRows += cur;
      if (r.val !== null) present.push({ value: r.val, ref, cur });
    }
    const bins = categoryBins(present);
    const n = bins.reference.reduce((s, c) => s + c, 0);
    const m = bins.current.reduce((s, c) => s + c, 0);
    return {
      column,
      type: 'categorical',
      refRows,
      curRows,
      n,
      m,
      refNonFinite: 0,
      curNonFinite: 0,
      distinct: bins.reference.filter((c) => c > 0).length,
      categories: bins.categories,
      refCounts: bins.reference,
      curCounts: bins.current,
    };
  });
}

function checkSource(name: string, source: SqlSource | SqlSource[] | undefined): void {
  if (source === undefined) return;
  if (Array.isArray(source)) {
    if (source.length === 0) throw new DriftInputError(`the ${name} source is an empty list`);
    for (const s of source) checkSource(name, s);
    return;
  }
  const src = source;
  if (typeof src.sql !== 'string' || src.sql.trim() === '') throw new DriftInputError(`the ${name} source has no SQL`);
  for (const k of Object.keys(src.params ?? {})) {
    if (k.startsWith(RESERVED_PARAM_PREFIX)) throw new DriftInputError(`the ${name} source uses the query parameter "${k}": names starting with ${RESERVED_PARAM_PREFIX} are reserved by the drift engine`);
  }
}

function resolveThresholds(over: DriftOptions['thresholds']): Record<ColumnMethod, number> {
  const t: Record<ColumnMethod, number> = { ...DEFAULT_THRESHOLDS, [EMBEDDING_METHOD]: CENTROID_THRESHOLD };
  for (const [k, v] of Object.entries(over ?? {})) {
    if (!isMethod(k) && k !== EMBEDDING_METHOD) throw new DriftInputError(`threshold given for unknown method "${k}"`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new DriftInputError(`threshold for ${k} must be a finite number, got ${String(v)}`);
    t[k] = v;
  }
  return t;
}

function methodOption(m: unknown, where: string): ColumnMethod | 'auto' {
  if (m === 'auto' || m === EMBEDDING_METHOD || isMethod(m)) return m;
  throw new DriftInputError(`unknown drift method ${JSON.stringify(m)}${where}: expected auto or one of ks, wasserstein, psi, kl, jensenshannon, hellinger, tvd, linf, chisquare, centroid (vector columns)`);
}

function methodResolver(opt: DriftOptions['method'], columns: ReadonlySet<string>): (column: string) => ColumnMethod | 'auto' {
  if (opt === undefined) return () => 'auto';
  if (typeof opt === 'string') {
    const m = methodOption(opt, '');
    return () => m;
  }
  const map = new Map<string, ColumnMethod | 'auto'>();
  for (const [col, m] of Object.entries(opt)) {
    if (!columns.has(col)) throw new DriftInputError(`method given for column "${col}", which is in neither source`, col);
    map.set(col, methodOption(m, ` for column "${col}"`));
  }
  return (col) => map.get(col) ?? 'auto';
}

type Summary = NumericSummary | CategoricalSummary | EmbeddingSummary;

interface Planned {
  summary: NumericSummary | CategoricalSummary;
  method: Method;
}

export async function driftFromSources(client: ClickHouseClient, opts: DriftOptions): Promise<DriftReport> {
  return (await driftDetails(client, { ...opts, distributions: false })).report;
}

function resolveMinEffect(opt: DriftOptions['minEffectSize']): MinEffectSize | undefined {
  if (opt === undefined || opt === false) return undefined;
  const t = { ...DEFAULT_MIN_EFFECT_SIZE };
  if (opt === true) return t;
  for (const [k, v] of Object.entries(opt)) {
    if (k !== 'ks' && k !== 'chisquare') throw new DriftInputError(`minimum effect size given for "${k}": only ks and chisquare have one`);
    if (typeof v !== 'number' || !(v >= 0)) throw new DriftInputError(`minimum effect size for ${k} must be a number >= 0, got ${String(v)}`);
    t[k] = v;
  }
  return t;
}

/** driftFromSources, and optionally the binned distributions behind each column. */
export async function driftDetails(client: ClickHouseClient, opts: DriftOptions): Promise<DriftDetails> {
  if (!opts.numeric && !opts.categorical && !opts.embedding) throw new DriftInputError('no source: give a numeric, a categorical and/or an embedding SQL source');
  checkSource('numeric', opts.numeric);
  checkSource('categorical', opts.categorical);
  checkSource('embedding', opts.embedding);
  const thresholds = resolveThresholds(opts.thresholds);
  const qualityThresholds = resolveQualityThresholds(opts.quality);
  const correction = opts.pValueCorrection ?? 'none';
  if (correction !== 'none' && correction !== 'bh') throw new DriftInputError(`pValueCorrection must be 'none' or 'bh', got ${JSON.stringify(correction)}`);
  const driftShare = opts.driftShare ?? 0.5;
  if (!(driftShare >= 0 && driftShare <= 1)) throw new DriftInputError(`drift share must be within [0, 1], got ${String(opts.driftShare)}`);

  const minEffect = resolveMinEffect(opts.minEffectSize);
  const numericParts = opts.numeric === undefined ? [] : Array.isArray(opts.numeric) ? opts.numeric : [opts.numeric];
  // `auto` and the raw-value methods need D and W of (nearly) every numerical column: computed in the
  // summary's own scan. Other methods need no raw values, and per-column maps may mix: summary first.
  const speculate = opts.method === undefined || opts.method === 'auto' || opts.method === 'ks' || opts.method === 'wasserstein';
  const { summaries: numeric, raw: rawFromSummary } = !numericParts.length
    ? { summaries: [] as NumericSummary[], raw: undefined }
    : speculate && opts.numericScan
      ? fromScan(await opts.numericScan())
      : await numericSummaries(client, numericParts, speculate);
  const categorical = opts.categorical ? await categoricalSummaries(client, opts.categorical) : [];
  const embeddings = opts.embedding ? (await vectorSummaries(client, opts.embedding)).map(embeddingSummary) : [];
  const summaries: Summary[] = [...numeric, ...categorical, ...embeddings].sort((a, b) => compareCodePoints(a.column, b.column));
  const referenceRows = Math.max(0, ...summaries.map((s) => s.refRows));
  const currentRows = Math.max(0, ...summaries.map((s) => s.curRows));
  const finish = (columns: ColumnDrift[], distributions: ColumnDistribution[] = []): DriftDetails => ({
    report: {
      reference_rows: referenceRows,
      current_rows: currentRows,
      drift_share: driftShare,
      drifted_columns: columns.filter((c) => c.drift).length,
      dataset_drift: columns.length > 0 && columns.filter((c) => c.drift).length / columns.length >= driftShare,
      columns,
    },
    distributions,
  });
  if (referenceRows === 0 || currentRows === 0) return finish([]);
  for (let i = 1; i < summaries.length; i++) {
    if (summaries[i].column === summaries[i - 1].column) {
      const source = (t: Summary['type']) => (t === 'numerical' ? 'numeric' : t);
      throw new DriftInputError(`column "${summaries[i].column}" is in both the ${source(summaries[i - 1].type)} and the ${source(summaries[i].type)} source`, summaries[i].column);
    }
  }
  const methodOf = methodResolver(opts.method, new Set(summaries.map((s) => s.column)));

  const emptyColumns = opts.emptyColumns ?? 'error';
  if (emptyColumns !== 'error' && emptyColumns !== 'skip') throw new DriftInputError(`emptyColumns must be 'error' or 'skip', got ${JSON.stringify(emptyColumns)}`);
  const plan: Planned[] = [];
  const vectorPlan: EmbeddingSummary[] = [];
  for (const s of summaries) {
    const requested = methodOf(s.column);
    if (s.type === 'embedding') {
      if (requested !== 'auto' && requested !== EMBEDDING_METHOD) {
        throw new DriftInputError(`column "${s.column}" holds vectors (an embedding): ${requested} does not apply; its method is centroid`, s.column);
      }
      // The centroid's variances and p-value need two vectors per side.
      if (s.n < 2 || s.m < 2) {
        if (emptyColumns === 'skip') continue;
        const [side, k] = s.n < 2 ? ['reference', s.n] : ['current', s.m];
        throw new DriftInputError(`column "${s.column}" has ${k === 0 ? 'no' : 'only 1'} usable ${side} vector${k === 0 ? 's' : ''} (non-empty, every component finite): centroid needs at least 2 per side`, s.column);
      }
      vectorPlan.push(s);
      continue;
    }
    if (requested === EMBEDDING_METHOD) {
      throw new DriftInputError(`column "${s.column}" is ${s.type}: centroid needs vectors (a column of numeric arrays)`, s.column);
    }
    if (requested !== 'auto' && s.type === 'categorical' && RAW_VALUE_METHODS.has(requested)) {
      throw new DriftInputError(`column "${s.column}" is categorical: ${requested} needs numerical values; use chisquare, jensenshannon, psi, kl, hellinger, tvd or linf`, s.column);
    }
    if (s.n === 0 || s.m === 0) {
      if (emptyColumns === 'skip') continue;
      throw new DriftInputError(`column "${s.column}" has no non-missing ${s.n === 0 ? 'reference' : 'current'} values`, s.column);
    }
    plan.push({ summary: s, method: requested === 'auto' ? autoMethod(s.type, s.n, s.distinct) : requested });
  }

  const rawCols = plan.filter((p) => p.summary.type === 'numerical' && RAW_VALUE_METHODS.has(p.method)).map((p) => p.summary as NumericSummary);
  const binCols = plan.filter((p) => p.summary.type === 'numerical' && (opts.distributions || isBinnedMethod(p.method))).map((p) => p.summary as NumericSummary);
  const raw = rawCols.length === 0 ? new Map<string, RawDistance>() : (rawFromSummary ?? (await rawDistances(client, numericParts, rawCols.map((c) => c.column))));
  if (binCols.length > 0) await referenceEdges(client, numericParts, binCols);
  const bins = binCols.length > 0 ? await numericBinCounts(client, numericParts, binCols) : new Map<string, BinCounts>();
  // tr(Sigma^2) of each vector column's reference, one Gram-matrix query each (as a live baseline does).
  const vectorColumns: ColumnDrift[] = [];
  for (const { column, n, vectors: v } of vectorPlan) {
    const w = await vectorTraceSq(client, opts.embedding!, column, v.dim, n);
    vectorColumns.push(embeddingColumn(column, { ...v.ref, ...(w ? { traceSq: w.traceSq } : {}) }, v.cur, thresholds[EMBEDDING_METHOD], qualityThresholds));
  }

  const scalarColumns: ColumnDrift[] = plan.map(({ summary: s, method }) => {
    let statistic: number;
    let pValue: number | null = null;
    let outside: number;
    if (s.type === 'categorical') {
      const r = binnedStatistic(method as BinnedMethod, s.refCounts, s.curCounts);
      statistic = r.statistic;
      pValue = r.p_value;
      outside = s.curCounts.reduce((sum, c, i) => (s.refCounts[i] === 0 ? sum + c : sum), 0);
    } else if (method === 'ks' || method === 'wasserstein') {
      const r = raw.get(s.column);
      if (!r) throw new Error(`internal: no raw-value distances for column "${s.column}"`);
      if (method === 'ks') {
        statistic = r.d;
        pValue = ksPValue(r.d, r.n, r.m);
      } else {
        statistic = r.w / Math.max(s.std, WASSERSTEIN_MIN_SCALE);
      }
      outside = r.outside;
    } else {
      const b = bins.get(s.column);
      if (!b) throw new Error(`internal: no bin counts for column "${s.column}"`);
      const r = binnedStatistic(method, b.ref, b.cur);
      statistic = r.statistic;
      pValue = r.p_value;
      outside = b.outside;
    }
    const threshold = thresholds[method];
    let effect: number | null = null;
    if (method === 'ks') effect = statistic;
    else if (method === 'chisquare') effect = Math.sqrt(statistic / (s.n + s.m));
    const quality = columnQuality(
      { type: s.type, refRows: s.refRows, curRows: s.curRows, refMissing: s.refRows - s.n, curMissing: s.curRows - s.m, refNonFinite: s.refNonFinite, curNonFinite: s.curNonFinite, curOutside: outside, m: s.m },
      qualityThresholds,
    );
    const min = minEffect && (method === 'ks' || method === 'chisquare') ? minEffect[method] : null;
    return {
      column: s.column,
      type: s.type,
      method,
      statistic,
      p_value: pValue,
      threshold,
      drift: P_VALUE_METHODS.has(method) ? (pValue as number) < threshold && (min === null || (effect as number) >= min) : statistic >= threshold,
      ...(minEffect ? { effect_size: effect, min_effect_size: min } : {}),
      reference_missing: s.refRows - s.n,
      current_missing: s.curRows - s.m,
      quality,
    };
  });
  // Both lists follow the sorted summaries: merged, the report's columns stay in name order.
  const columns = mergeByColumn(scalarColumns, vectorColumns);

  if (correction === 'bh') {
    const tested = columns.filter((c) => c.p_value !== null);
    const adjusted = benjaminiHochberg(tested.map((c) => c.p_value as number));
    for (const c of columns) c.p_value_adjusted = null;
    tested.forEach((c, i) => {
      c.p_value_adjusted = adjusted[i];
      c.drift = adjusted[i] < c.threshold && (c.min_effect_size == null || (c.effect_size as number) >= c.min_effect_size);
    });
    // Keep the key order of the report stable: p_value_adjusted right after p_value.
    for (const [i, c] of columns.entries()) {
      const { column, type, method, statistic, p_value, p_value_adjusted, ...rest } = c;
      columns[i] = { column, type, method, statistic, p_value, p_value_adjusted, ...rest };
    }
  }

  if (!opts.distributions) return finish(columns);
  const vectorDistributions = vectorPlan.map(({ column, vectors: v }): ColumnDistribution => ({
    column,
    type: 'embedding',
    referenceMean: Array.from(v.ref.mean),
    currentMean: Array.from(v.cur.mean),
    referenceVar: Array.from(v.ref.var),
  }));
  const scalarDistributions = plan.map(({ summary: s }): ColumnDistribution => {
    if (s.type === 'categorical') return { column: s.column, type: 'categorical', categories: s.categories, reference: s.refCounts, current: s.curCounts };
    const b = bins.get(s.column);
    if (!b) throw new Error(`internal: no bin counts for column "${s.column}"`);
    return { column: s.column, type: 'numerical', edges: s.edges, referenceMin: s.refMin, referenceMax: s.refMax, reference: b.ref, current: b.cur };
  });
  return finish(columns, mergeByColumn(scalarDistributions, vectorDistributions));
}

/** Two lists each sorted by column name, merged. */
function mergeByColumn<T extends { column: string }>(a: T[], b: T[]): T[] {
  if (b.length === 0) return a;
  const out: T[] = [];
  let j = 0;
  for (const x of a) {
    while (j < b.length && compareCodePoints(b[j].column, x.column) < 0) out.push(b[j++]);
    out.push(x);
  }
  return out.concat(b.slice(j));
}

export interface RawDistance {
  n: number;
  m: number;
  d: number;
  w: number;
  /** Current values outside the reference's [min, max]. */
  outside: number;
}

interface BinCounts {
  ref: number[];
  cur: number[];
  outside: number;
}

async function rawDistances(client: ClickHouseClient, parts: readonly SqlSource[], cols: string[]): Promise<Map<string, RawDistance>> {
  type Row = { col: string; n: string; m: string; d: number; w: number; oor: string };
  const src = combined(parts, rawDistanceSql, new Set(cols))!;
  const rows = await queryRows<Row>(client, src.sql, { ...src.params, dw_engine_raw_cols: cols });
  return new Map(rows.map((r) => [r.col, { n: num(r.n), m: num(r.m), d: num(r.d), w: num(r.w), outside: num(r.oor) }]));
}

/** Sets the quantile edges of the given columns (computed only for the columns that are binned). */
async function referenceEdges(client: ClickHouseClient, parts: readonly SqlSource[], cols: NumericSummary[]): Promise<void> {
  const src = combined(parts, numericQuantilesSql, new Set(cols.map((c) => c.column)))!;
  const rows = await queryRows<{ col: string; q: string[] }>(client, src.sql, { ...src.params, dw_engine_q_cols: cols.map((c) => c.column) });
  const byCol = new Map(rows.map((r) => [r.col, r.q]));
  for (const c of cols) {
    const q = byCol.get(c.column);
    if (!q) throw new Error(`internal: no quantiles for column "${c.column}"`);
    c.edges = uniqueEdges(q.map(bitsToFloat64));
  }
}

async function numericBinCounts(client: ClickHouseClient, parts: readonly SqlSource[], cols: NumericSummary[]): Promise<Map<string, BinCounts>> {
  type Row = { col: string; side: number; bin: number; oor: number; c: string };
  const inf = float64ToBits(Infinity);
  const bounds = cols.map((c) => [
    float64ToBits(c.refMin),
    float64ToBits(c.refMax),
    ...c.edges.map(float64ToBits),
    ...Array<string>(QUANTILE_BINS - 1 - c.edges.length).fill(inf),
  ]);
  // A source of one known column gets its edges as constants (no join of every row with the edges).
  const boundsOf = new Map(cols.map((c, i) => [c.column, bounds[i]]));
  const single = (p: SqlSource) => p.columns?.length === 1 && boundsOf.has(p.columns[0]);
  const joined = combined(parts.filter((p) => !single(p)), numericBinCountsSql, new Set(cols.map((c) => c.column)));
  const queries = [
    ...parts.filter(single).map((p) => ({ sql: numericColumnBinCountsSql(p.sql, p.columns![0], boundsOf.get(p.columns![0])!), params: p.params ?? {} })),
    ...(joined ? [{ sql: joined.sql, params: { ...joined.params, dw_engine_bin_cols: cols.map((c) => c.column), dw_engine_bin_edges: bounds } }] : []),
  ];
  const rows = await queryRows<Row>(client, queries.map((q) => q.sql).join('\nUNION ALL\n'), Object.assign({}, ...queries.map((q) => q.params)));
  const out = new Map<string, BinCounts>(cols.map((c) => [c.column, { ref: new Array<number>(c.edges.length + 1).fill(0), cur: new Array<number>(c.edges.length + 1).fill(0), outside: 0 }]));
  for (const r of rows) {
    const b = out.get(r.col);
    if (!b) continue;
    const count = num(r.c);
    if (Number(r.side) === 0) b.ref[Number(r.bin)] += count;
    else {
      b.cur[Number(r.bin)] += count;
      if (Number(r.oor)) b.outside += count;
    }
  }
  return out;
}
