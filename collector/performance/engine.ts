// Performance of a model version over a window: realized metrics from joined labels (with label
// coverage beside each), their decay from the baseline window, and CBPE estimates for binary
// classifiers with scores. Each computation is written to `performance_results` and handed to
// `onResult` (the Prometheus gauges).
//
// Windows are half-open on the prediction's timestamp. The current window of a live query is
// [now - window, now]. The baseline is the version's first labelled window: [t0, t0 + window) where
// t0 is the timestamp of its first prediction that has a label, unless an explicit range is given.
// The baseline is also CBPE's labelled reference.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import { tsText } from '../store/writer.js';
import { estimateWithBand, fitCbpe, BAND_SIGMAS, type Band, type CbpeModel, type Estimate } from './cbpe.js';
import { coverage, firstLabelledTs, inputFingerprint, joinedSource, modelVersions, unmatchedLabels, type Range, type SqlSource } from './join.js';
import { decay } from './decay.js';
import { chooseTask, METRICS, realizedMetrics, type ClassMetric, type MetricValue, type Task, type TaskChoice } from './metrics.js';

export interface PerformanceQuery {
  model: string;
  /** One version; all versions of the model when absent. */
  version?: string;
  windowMs: number;
  /** End of the live window (default Date.now()). */
  now?: number;
  /** An explicit current window instead of [now - windowMs, now]. */
  range?: Range;
  /** An explicit baseline (and CBPE reference) instead of the version's first labelled window. */
  baseline?: Range;
  /** Slice by this segment key. */
  segmentKey?: string;
  task?: Task;
  positive?: string;
  /** CBPE's decision threshold (default 0.5). */
  threshold?: number;
}

export interface RealizedMetric extends MetricValue {
  baseline: number | null;
  drop: number | null;
  relative_drop: number | null;
  predictions: number;
  labelled: number;
  coverage: number;
}

export interface EstimatedMetric extends Estimate {
  /** The realized value on the labelled part of the window (null while nothing is labelled). */
  realized: number | null;
  /** The reference's realized value, and the estimate's drop from it. */
  baseline: number | null;
  drop: number | null;
  relative_drop: number | null;
  predictions: number;
  labelled: number;
  coverage: number;
}

export interface SegmentPerformance {
  /** The segment value ('' = predictions without the key); null when not segmenting. */
  segment: string | null;
  predictions: number;
  labelled: number;
  coverage: number;
  metrics: RealizedMetric[];
  /** Multiclass: precision, recall, F1, support (labels) and predicted count per class. */
  classes?: ClassMetric[];
  estimated: EstimatedMetric[] | null;
  cbpe_band: { chunk_size: number; chunks: number; scaled: boolean } | null;
}

export interface VersionPerformance {
  model: string;
  version: string;
  window_ms: number;
  from: string;
  to: string;
  computed_at: string;
  task: Task;
  positive_class: string | null;
  task_source: 'configured' | 'detected';
  task_rule: string;
  segment_key: string | null;
  baseline: { from: string; to: string; source: string; predictions: number; labelled: number; coverage: number } | null;
  cbpe: { reference_rows: number; threshold: number; band: string } | null;
  segments: SegmentPerformance[];
}

export interface PerformanceResult {
  model: string;
  unmatched_labels: number;
  versions: VersionPerformance[];
}

export interface PerformanceOptions {
  /** Per-model settings (task, positive class), overridden by the query. */
  models?: Record<string, { task?: Task; positive?: string; threshold?: number }>;
  /** Live results younger than this are served from memory (several rules share one computation). */
  cacheMs?: number;
  onResult?: (r: VersionPerformance) => void;
  /** Called when a scheduled computation fails (the schedule carries on). */
  onError?: (e: Error, version: { model: string; version: string }) => void;
}

const iso = (ms: number) => new Date(ms).toISOString();
const TASK_CACHE_MS = 10 * 60_000;
const EPOCH = '1970-01-01 00:00:00.000';
/** Baseline sides unused this long are forgotten. */
const BASELINE_CACHE_MS = 10 * 60_000;

interface BaselineSide {
  coverage: Map<string, { predictions: number; labelled: number }>;
  metrics: Map<string, MetricValue[]>;
  cbpe: CbpeModel | undefined;
}
/** CBPE calibrates on at most this many labelled reference rows (the first ones of the baseline window). */
export const REFERENCE_MAX_ROWS = 50_000;
const cov = (labelled: number, predictions: number) => (predictions === 0 ? 0 : labelled / predictions);

export class PerformanceEngine {
  private cache = new Map<string, { at: number; result: Promise<VersionPerformance | undefined> }>();
  private tasks = new Map<string, { at: number; task: TaskChoice }>();
  private baselines = new Map<string, { at: number; fingerprint: string; side: Promise<BaselineSide> }>();

  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly client: ClickHouseClient, private readonly o: PerformanceOptions = {}) {}

  /**
   * Computes every model version's performance over `windowMs` every `intervalMs` (first run after
   * one interval), so the gauges stay current without API calls or rules. One run at a time.
   */
  start(windowMs = 3_600_000, intervalMs = 60_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = (async () => {
        for (const v of await this.versions().catch(() => [])) {
          if (!this.timer) return;
          try {
            await this.computeVersion({ ...v, windowMs });
          } catch (e) {
            this.o.onError?.(e as Error, v);
          }
        }
      })().finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  versions(model?: string): Promise<{ model: string; version: string }[]> {
    return modelVersions(this.client, model);
  }

  /** Labels of the model whose prediction id is not stored (yet). */
  unmatchedLabels(model: string): Promise<number> {
    return unmatchedLabels(this.client, model);
  }

  /** Performance of every version of a model (or the one asked for). */
  async compute(q: PerformanceQuery): Promise<PerformanceResult> {
    const versions = q.version === undefined ? (await this.versions(q.model)).map((v) => v.version) : [q.version];
    const out: VersionPerformance[] = [];
    for (const version of versions) {
      const r = await this.computeVersion({ ...q, version });
      if (r) out.push(r);
    }
    return { model: q.model, unmatched_labels: await unmatchedLabels(this.client, q.model), versions: out };
  }

  /** One version; cached for `cacheMs` when the window is live (no explicit range). */
  computeVersion(q: PerformanceQuery & { version: string }): Promise<VersionPerformance | undefined> {
    const now = q.now ?? Date.now();
    if (q.range) return this.run(q, now);
    const key = JSON.stringify({ ...q, now: undefined });
    const hit = this.cache.get(key);
    if (hit && now - hit.at < (this.o.cacheMs ?? 5000) && now >= hit.at) return hit.result;
    const result = this.run(q, now);
    for (const [k, v] of this.cache) if (now - v.at >= (this.o.cacheMs ?? 5000)) this.cache.delete(k);
    this.cache.set(key, { at: now, result });
    result.catch(() => this.cache.delete(key));
    return result;
  }

  private async run(q: PerformanceQuery & { version: string }, now: number): Promise<VersionPerformance | undefined> {
    const settings = this.o.models?.[q.model] ?? {};
    const threshold = q.threshold ?? settings.threshold ?? 0.5;
    const range: Range = q.range ?? { fromMs: now - q.windowMs, toMs: now + 1 };
    const scope = { model: q.model, version: q.version, segmentKey: q.segmentKey };
    const cur = joinedSource({ ...scope, range }, 'pc');

    let baselineRange = q.baseline;
    let baselineSource = 'explicit';
    if (!baselineRange) {
      const t0 = await firstLabelledTs(this.client, q.model, q.version);
      if (t0 !== undefined) baselineRange = { fromMs: t0, toMs: t0 + q.windowMs };
      baselineSource = `first labelled window of the version (${Math.round(q.windowMs / 1000)}s from its first labelled prediction)`;
    }
    const base = baselineRange ? joinedSource({ ...scope, range: baselineRange }, 'pb') : undefined;

    const both: SqlSource = base
      ? { sql: `SELECT * FROM (${cur.sql}) UNION ALL SELECT * FROM (${base.sql})`, params: { ...cur.params, ...base.params } }
      : cur;
    const configured = { task: q.task ?? settings.task, positive: q.positive ?? settings.positive };
    // The task is decided once per version and configuration (for TASK_CACHE_MS), so a live window
    // does not flip between binary and multiclass as classes come and go.
    const taskKey = JSON.stringify([q.model, q.version, configured]);
    let cachedTask = this.tasks.get(taskKey);
    if (!cachedTask || now - cachedTask.at > TASK_CACHE_MS || now < cachedTask.at || q.range) {
      cachedTask = { at: now, task: await chooseTask(this.client, both, configured) };
      // Only a decision made on labelled data is kept.
      if (!q.range && cachedTask.task.labelled > 0) this.tasks.set(taskKey, cachedTask);
    }
    const task = cachedTask.task;

    // The queries are independent: ClickHouse runs them side by side. The baseline side (its metrics
    // and the CBPE reference, with its fold calibrators) is reused while its inputs are unchanged.
    const classes = new Map<string, ClassMetric[]>();
    const [curCov, curMetrics, hist, baseSide] = await Promise.all([
      coverage(this.client, cur),
      realizedMetrics(this.client, cur, task, classes),
      task.task === 'binary' && base
        ? queryRows<{ seg: string; score: number; n: string }>(
            this.client,
            `SELECT seg, score, count() AS n FROM (${cur.sql}) WHERE isFinite(score) GROUP BY seg, score ORDER BY seg, score`,
            cur.params,
          )
        : [],
      base ? this.baselineSide(base, task, threshold, JSON.stringify([q.model, q.version, baselineRange, q.segmentKey, task, threshold]), now) : undefined,
    ]);
    if (curCov.size === 0 && !q.range) return undefined;
    const baseCov = baseSide?.coverage ?? new Map<string, { predictions: number; labelled: number }>();
    const baseMetrics = baseSide?.metrics ?? new Map<string, MetricValue[]>();
    const cbpe = baseSide?.cbpe;
    const curScores = new Map<string, { score: number; n: number }[]>();
    if (cbpe) {
      for (const h of hist) {
        const list = curScores.get(h.seg) ?? [];
        list.push({ score: Number(h.score), n: Number(h.n) });
        curScores.set(h.seg, list);
      }
    }

    const segments: SegmentPerformance[] = [];
    for (const [seg, c] of [...curCov].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const coverage = cov(c.labelled, c.predictions);
      const baseValues = new Map((baseMetrics.get(seg) ?? []).map((m) => [m.metric, m.value]));
      // A segment with nothing labelled yet still lists every metric of the task, as null.
      const computed = curMetrics.get(seg) ?? METRICS[task.task].map((metric): MetricValue => ({ metric, value: null, rows: 0 }));
      const metrics: RealizedMetric[] = computed.map((m) => ({
        ...m,
        ...decay(m.metric, baseValues.get(m.metric) ?? null, m.value),
        predictions: c.predictions,
        labelled: c.labelled,
        coverage,
      }));
      let estimated: EstimatedMetric[] | null = null;
      let band: Band | undefined;
      const scores = curScores.get(seg);
      if (cbpe && scores && scores.length > 0) {
        const e = estimateWithBand(cbpe, scores);
        band = e.band;
        const realizedByName = new Map(metrics.map((m) => [m.metric, m]));
        estimated = e.estimates.map((est) => {
          const labelledNow = realizedByName.get(est.metric);
          return {
            ...est,
            realized: c.labelled > 0 ? (labelledNow?.value ?? null) : null,
            ...decay(est.metric, baseValues.get(est.metric) ?? null, est.value),
            predictions: c.predictions,
            labelled: c.labelled,
            coverage,
          };
        });
      }
      segments.push({
        segment: q.segmentKey === undefined ? null : seg,
        predictions: c.predictions,
        labelled: c.labelled,
        coverage,
        metrics,
        ...(task.task === 'multiclass' ? { classes: classes.get(seg) ?? [] } : {}),
        estimated,
        cbpe_band: band ? { chunk_size: band.chunkSize, chunks: band.chunks, scaled: band.scaled } : null,
      });
    }

    let baselineSummary: VersionPerformance['baseline'] = null;
    if (baselineRange) {
      let predictions = 0;
      let labelled = 0;
      for (const v of baseCov.values()) {
        predictions += v.predictions;
        labelled += v.labelled;
      }
      baselineSummary = { from: iso(baselineRange.fromMs), to: iso(baselineRange.toMs), source: baselineSource, predictions, labelled, coverage: cov(labelled, predictions) };
    }

    const result: VersionPerformance = {
      model: q.model,
      version: q.version,
      window_ms: range.toMs - range.fromMs,
      from: iso(range.fromMs),
      to: iso(range.toMs),
      computed_at: iso(now),
      task: task.task,
      positive_class: task.task === 'binary' ? task.positive : null,
      task_source: task.source,
      task_rule: task.rule,
      segment_key: q.segmentKey ?? null,
      baseline: baselineSummary,
      cbpe: cbpe
        ? {
            reference_rows: cbpe.referenceRows,
            threshold,
            band: `estimate +- ${BAND_SIGMAS} x the standard deviation of (estimate - realized) over consecutive reference chunks of the window's size, each estimated by a calibrator fitted without its tenth of the reference (cross-fitted)`,
          }
        : null,
      segments,
    };
    await this.save(result, q.windowMs, range, baselineRange);
    this.o.onResult?.(result);
    return result;
  }

  /** Coverage and metrics of the baseline, and the CBPE model calibrated on it (binary). */
  private async baselineSide(base: SqlSource, task: TaskChoice, threshold: number, cacheKey: string, now: number): Promise<BaselineSide> {
    const fingerprint = await inputFingerprint(this.client, base, 'pb');
    const hit = this.baselines.get(cacheKey);
    if (hit && hit.fingerprint === fingerprint) {
      hit.at = now;
      return hit.side;
    }
    const side = (async (): Promise<BaselineSide> => {
      const [cov, metrics, ref] = await Promise.all([
        coverage(this.client, base),
        realizedMetrics(this.client, base, task),
        task.task === 'binary'
          ? queryRows<{ score: number; y: number }>(
              this.client,
              `SELECT score, toUInt8(lbl = {pm_pos:String}) AS y FROM (${base.sql})
               WHERE labelled = 1 AND isFinite(score) ORDER BY ts, id LIMIT ${REFERENCE_MAX_ROWS}`,
              { ...base.params, pm_pos: task.positive },
            )
          : [],
      ]);
      const cbpe = ref.length > 0 ? fitCbpe(ref.map((r) => ({ score: Number(r.score), y: Number(r.y) })), threshold) : undefined;
      return { coverage: cov, metrics, cbpe };
    })();
    for (const [k, v] of this.baselines) if (now - v.at >= BASELINE_CACHE_MS) this.baselines.delete(k);
    this.baselines.set(cacheKey, { at: now, fingerprint, side });
    side.catch(() => this.baselines.delete(cacheKey));
    return side;
  }

  private async save(r: VersionPerformance, windowMs: number, range: Range, baseline: Range | undefined): Promise<void> {
    const common = {
      ts: tsText(Date.parse(r.computed_at)),
      model: r.model,
      version: r.version,
      window_seconds: Math.round(windowMs / 1000),
      window_from: tsText(range.fromMs),
      window_to: tsText(range.toMs),
      segment_key: r.segment_key ?? '',
      task: r.task,
      // No baseline yet (nothing labelled): the epoch.
      baseline_from: baseline ? tsText(baseline.fromMs) : EPOCH,
      baseline_to: baseline ? tsText(baseline.toMs) : EPOCH,
    };
    const rows: Record<string, unknown>[] = [];
    for (const s of r.segments) {
      const seg = { segment_value: s.segment ?? '', predictions: s.predictions, labelled: s.labelled, coverage: s.coverage };
      for (const m of s.metrics) {
        rows.push({ ...common, ...seg, metric: m.metric, kind: 'realized', value: fin(m.value), lower: null, upper: null, baseline_value: fin(m.baseline), drop: fin(m.drop), relative_drop: fin(m.relative_drop) });
      }
      for (const m of s.estimated ?? []) {
        rows.push({ ...common, ...seg, metric: m.metric, kind: 'estimated', value: fin(m.value), lower: fin(m.lower), upper: fin(m.upper), baseline_value: fin(m.baseline), drop: fin(m.drop), relative_drop: fin(m.relative_drop) });
      }
    }
    if (rows.length > 0) await this.client.insert({ table: 'performance_results', format: 'JSONEachRow', values: rows });
  }
}

const fin = (v: number | null) => (v === null || !Number.isFinite(v) ? null : v);
