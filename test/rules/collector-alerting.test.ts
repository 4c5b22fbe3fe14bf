// Through the collector: the demo service (real SDK) drifts, the collector (embedded ClickHouse)
// computes drift and evaluates the rules, and the alert reaches a real Alertmanager, a PagerDuty
// Events v2 endpoint and a Slack webhook (local receivers), firing then resolved once the drift
// stops. Also the silences API of the same collector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from '../../demo/service.js';
import { startSink } from '../helpers/http-sink.js';
import { startTestCollector, waitFor, type TestCollector } from '../helpers/collector.js';
import { amAlerts, startAlertmanager, type RunningAlertmanager } from './alertmanager-server.js';

type Sink = Awaited<ReturnType<typeof startSink>>;

const RULES = (am: string, pd: string, slack: string) => `
receivers:
  - name: am
    alertmanager: { url: "${am}", resend_interval: 2s }
  - name: oncall
    pagerduty: { routing_key: R0UT1NG, url: "${pd}/v2/enqueue" }
  - name: team-slack
    slack: { webhook_url: "${slack}/services/T/B/X" }
groups:
  - name: drift
    interval: 1s
    rules:
      - alert: FeatureDrift
        signal: feature_drift
        method: psi
        window: 10s
        condition: "> 0.2"
        for: 2s
        severity: critical
        annotations:
          summary: "{{ $labels.feature }} of {{ $labels.model }} drifted"
        receivers: [am, oncall, team-slack]
silences:
  - matchers: ['model="legacy"']
    starts_at: 2020-01-01T00:00:00Z
    ends_at: 2099-01-01T00:00:00Z
    comment: decommissioned
`;

describe('alerting through the collector', () => {
  let c: TestCollector;
  let am: RunningAlertmanager;
  let amSink: Sink, pd: Sink, slack: Sink;

  beforeAll(async () => {
    [amSink, pd, slack] = await Promise.all([startSink(), startSink(() => 202), startSink()]);
    am = await startAlertmanager(`${amSink.url}/am`);
    c = await startTestCollector({ rulesYaml: RULES(am.url, pd.url, slack.url), baselineRows: 500 });
  });
  afterAll(async () => {
    await c?.close();
    await am?.stop();
    await Promise.all([amSink?.close(), pd?.close(), slack?.close()]);
  });

  it('serves silences: create, list, get, delete; file silences are read-only; bad input is a 400', async () => {
    const api = `${c.url}/api/v1/silences`;
    const post = (b: unknown) => fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
    const endsAt = new Date(Date.now() + 3_600_000).toISOString();
    const res = await post({ matchers: [{ name: 'feature', value: 'age' }, 'model=~"credit-.*"'], endsAt, comment: 'known seasonal shift', createdBy: 'ana' });
    expect(res.status).toBe(200);
    const { silenceID } = (await res.json()) as { silenceID: string };
    expect(silenceID).toMatch(/^[0-9a-f-]{36}$/);
    const list = (await (await fetch(api)).json()) as { silences: { id: string; source: string; status: { state: string }; matchersText: string[] }[] };
    expect(list.silences.map((s) => `${s.source}:${s.status.state}`).sort()).toEqual(['api:active', 'file:active']);
    const one = (await (await fetch(`${api}/${silenceID}`)).json()) as Record<string, unknown>;
    expect(one).toMatchObject({ id: silenceID, endsAt, comment: 'known seasonal shift', createdBy: 'ana', matchersText: ['feature="age"', 'model=~"credit-.*"'] });
    // Stored in ClickHouse, so other collectors on the store see it.
    const rows = await c.store.client.query({ query: 'SELECT id FROM silences FINAL WHERE NOT deleted', format: 'JSONEachRow' });
    expect(((await rows.json()) as { id: string }[]).map((r) => r.id)).toEqual([silenceID]);

    expect((await fetch(`${api}/${silenceID}`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${api}/${silenceID}`)).status).toBe(404);
    const fileId = list.silences.find((s) => s.source === 'file')!.id;
    const del = await fetch(`${api}/${encodeURIComponent(fileId)}`, { method: 'DELETE' });
    expect(del.status).toBe(409);
    expect(((await del.json()) as { error: string }).error).toContain('comes from a rule file');

    const bad = await post({ matchers: ['feature=~"(unclosed"'], endsAt });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^matchers: matcher feature: bad regex/);
    expect((await post({ matchers: [], endsAt })).status).toBe(400);
    const all = await post({ matchers: ['model=~".*"'], endsAt });
    expect(all.status).toBe(400);
    expect(((await all.json()) as { error: string }).error).toContain('at least one matcher must not match the empty string');
    expect((await post({ matchers: ['a="b"'], startsAt: endsAt, endsAt })).status).toBe(400);
  });

  it('drift -> firing in Alertmanager, PagerDuty and Slack -> resolved when the drift stops', async () => {
    const demo = runDemo({ endpoint: c.url, ratePerSecond: 250, baselineSeconds: 4, durationSeconds: 120, labelDelaySeconds: 1, seed: 11, log: () => {} });
    let firing;
    try {
      firing = await waitFor(async () => (await amAlerts(am.url)).find((a) => a.labels.feature === 'income'), 60_000);
    } finally {
      await demo.stop();
    }
    expect(firing.labels).toMatchObject({ alertname: 'FeatureDrift', model: 'credit-risk', feature: 'income', method: 'psi', severity: 'critical' });
    expect(firing.status.state).toBe('active');
    expect(firing.annotations.summary).toBe('income of credit-risk drifted');

    // No traffic: the 10s window empties, the alert resolves, everywhere. (Other features may
    // fire and resolve too on a noisy window: everything below is about income's alert.)
    type PdEvent = { event_action: string; dedup_key: string; payload?: { component?: string } };
    const pdEvents = () => pd.received.map((r) => JSON.parse(r.body.toString()) as PdEvent);
    const incomeKey = (await waitFor(() => pdEvents().find((e) => e.payload?.component === 'income'), 20_000)).dedup_key;
    await waitFor(() => pdEvents().some((e) => e.dedup_key === incomeKey && e.event_action === 'resolve'), 40_000);
    type AmNote = { status: string; alerts: { status: string; labels: Record<string, string> }[] };
    const amResolved = await waitFor(
      () => amSink.received.map((r) => JSON.parse(r.body.toString()) as AmNote).find((p) => p.status === 'resolved' && p.alerts.some((a) => a.labels.feature === 'income')),
      20_000,
    );
    await waitFor(() => slack.received.some((r) => /^\[RESOLVED[^\]]*\] .*income of credit-risk drifted/.test(JSON.parse(r.body.toString()).text)), 20_000);
    await c.evaluator.stop();
    expect(pdEvents().filter((e) => e.dedup_key === incomeKey).map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
    expect(incomeKey).toBe(c.evaluator.all().find((a) => a.labels.feature === 'income')?.fingerprint);
    // Alertmanager's API v2 lists only unresolved alerts: the resolved one has left it, and
    // Alertmanager notified its own receiver of the resolve.
    expect((await amAlerts(am.url)).filter((a) => a.labels.feature === 'income')).toEqual([]);
    expect(amResolved.alerts.find((a) => a.labels.feature === 'income')).toMatchObject({ status: 'resolved' });

    const slackMsgs = slack.received.map((r) => JSON.parse(r.body.toString()) as { text: string; blocks: { type: string }[] });
    expect(slackMsgs.some((m) => m.text.startsWith('[FIRING') && m.text.includes('income of credit-risk drifted'))).toBe(true);
    expect(slackMsgs.some((m) => m.text.startsWith('[RESOLVED') && m.text.includes('income of credit-risk drifted'))).toBe(true);
    expect(slackMsgs.every((m) => m.blocks[0].type === 'header')).toBe(true);

    // Delivery outcomes are counted in /metrics.
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    for (const r of ['am', 'oncall', 'team-slack']) {
      expect(metrics).toMatch(new RegExp(`driftwatch_alert_deliveries_total\\{[^}]*receiver="${r}"[^}]*outcome="success"[^}]*\\} [1-9]`));
    }
    expect(metrics).not.toMatch(/driftwatch_alert_deliveries_total\{[^}]*outcome="failure"/);
  });
});
