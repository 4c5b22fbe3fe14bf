// The whole path for performance: the demo service (real SDK, labels sent 2 s after each
// prediction, inputs drifting after 10 s so the model becomes wrong) -> collector (real HTTP,
// embedded ClickHouse) -> label join -> GET /api/v1/models/{model}/performance, gauges, results
// table, and the signal function rules use.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMonitor } from '../../agent/index.js';
import { runDemo, type DemoRun } from '../../demo/service.js';
import { performanceSignal } from '../../collector/performance/signal.js';
import { queryRows } from '../../collector/store/client.js';
import { startTestCollector, waitFor, type TestCollector } from '../helpers/collector.js';

interface ApiMetric { metric: string; value: number | null; baseline: number | null; drop: number | null; relative_drop: number | null; coverage: number; labelled: number; predictions: number }
interface ApiEstimate extends ApiMetric { lower: number | null; upper: number | null; realized: number | null }
interface ApiSegment { segment: string | null; predictions: number; labelled: number; coverage: number; metrics: ApiMetric[]; estimated: ApiEstimate[] | null }
interface ApiVersion { version: string; task: string; positive_class: string | null; baseline: { from: string; to: string; source: string; predictions: number; labelled: number } | null; cbpe: { reference_rows: number } | null; segments: ApiSegment[] }
interface ApiPerformance { model: string; window: string; unmatched_labels: number; versions: ApiVersion[] }

// Alert rules on the realized drop and on the CBPE estimate, evaluated every second.
const RULES = `
groups:
  - name: performance
    interval: 1s
    rules:
      - alert: AccuracyDrop
        signal: metric_drop
        metric: accuracy
        drop: absolute
        window: 10s
        condition: "> 0"
      - alert: EstimatedAuc
        signal: estimated_metric
        metric: roc_auc
        window: 10s
        condition: "> 0.5"
`;

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as ApiPerformance & { error?: string } };
};

describe('end to end: SDK -> collector -> delayed labels -> performance API', () => {
  let collector: TestCollector;
  let demo: DemoRun;

  beforeAll(async () => {
    collector = await startTestCollector({ rulesYaml: RULES });
    demo = runDemo({ endpoint: collector.url, ratePerSecond: 500, baselineSeconds: 10, durationSeconds: 120, labelDelaySeconds: 2, seed: 7 });
    // 10 s of baseline traffic, then 12 s of drifted traffic: the last 10 s window is all drift.
    await waitFor(() => demo.drifting() && demo.sent() >= 500 * 22, 60_000);
    await demo.monitor.flush();
  });
  afterAll(async () => {
    await demo?.stop();
    await collector?.close();
  });

  it('reports realized metrics with coverage, their decay from the first labelled window, and CBPE estimates', async () => {
    const { status, body } = await get(`${collector.url}/api/v1/models/credit-risk/performance?window=10s`);
    expect(status).toBe(200);
    expect(body.model).toBe('credit-risk');
    expect(body.window).toBe('10s');
    const v = body.versions[0];
    expect(v).toMatchObject({ version: 'v1', task: 'binary', positive_class: '1' });
    // The baseline is the version's first labelled window: the undrifted start of the run.
    expect(v.baseline!.labelled).toBeGreaterThan(3000);
    const s = v.segments[0];
    expect(s.segment).toBeNull();
    // Labels trail predictions by 2 s: the newest part of the window is not labelled yet.
    expect(s.predictions).toBeGreaterThan(4000);
    expect(s.coverage).toBeGreaterThan(0.5);
    expect(s.coverage).toBeLessThan(0.95);
    expect(s.labelled).toBe(Math.round(s.coverage * s.predictions));
    const m = Object.fromEntries(s.metrics.map((x) => [x.metric, x]));
    expect(Object.keys(m).sort()).toEqual([
      'accuracy', 'brier', 'f1', 'f1_macro', 'f1_weighted', 'log_loss', 'precision', 'precision_macro', 'precision_weighted',
      'recall', 'recall_macro', 'recall_weighted', 'roc_auc',
    ]);
    for (const x of s.metrics) expect(x.coverage).toBe(s.coverage);
    // Drifted incomes push scores up while the truth does not move: more false positives. (Over 200
    // simulated repetitions of these window sizes, the smallest accuracy drop was 0.006, the
    // smallest Brier increase 0.0008; the median accuracy drop is 0.032.)
    expect(m.accuracy.drop).toBeGreaterThan(0);
    expect(m.brier.drop).toBeGreaterThan(0);
    expect(m.accuracy.relative_drop).toBeCloseTo(m.accuracy.drop! / m.accuracy.baseline!, 12);
    // CBPE: estimates over the whole window (labelled or not), with a band.
    expect(v.cbpe!.reference_rows).toBeGreaterThan(3000);
    expect(s.estimated!.map((e) => e.metric)).toEqual(['accuracy', 'precision', 'recall', 'f1', 'roc_auc']);
    for (const e of s.estimated!) {
      expect(e.value).not.toBeNull();
      expect(e.lower!).toBeLessThanOrEqual(e.value!);
      expect(e.upper!).toBeGreaterThanOrEqual(e.value!);
      expect(e.realized).toBe(m[e.metric].value);
    }
  });

  it('slices by segment', async () => {
    const { body } = await get(`${collector.url}/api/v1/models/credit-risk/performance?window=10s&segment=channel&version=v1`);
    const segs = body.versions[0].segments;
    expect(segs.map((s) => s.segment)).toEqual(['app', 'web']);
    for (const s of segs) {
      expect(s.predictions).toBeGreaterThan(0);
      expect(s.labelled).toBeGreaterThan(0);
      expect(s.metrics).toHaveLength(13);
      for (const m of s.metrics) expect(m.coverage).toBe(s.coverage);
    }
  });

  it('exports gauges and writes the results table', async () => {
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    const sample = (name: string, labels: string[]) =>
      metrics.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
    expect(sample('driftwatch_performance_metric', ['segment=""', 'metric="accuracy"', 'kind="realized"'])).toMatch(/\} 0\.\d+$/);
    expect(sample('driftwatch_performance_metric', ['segment=""', 'metric="roc_auc"', 'kind="estimated"'])).toMatch(/\} 0\.\d+$/);
    expect(sample('driftwatch_performance_drop', ['segment=""', 'metric="accuracy"', 'kind="realized"'])).toMatch(/\} 0\.\d+$/);
    expect(sample('driftwatch_performance_label_coverage', ['model="credit-risk"', 'window="10s"'])).toMatch(/\} 0\.\d+$/);
    const rows = await queryRows<{ kind: string; n: string }>(
      collector.store.client,
      `SELECT kind, count() AS n FROM performance_results WHERE model = 'credit-risk' GROUP BY kind ORDER BY kind`,
    );
    expect(rows.map((r) => r.kind)).toEqual(['estimated', 'realized']);
  });

  it('gives rules the value and drop of a metric, realized or estimated', async () => {
    const realized = await performanceSignal(collector.performance, { model: 'credit-risk', version: 'v1', windowMs: 10_000, metric: 'accuracy' });
    expect(realized).toMatchObject({ model: 'credit-risk', version: 'v1', metric: 'accuracy', kind: 'realized' });
    expect(realized!.drop).toBeGreaterThan(0);
    expect(realized!.coverage).toBeGreaterThan(0);
    const estimated = await performanceSignal(collector.performance, { model: 'credit-risk', version: 'v1', windowMs: 10_000, metric: 'roc_auc', kind: 'estimated' });
    expect(estimated!.value).toBeGreaterThan(0.5);
    expect(estimated!.lower).not.toBeNull();
    expect(await performanceSignal(collector.performance, { model: 'credit-risk', version: 'v1', windowMs: 10_000, metric: 'mae' })).toBeUndefined();
  });

  it('fires alert rules on the drop of a realized metric and on an estimate', async () => {
    // Firing notifications in the collector's log (the drop, near zero before the drift, may flap).
    type Fired = { event: string; alert: string; labels: Record<string, string>; value: number };
    const fired = (name: string) =>
      (collector.logs as Fired[]).filter((l) => l.event === 'alert_firing' && l.alert === name && l.labels.model === 'credit-risk');
    await waitFor(() => fired('AccuracyDrop').length > 0 && fired('EstimatedAuc').length > 0, 60_000).catch(async (e) => {
      console.log('alerts', JSON.stringify(await (await fetch(`${collector.url}/api/v1/alerts`)).json()));
      console.log('logs', JSON.stringify(collector.logs.filter((l) => /rule|alert|perf/.test(String(l.event))).slice(-20)));
      throw e;
    });
    const drop = fired('AccuracyDrop').at(-1)!;
    expect(drop.labels).toMatchObject({ model: 'credit-risk', version: 'v1', metric: 'accuracy', alertname: 'AccuracyDrop' });
    expect(drop.value).toBeGreaterThan(0);
    expect(fired('EstimatedAuc')[0].value).toBeGreaterThan(0.5);
  });

  it('keeps a label that arrives before its prediction, counts it unmatched, and joins it later', async () => {
    const monitor = createMonitor({ model: 'late', version: 'v1', endpoint: collector.url, flushIntervalMs: 100 });
    monitor.label('a', 'cat');
    await monitor.flush();
    // Only a label so far: the model is known, nothing is measured yet.
    const labelOnly = await waitFor(async () => {
      const r = await get(`${collector.url}/api/v1/models/late/performance?window=1h`);
      return r.status === 200 ? r.body : undefined;
    }, 10_000);
    expect(labelOnly).toMatchObject({ unmatched_labels: 1, versions: [] });
    monitor.record({ id: 'a', features: { x: 1 }, prediction: 'cat' });
    monitor.label('a', 'cat');
    monitor.label('b', 'dog'); // its prediction has not arrived
    await monitor.flush();
    const before = await waitFor(async () => {
      const r = await get(`${collector.url}/api/v1/models/late/performance?window=1h`);
      return r.status === 200 && r.body.unmatched_labels === 1 ? r.body : undefined;
    }, 10_000);
    expect(before.versions[0].segments[0]).toMatchObject({ predictions: 1, labelled: 1 });
    monitor.record({ id: 'b', features: { x: 2 }, prediction: 'cat' });
    monitor.label('a', 'dog'); // a later label replaces the earlier
    await monitor.shutdown();
    const after = await waitFor(async () => {
      const r = await get(`${collector.url}/api/v1/models/late/performance?window=1h`);
      return r.body.versions?.[0]?.segments[0]?.labelled === 2 && r.body.unmatched_labels === 0 ? r.body : undefined;
    }, 10_000);
    const v = after.versions[0];
    expect(v.task).toBe('multiclass');
    expect(v.segments[0].metrics.find((m) => m.metric === 'accuracy')!.value).toBe(0);
  });

  it('takes an explicit baseline, a threshold and a task from the query', async () => {
    const first = (await get(`${collector.url}/api/v1/models/credit-risk/performance?window=10s`)).body.versions[0].baseline!;
    const from = Date.parse(first.from);
    const to = from + 5000;
    const { status, body } = await get(
      `${collector.url}/api/v1/models/credit-risk/performance?window=10s&baseline_from=${new Date(from).toISOString()}&baseline_to=${to}&threshold=0.3`,
    );
    expect(status).toBe(200);
    const v = body.versions[0] as ApiVersion & { cbpe: { threshold: number } };
    expect(v.baseline).toMatchObject({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), source: 'explicit' });
    expect(v.cbpe.threshold).toBe(0.3);
    const multi = (await get(`${collector.url}/api/v1/models/credit-risk/performance?window=10s&task=multiclass`)).body.versions[0];
    expect(multi.task).toBe('multiclass');
    expect(multi.segments[0].metrics.map((m) => m.metric)).toContain('f1_weighted');
    expect(multi.segments[0].estimated).toBeNull();
    expect((await get(`${collector.url}/api/v1/models/credit-risk/performance?baseline_from=1`)).status).toBe(400);
  });

  it('answers 400 for a bad window and 404 for an unknown model', async () => {
    expect((await get(`${collector.url}/api/v1/models/credit-risk/performance?window=soon`)).status).toBe(400);
    expect((await get(`${collector.url}/api/v1/models/credit-risk/performance?task=ranking`)).status).toBe(400);
    expect((await get(`${collector.url}/api/v1/models/nope/performance`)).status).toBe(404);
  });
});
