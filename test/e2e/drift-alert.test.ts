// The whole path: the demo service (real SDK) -> collector (real HTTP, embedded ClickHouse) ->
// baseline and drift -> rule -> alert in the API, the log and a webhook.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../demo/service.js';
import { startSink } from '../helpers/http-sink.js';
import { startTestCollector, waitFor, type TestCollector } from '../helpers/collector.js';

const RULES = (webhook: string) => `
receivers:
  - name: hook
    webhook:
      url: ${webhook}
groups:
  - name: drift
    interval: 1s
    rules:
      - alert: FeatureDrift
        signal: feature_drift
        method: psi
        window: 20s
        condition: "> 0.2"
        for: 2s
        annotations:
          summary: "{{ $labels.feature }} drifted: {{ $value | printf \\"%.2f\\" }}"
        receivers: [hook]
`;

interface ApiAlert { name: string; state: string; labels: Record<string, string>; annotations: Record<string, string>; value: number; active_at: string }

describe('end to end: SDK -> collector -> drift -> alert', () => {
  let collector: TestCollector;
  let sink: Awaited<ReturnType<typeof startSink>>;

  beforeAll(async () => {
    sink = await startSink();
    collector = await startTestCollector({ rulesYaml: RULES(sink.url), baselineRows: 500 });
  });
  afterAll(async () => {
    await collector?.close();
    await sink?.close();
  });

  it('fires on the drifting feature only, and stores exactly what was sent', async () => {
    const demo = runDemo({ endpoint: collector.url, ratePerSecond: 250, baselineSeconds: 4, durationSeconds: 120, labelDelaySeconds: 1, seed: 7 });
    try {
      const alerts = await waitFor(async () => {
        const res = await fetch(`${collector.url}/api/v1/alerts`);
        const body = (await res.json()) as { alerts: ApiAlert[] };
        const firing = body.alerts.filter((a) => a.state === 'firing' && a.labels.feature === 'income');
        return firing.length > 0 ? body.alerts : undefined;
      }, 60_000);
      const income = alerts.find((a) => a.labels.feature === 'income')!;
      expect(income.name).toBe('FeatureDrift');
      expect(income.labels).toMatchObject({ model: 'credit-risk', version: 'v1', method: 'psi', alertname: 'FeatureDrift' });
      expect(income.value).toBeGreaterThan(0.2);
      expect(income.annotations.summary).toBe(`income drifted: ${income.value.toFixed(2)}`);
      // Features whose distribution did not move do not alert.
      for (const f of ['age', 'tenure_months', 'credit_score', 'country', 'device']) {
        expect(alerts.filter((a) => a.labels.feature === f)).toEqual([]);
      }
    } finally {
      await demo.stop();
    }

    // The webhook received the firing notification for income.
    await waitFor(() => sink.received.length > 0, 10_000);
    const payloads = sink.received.map((r) => JSON.parse(r.body.toString()));
    const fired = payloads.flatMap((p) => p.alerts).filter((a: { labels: Record<string, string> }) => a.labels.feature === 'income');
    expect(fired[0]).toMatchObject({ status: 'firing', name: 'FeatureDrift', labels: { feature: 'income', model: 'credit-risk' } });
    expect(fired[0].fingerprint).toMatch(/^[0-9a-f]{32}$/);
    // ... and the collector's log.
    expect(collector.logs.some((l) => l.event === 'alert_firing' && (l.labels as Record<string, string>).feature === 'income')).toBe(true);

    // Everything the SDK exported is stored, once.
    const stats = demo.monitor.stats();
    expect(stats.dropped).toBe(0);
    expect(stats.failed).toBe(0);
    expect(stats.exported).toBe(demo.sent() + demo.labels());
    const res = await fetch(`${collector.url}/api/v1/models`);
    const { models } = (await res.json()) as { models: { name: string; versions: string[]; predictions: number; labels: number }[] };
    expect(models).toHaveLength(1);
    expect(models[0]).toMatchObject({ name: 'credit-risk', versions: ['v1'], predictions: demo.sent(), labels: demo.labels() });
  });

  it('serves the drift report and Prometheus gauges', async () => {
    const res = await fetch(`${collector.url}/api/v1/models/credit-risk/drift?window=10m&method=psi`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { versions: { version: string; columns: { column: string; method: string; drift: boolean; statistic: number }[] }[] };
    const income = body.versions[0].columns.find((c) => c.column === 'income')!;
    expect(income).toMatchObject({ method: 'psi', drift: true });
    const metrics = await (await fetch(`${collector.url}/metrics`)).text();
    expect(metrics).toMatch(/driftwatch_drift_statistic\{[^}]*feature="income"[^}]*\} [0-9.]+/);
    expect(metrics).toMatch(/driftwatch_ingest_records_total\{[^}]*kind="prediction"[^}]*outcome="accepted"[^}]*\} [1-9]/);
  });
});
