// Signal values for alert rules, read from the collector's computations. One sample per alert
// identity. The signals computed here are exactly LIVE_SIGNALS (rules/engine/schema.ts); rule files
// using any other signal are rejected at load time.
//
//   feature_drift        one per (model, version, feature): the drift statistic of the method
//   dataset_drift_share  one per (model, version): drifted features / features (0..1)
//   prediction_drift     one per (model, version, output): the statistic of @prediction / @score
//   data_quality         one per (model, version, feature): the current window's share of missing
//                        values, of values outside the reference range (numerical features) or of
//                        categories unseen in the reference (categorical features)
//   metric               one per (model, version): the realized metric over the window (from labels)
//   metric_drop          one per (model, version): its drop from the baseline window (positive =
//                        worse), relative (default) or absolute
//   estimated_metric     one per (model, version): the CBPE estimate (binary classifiers with scores)
//   latency_percentile   one per (model, version): that percentile of ml.prediction.latency_ms (ms)
//   volume               one per (model, version): predictions in the window (0 for a version seen
//                        within `lookback` but silent in the window)
//   no_data              one per model: 1 when a model seen within `lookback` sent nothing in the
//                        window, else 0
import type { ClickHouseClient } from '@clickhouse/client';
import { modelMatches, type Rule } from '../rules/engine/load.js';
import type { Sample, SignalSource } from '../rules/engine/evaluator.js';
import type { LiveDrift, LiveDriftResult } from './drift/live.js';
import type { PerformanceEngine } from './performance/engine.js';
import { performanceSignals } from './performance/signal.js';
import { queryRows } from './store/client.js';
import { tsText } from './store/writer.js';

export { modelMatches };

/** The model outputs are pseudo-columns of the drift report; everything else is a feature. */
const isOutput = (column: string) => column.startsWith('@');

/** Samples of the drift signals from one drift report. */
export function driftSamples(rule: Rule, r: Pick<LiveDriftResult, 'model' | 'version' | 'report'>): Sample[] {
  const base = { model: r.model, version: r.version };
  // An embedding's statistic (a centroid distance) is not the rule's method's: only `auto` rules see it.
  const features = r.report.columns.filter((c) => !isOutput(c.column) && (!rule.features || rule.features.includes(c.column)) && (c.type !== 'embedding' || rule.method === 'auto'));
  switch (rule.signal) {
    case 'feature_drift':
      return features.map((c) => ({ labels: { ...base, feature: c.column, method: c.method }, value: c.statistic }));
    case 'dataset_drift_share':
      if (features.length === 0) return [];
      return [{ labels: { ...base, method: rule.method }, value: features.filter((c) => c.drift).length / features.length }];
    case 'prediction_drift': {
      const outputs = (rule.outputs ?? ['prediction', 'score']).map((o) => `@${o}`);
      return r.report.columns
        .filter((c) => outputs.includes(c.column))
        .map((c) => ({ labels: { ...base, output: c.column.slice(1), method: c.method }, value: c.statistic }));
    }
    case 'data_quality': {
      const out: Sample[] = [];
      for (const c of features) {
        const q = c.quality;
        const v = rule.check === 'missing_share' ? q?.current_missing_share : rule.check === 'out_of_range_share' ? q?.out_of_range_share : q?.unseen_share;
        // A check that does not apply to the column's type (null) yields no sample.
        if (v !== null && v !== undefined) out.push({ labels: { ...base, feature: c.column, check: rule.check! }, value: v });
      }
      return out;
    }
    default:
      return [];
  }
}

interface VolumeRow { model: string; version: string; n: string }

/** Prediction counts per model version in (now - window, now], for versions seen within lookback. */
async function volumes(client: ClickHouseClient, rule: Rule, now: number): Promise<VolumeRow[]> {
  const rows = await queryRows<VolumeRow>(
    client,
    `SELECT model, version, countIf(ts > {from:DateTime64(3)}) AS n
     FROM predictions
     WHERE ts > {since:DateTime64(3)} AND ts <= {now:DateTime64(3)}
     GROUP BY model, version`,
    { from: tsText(now - rule.windowMs), since: tsText(now - Math.max(rule.lookbackMs, rule.windowMs)), now: tsText(now) },
  );
  return rows.filter((r) => modelMatches(rule.models, r.model));
}

/** metric, metric_drop, estimated_metric from the performance engine; null values yield no sample. */
async function performanceSamples(engine: PerformanceEngine, rule: Rule, now: number): Promise<Sample[]> {
  const kind = rule.signal === 'estimated_metric' ? 'estimated' : 'realized';
  const values = await performanceSignals(engine, { models: (m) => modelMatches(rule.models, m), windowMs: rule.windowMs, metric: rule.metric!, kind, now });
  const out: Sample[] = [];
  for (const v of values) {
    const value = rule.signal === 'metric_drop' ? (rule.drop === 'absolute' ? v.drop : v.relative_drop) : v.value;
    if (value !== null && Number.isFinite(value)) out.push({ labels: { model: v.model, version: v.version, metric: v.metric }, value });
  }
  return out;
}

async function latencyPercentiles(client: ClickHouseClient, rule: Rule, now: number): Promise<Sample[]> {
  const rows = await queryRows<{ model: string; version: string; v: number }>(
    client,
    `SELECT model, version, quantileExact({q:Float64})(latency_ms) AS v
     FROM predictions
     WHERE ts > {from:DateTime64(3)} AND ts <= {now:DateTime64(3)} AND isFinite(latency_ms)
     GROUP BY model, version`,
    { q: rule.percentile! / 100, from: tsText(now - rule.windowMs), now: tsText(now) },
  );
  return rows
    .filter((r) => modelMatches(rule.models, r.model))
    .map((r) => ({ labels: { model: r.model, version: r.version, percentile: String(rule.percentile) }, value: Number(r.v) }));
}

export function createSignalSource(drift: LiveDrift, client?: ClickHouseClient, performance?: PerformanceEngine): SignalSource {
  return {
    async query(rule: Rule, now: number): Promise<Sample[]> {
      switch (rule.signal) {
        case 'feature_drift':
        case 'dataset_drift_share':
        case 'prediction_drift':
        case 'data_quality': {
          await drift.ensureBaselines();
          const out: Sample[] = [];
          for (const b of drift.versions()) {
            if (!modelMatches(rule.models, b.model)) continue;
            const r = await drift.compute(b.model, b.version, rule.windowMs, rule.method, now);
            if (r) out.push(...driftSamples(rule, r));
          }
          return out;
        }
        case 'metric':
        case 'metric_drop':
        case 'estimated_metric':
          if (!performance) throw new Error(`${rule.signal} needs the performance engine`);
          return performanceSamples(performance, rule, now);
        case 'latency_percentile':
          if (!client) throw new Error('latency_percentile needs the store');
          return latencyPercentiles(client, rule, now);
        case 'volume': {
          if (!client) throw new Error('volume needs the store');
          return (await volumes(client, rule, now)).map((r) => ({ labels: { model: r.model, version: r.version }, value: Number(r.n) }));
        }
        case 'no_data': {
          if (!client) throw new Error('no_data needs the store');
          const perModel = new Map<string, number>();
          for (const r of await volumes(client, rule, now)) perModel.set(r.model, (perModel.get(r.model) ?? 0) + Number(r.n));
          return [...perModel].map(([model, n]) => ({ labels: { model }, value: n === 0 ? 1 : 0 }));
        }
        default:
          // The loader rejects rules on signals not computed here; reaching this is a bug.
          throw new Error(`signal ${rule.signal} is not available yet`);
      }
    },
  };
}
