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
