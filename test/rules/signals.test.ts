// The signals the collector computes for rules, on the embedded ClickHouse with real data: drift
// signals (feature, dataset share, prediction) from the live drift engine, and volume / no_data
// from counts of the predictions table.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalSource, driftSamples } from '../../collector/signals.js';
import { LiveDrift } from '../../collector/drift/live.js';
import { openStore, type Store } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { insertLabels, insertPredictions } from '../../collector/store/writer.js';
import { PerformanceEngine } from '../../collector/performance/engine.js';
import type { PredictionRow } from '../../collector/ingest/records.js';
import type { DriftReport } from '../../collector/drift/report.js';
import { parseRuleFile, type Rule } from '../../rules/engine/load.js';
import { LIVE_SIGNALS } from '../../rules/engine/schema.js';
import type { Sample } from '../../rules/engine/evaluator.js';

const NOW = Date.parse('2026-11-24T12:00:00Z');

function rule(body: string): Rule {
  return parseRuleFile('r.yaml', `groups:\n  - name: g\n    rules:\n      - alert: A\n        condition: "> 0"\n${body.split('\n').map((l) => `        ${l}`).join('\n')}\n`, {}).groups[0].rules[0];
}

// A deterministic generator (mulberry32) so the drift verdicts do not depend on luck.
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rows(model: string, version: string, n: number, fromMs: number, toMs: number, shift: boolean, seed: number): PredictionRow[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const score = shift ? 0.5 + 0.5 * r() : 0.6 * r();
    return {
      model, version, ts: fromMs + Math.floor(((toMs - fromMs) * i) / n), id: `${model}-${version}-${seed}-${i}`,
      prediction: score > 0.5 ? '1' : '0', predictionNum: score > 0.5 ? 1 : 0, score, latencyMs: 5,
      num: { income: 50_000 * (shift ? 1.8 : 1) * (0.5 + r()), age: 20 + 50 * r() },
      cat: {}, segment: {},
    };
  });
}

const byLabels = (s: Sample[]) => Object.fromEntries(s.map((x) => [Object.values(x.labels).join('/'), x.value]));

describe('signals on ClickHouse', () => {
  let store: Store;
  let drift: LiveDrift;
  let performance: PerformanceEngine;

  beforeAll(async () => {
    store = await openStore({ dataDir: join(mkdtempSync(join(tmpdir(), 'signals-')), 'data') });
    await migrate(store.client, { retentionDays: 30 });
    const h = 3_600_000;
    await insertPredictions(store, [
      ...rows('credit-risk', 'v1', 1000, NOW - 2 * h, NOW - h, false, 1), // baseline
      ...rows('credit-risk', 'v1', 600, NOW - 9 * 60_000, NOW - 1000, true, 2), // drifted current window
      ...rows('credit-risk', 'v2', 20, NOW - 5 * h, NOW - 4 * h, false, 3), // silent for 4h
      ...rows('fraud', 'v1', 50, NOW - 5 * 60_000, NOW - 1000, false, 4),
      ...rows('legacy', 'v0', 10, NOW - 72 * h, NOW - 71 * h, false, 5), // outside the 24h lookback
    ]);
    // A binary classifier with labels: 95% right in its first labelled window (the performance
    // baseline), 70% right in the last 10 minutes; latency 0..99 ms.
    const perf = (from: number, wrongEvery: (i: number) => boolean, tag: string): PredictionRow[] =>
      Array.from({ length: 1000 }, (_, i) => ({
        model: 'perf', version: 'v1', ts: from + i * 500, id: `${tag}${i}`, prediction: String(i % 2), predictionNum: i % 2,
        score: i % 2 ? 0.8 : 0.2, latencyMs: i % 100, num: { x: i % 7 }, cat: {}, segment: {},
      })).map((r, i) => Object.assign(r, { wrong: wrongEvery(i) }));
    const base = perf(NOW - 2 * h, (i) => i % 20 === 0, 'b');
    const cur = perf(NOW - 9 * 60_000, (i) => i % 10 < 3, 'c');
    await insertPredictions(store, [...base, ...cur]);
    await insertLabels(store, [...base, ...cur].map((r) => ({
      model: r.model, id: r.id, ts: r.ts + 1000, label: String((r as unknown as { wrong: boolean }).wrong ? 1 - r.predictionNum : r.predictionNum),
    })));
    drift = new LiveDrift(store.client, { baselineRows: 1000 });
    await drift.loadBaselines();
    performance = new PerformanceEngine(store.client);
  });
  afterAll(async () => {
    await store?.close();
  });

  it('computes every live signal', async () => {
    const src = createSignalSource(drift, store.client, performance);
    // (The performance signals are asked for the labelled model only: the performance engine cannot
    // yet store a result for a version without labels, see metric tests below.)
    const params: Record<string, string> = { data_quality: 'check: missing_share', metric: 'metric: accuracy\nmodels: [perf]', metric_drop: 'metric: accuracy\nmodels: [perf]', estimated_metric: 'metric: accuracy\nmodels: [perf]', latency_percentile: 'percentile: 99' };
    for (const signal of LIVE_SIGNALS) {
      const samples = await src.query(rule(`signal: ${signal}\nwindow: 10m${params[signal] ? `\n${params[signal]}` : ''}`), NOW);
      expect(samples.length, signal).toBeGreaterThan(0);
    }
  });

  it('metric, metric_drop and estimated_metric from the performance engine', async () => {
    const src = createSignalSource(drift, store.client, performance);
    // Only the labelled model: for versions without labels the performance engine currently fails
    // to store its result (baseline_from "0.000"), which fails the whole rule evaluation; a failed
    // evaluation leaves alerts as they are, like Prometheus.
    expect(await src.query(rule('signal: metric\nmetric: accuracy\nwindow: 10m\nmodels: [perf]'), NOW)).toEqual([{ labels: { model: 'perf', version: 'v1', metric: 'accuracy' }, value: 0.7 }]);
    const [rel] = await src.query(rule('signal: metric_drop\nmetric: accuracy\nwindow: 10m\nmodels: [perf]'), NOW);
    expect(rel.labels).toEqual({ model: 'perf', version: 'v1', metric: 'accuracy' });
    expect(rel.value).toBeCloseTo(0.25 / 0.95, 12);
    const [abs] = await src.query(rule('signal: metric_drop\nmetric: accuracy\ndrop: absolute\nwindow: 10m\nmodels: [perf]'), NOW);
    expect(abs.value).toBeCloseTo(0.25, 12);
    // CBPE calibrates on the baseline (95% right): the estimate cannot see this concept drift.
    const [est] = await src.query(rule('signal: estimated_metric\nmetric: accuracy\nwindow: 10m\nmodels: [perf]'), NOW);
    expect(est.labels).toEqual({ model: 'perf', version: 'v1', metric: 'accuracy' });
    expect(est.value).toBeCloseTo(0.95, 2);
  });

  it('latency_percentile: the percentile of latency_ms per model version in the window', async () => {
    const src = createSignalSource(drift, store.client, performance);
    const p = byLabels(await src.query(rule('signal: latency_percentile\npercentile: 99\nwindow: 10m'), NOW));
    expect(p).toEqual({ 'credit-risk/v1/99': 5, 'fraud/v1/99': 5, 'perf/v1/99': 99 });
    const p50 = byLabels(await src.query(rule('signal: latency_percentile\npercentile: 50\nwindow: 10m\nmodels: [perf]'), NOW));
    expect(p50).toEqual({ 'perf/v1/50': 50 });
  });

  it('volume: predictions per model version in the window, 0 for versions silent within lookback', async () => {
    const src = createSignalSource(drift, store.client);
    expect(byLabels(await src.query(rule('signal: volume\nwindow: 10m'), NOW))).toEqual({ 'credit-risk/v1': 600, 'credit-risk/v2': 0, 'fraud/v1': 50, 'perf/v1': 1000 });
    expect(byLabels(await src.query(rule('signal: volume\nwindow: 10m\nmodels: ["credit-*"]\nlookback: 1h'), NOW))).toEqual({ 'credit-risk/v1': 600 });
  });

  it('no_data: 1 for a model that sent nothing in the window, per model', async () => {
    const src = createSignalSource(drift, store.client);
    expect(byLabels(await src.query(rule('signal: no_data\nwindow: 10m'), NOW))).toEqual({ 'credit-risk': 0, fraud: 0, perf: 0 });
    expect(byLabels(await src.query(rule('signal: no_data\nwindow: 10m'), NOW + 30 * 60_000))).toEqual({ 'credit-risk': 1, fraud: 1, perf: 1 });
  });

  it('feature_drift, dataset_drift_share and prediction_drift from one drift report', async () => {
    const src = createSignalSource(drift, store.client);
    const features = byLabels(await src.query(rule('signal: feature_drift\nmethod: psi\nwindow: 10m'), NOW));
    expect(Object.keys(features).filter((k) => k.startsWith('credit-risk')).sort()).toEqual(['credit-risk/v1/age/psi', 'credit-risk/v1/income/psi']);
    expect(features['credit-risk/v1/income/psi']).toBeGreaterThan(0.5);
    expect(features['credit-risk/v1/age/psi']).toBeLessThan(0.1);
    const share = await src.query(rule('signal: dataset_drift_share\nmethod: psi\nwindow: 10m\nmodels: [credit-risk]'), NOW);
    expect(share).toEqual([{ labels: { model: 'credit-risk', version: 'v1', method: 'psi' }, value: 0.5 }]);
    expect((await src.query(rule('signal: dataset_drift_share\nmethod: psi\nwindow: 10m\nfeatures: [income]'), NOW))[0].value).toBe(1);
    const outputs = byLabels(await src.query(rule('signal: prediction_drift\nmethod: psi\nwindow: 10m\nmodels: [credit-risk]'), NOW));
    expect(Object.keys(outputs).sort()).toEqual(['credit-risk/v1/prediction/psi', 'credit-risk/v1/score/psi']);
    expect(outputs['credit-risk/v1/score/psi']).toBeGreaterThan(0.5);
    expect(Object.keys(byLabels(await src.query(rule('signal: prediction_drift\nmethod: psi\nwindow: 10m\noutputs: [score]\nmodels: [credit-risk]'), NOW)))).toEqual(['credit-risk/v1/score/psi']);
  });

  it('data_quality: shares of missing and out-of-range values in the current window', async () => {
    const src = createSignalSource(drift, store.client);
    const missing = byLabels(await src.query(rule('signal: data_quality\ncheck: missing_share\nwindow: 10m\nmodels: [credit-risk]'), NOW));
    expect(missing).toEqual({ 'credit-risk/v1/age/missing_share': 0, 'credit-risk/v1/income/missing_share': 0 });
    const outside = byLabels(await src.query(rule('signal: data_quality\ncheck: out_of_range_share\nwindow: 10m'), NOW));
    // income x1.8 of U(0.5, 1.5) x 50k against a reference up to 75k: about 70% of values lie beyond it.
    expect(outside['credit-risk/v1/income/out_of_range_share']).toBeGreaterThan(0.6);
    expect(outside['credit-risk/v1/age/out_of_range_share']).toBeLessThan(0.02);
    // A categorical-only check yields nothing for numerical features.
    expect(await src.query(rule('signal: data_quality\ncheck: new_category_share\nwindow: 10m\nmodels: [credit-risk]'), NOW)).toEqual([]);
  });

  it('keeps outputs out of feature and dataset signals', () => {
    const col = (column: string, drift: boolean, statistic: number) => ({ column, type: 'numerical' as const, method: 'psi' as const, statistic, p_value: null, threshold: 0.1, drift, reference_missing: 0, current_missing: 0 });
    const report = { reference_rows: 10, current_rows: 10, drift_share: 0.5, drifted_columns: 3, dataset_drift: true, columns: [col('a', true, 0.3), col('b', false, 0.01), col('c', false, 0.02), col('@score', true, 0.9), col('@prediction', true, 0.8)] };
    const r = { model: 'm', version: 'v', report: report as unknown as DriftReport };
    expect(driftSamples(rule('signal: feature_drift'), r).map((s) => s.labels.feature)).toEqual(['a', 'b', 'c']);
    expect(driftSamples(rule('signal: dataset_drift_share'), r)[0].value).toBeCloseTo(1 / 3, 12);
    expect(driftSamples(rule('signal: prediction_drift\noutputs: [prediction]'), r)).toEqual([{ labels: { model: 'm', version: 'v', output: 'prediction', method: 'psi' }, value: 0.8 }]);
  });
});
