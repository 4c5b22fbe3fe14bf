// Performance values for alert rules (signals metric, metric_drop, estimated_metric): one value per
// model version, read from the engine (which caches a live computation for a few seconds, so many
// rules share one).
import type { PerformanceEngine, RealizedMetric, EstimatedMetric, VersionPerformance } from './engine.js';

export interface PerformanceSignalQuery {
  model: string;
  version: string;
  windowMs: number;
  /** accuracy, precision, recall, f1, roc_auc, log_loss, brier, mae, rmse, mape, r2, or a multiclass
   *  name such as f1_weighted. For a multiclass model, precision/recall/f1 mean the macro averages. */
  metric: string;
  /** realized (from labels, default) or estimated (CBPE: binary classifiers with scores). */
  kind?: 'realized' | 'estimated';
  now?: number;
}

export interface PerformanceSignalValue {
  model: string;
  version: string;
  /** The metric name as reported (e.g. f1_macro for f1 on a multiclass model). */
  metric: string;
  kind: 'realized' | 'estimated';
  value: number | null;
  /** The baseline window's realized value (for an estimate: the reference's). */
  baseline: number | null;
  /** Degradation from the baseline, positive = worse (baseline - value, or value - baseline for errors). */
  drop: number | null;
  relative_drop: number | null;
  /** Labelled predictions / predictions in the window. */
  coverage: number;
  labelled: number;
  predictions: number;
  /** The CBPE band (estimates only). */
  lower: number | null;
  upper: number | null;
}

function pick<T extends { metric: string }>(list: T[], metric: string, task: VersionPerformance['task']): T | undefined {
  return list.find((m) => m.metric === metric) ?? (task === 'multiclass' ? list.find((m) => m.metric === `${metric}_macro`) : undefined);
}

/**
 * The value of one metric of one model version over the window ending now, with its drop from the
 * baseline. undefined when the window has no predictions, or the metric does not apply (a
 * regression metric on a classifier, an estimate for a model without scores or labelled reference).
 * `value` is null when the metric is undefined on the data (e.g. nothing labelled yet).
 */
export async function performanceSignal(engine: PerformanceEngine, q: PerformanceSignalQuery): Promise<PerformanceSignalValue | undefined> {
  const kind = q.kind ?? 'realized';
  const r = await engine.computeVersion({ model: q.model, version: q.version, windowMs: q.windowMs, now: q.now });
  const s = r?.segments[0];
  if (!r || !s) return undefined;
  const m: RealizedMetric | EstimatedMetric | undefined = kind === 'realized' ? pick(s.metrics, q.metric, r.task) : pick(s.estimated ?? [], q.metric, r.task);
  if (!m) return undefined;
  return {
    model: q.model,
    version: q.version,
    metric: m.metric,
    kind,
    value: m.value,
    baseline: m.baseline,
    drop: m.drop,
    relative_drop: m.relative_drop,
    coverage: s.coverage,
    labelled: s.labelled,
    predictions: s.predictions,
    lower: kind === 'estimated' ? (m as EstimatedMetric).lower : null,
    upper: kind === 'estimated' ? (m as EstimatedMetric).upper : null,
  };
}

/** performanceSignal for every version of every model accepted by `models`. */
export async function performanceSignals(
  engine: PerformanceEngine,
  q: Omit<PerformanceSignalQuery, 'model' | 'version'> & { models: (model: string) => boolean },
): Promise<PerformanceSignalValue[]> {
  const out: PerformanceSignalValue[] = [];
  for (const v of await engine.versions()) {
    if (!q.models(v.model)) continue;
    const s = await performanceSignal(engine, { ...q, model: v.model, version: v.version });
    if (s) out.push(s);
  }
  return out;
}

/** The parts of an alert rule the performance signals read (rules/engine/load.ts `Rule` fits). */
export interface PerformanceRule {
  signal: string;
  /** Model names or globs, matched by `matches`. */
  models: string[];
  windowMs: number;
  metric?: string;
  drop?: 'absolute' | 'relative';
}

/**
 * Alert samples for the signals metric (the realized value), metric_drop (its drop from the
 * baseline: relative by default, or absolute; positive = worse) and estimated_metric (the CBPE
 * estimate), one per model version, labelled {model, version, metric}. Versions where the value is
 * undefined (nothing labelled yet, no reference for CBPE, a metric of another task) yield no sample.
 * Returns undefined for any other signal.
 */
export async function performanceRuleSamples(
  engine: PerformanceEngine,
  rule: PerformanceRule,
  now: number,
  matches: (patterns: string[], model: string) => boolean,
): Promise<{ labels: Record<string, string>; value: number }[] | undefined> {
  if (rule.signal !== 'metric' && rule.signal !== 'metric_drop' && rule.signal !== 'estimated_metric') return undefined;
  if (!rule.metric) throw new Error(`signal ${rule.signal} needs a metric`);
  const values = await performanceSignals(engine, {
    models: (m) => matches(rule.models, m),
    windowMs: rule.windowMs,
    metric: rule.metric,
    kind: rule.signal === 'estimated_metric' ? 'estimated' : 'realized',
    now,
  });
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const v of values) {
    const value = rule.signal === 'metric_drop' ? (rule.drop === 'absolute' ? v.drop : v.relative_drop) : v.value;
    if (value === null || !Number.isFinite(value)) continue;
    out.push({ labels: { model: v.model, version: v.version, metric: rule.metric }, value });
  }
  return out;
}
