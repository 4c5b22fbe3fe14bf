// A real Alertmanager (Debian's prometheus-alertmanager) on loopback: alerts driven through the
// evaluator and the Alertmanager receiver are read back from Alertmanager's API v2 as firing, then
// resolved, and Alertmanager's own notifications (webhook to a local sink) say the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Evaluator, type Sample } from '../../rules/engine/evaluator.js';
import { parseRuleFile } from '../../rules/engine/load.js';
import { createDispatcher } from '../../rules/receivers/dispatch.js';
import { amAlerts, startAlertmanager, type RunningAlertmanager } from './alertmanager-server.js';
import { waitFor } from '../helpers/collector.js';
import { startSink } from '../helpers/http-sink.js';

describe('Alertmanager receiver against a real Alertmanager', () => {
  let am: RunningAlertmanager;
  let sink: Awaited<ReturnType<typeof startSink>>;

  beforeAll(async () => {
    sink = await startSink(() => 200);
    am = await startAlertmanager(`${sink.url}/am-webhook`);
  });
  afterAll(async () => {
    await am?.stop();
    await sink?.close();
  });

  it('shows the alert as firing, re-sent while it fires, then resolved', async () => {
    const rs = parseRuleFile('r.yaml', `receivers:
  - name: am
    alertmanager:
      url: ${am.url}
      resend_interval: 1s
groups:
  - name: drift
    interval: 1s
    rules:
      - alert: FeatureDriftPSI
        signal: feature_drift
        method: psi
        condition: "> 0.2"
        for: 2s
        labels: { team: ml }
        annotations:
          summary: "{{ $labels.feature }} drifted ({{ $value | printf \\"%.2f\\" }})"
        receivers: [am]
`, {});
    // A signal source the test controls: income drifts while `drifting` is true.
    let drifting = true;
    const source = {
      async query(): Promise<Sample[]> {
        const base = { model: 'credit-risk', version: 'v1', method: 'psi' };
        return [{ labels: { ...base, feature: 'income' }, value: drifting ? 0.41 : 0.02 }, { labels: { ...base, feature: 'age' }, value: 0.01 }];
      },
    };
    const outcomes: string[] = [];
    const d = createDispatcher({ receivers: rs.receivers, log: () => {}, onOutcome: (r, o, n) => outcomes.push(`${r}:${o}:${n}`) });
    const ev = new Evaluator(rs, { source, notify: (ns) => d.notify(ns) });
    ev.start();
    try {
      const firing = await waitFor(async () => (await amAlerts(am.url)).find((a) => a.labels.feature === 'income'), 20_000);
      const local = ev.active()[0];
      expect(local.state).toBe('firing');
      expect(firing.labels).toEqual({ alertname: 'FeatureDriftPSI', model: 'credit-risk', version: 'v1', feature: 'income', method: 'psi', severity: 'warning', team: 'ml' });
      expect(firing.annotations).toEqual({ summary: 'income drifted (0.41)' });
      expect(firing.status.state).toBe('active');
      expect(firing.receivers.map((r) => r.name)).toEqual(['sink']);
      expect(Date.parse(firing.startsAt)).toBe(local.firedAt);
      // endsAt lies 4 x max(resend 1s, interval 1s) ahead and moves forward with the re-sends.
      const firstEnds = Date.parse(firing.endsAt);
      expect(firstEnds).toBeGreaterThan(Date.now());
      await waitFor(async () => {
        const a = (await amAlerts(am.url)).find((x) => x.labels.feature === 'income');
        return a && Date.parse(a.endsAt) > firstEnds + 1500;
      }, 10_000);
      expect((await amAlerts(am.url)).filter((a) => a.labels.feature === 'age')).toEqual([]);
      // Alertmanager notified its own receiver of the firing alert.
      const amFiring = await waitFor(() => sink.received.map((r) => JSON.parse(r.body.toString())).find((p) => p.status === 'firing'), 15_000);
      expect(amFiring.alerts[0].labels.feature).toBe('income');

      // The drift stops: the alert resolves locally, Alertmanager marks it resolved (endsAt in the past).
      drifting = false;
      await waitFor(() => ev.active().length === 0, 10_000);
      // Alertmanager's API v2 lists only unresolved alerts: the resolved one leaves it.
      await waitFor(async () => !(await amAlerts(am.url)).some((a) => a.labels.feature === 'income'), 10_000);
      const amResolved = await waitFor(() => sink.received.map((r) => JSON.parse(r.body.toString())).find((p) => p.status === 'resolved'), 15_000);
      expect(amResolved.alerts[0]).toMatchObject({ status: 'resolved', labels: { feature: 'income', alertname: 'FeatureDriftPSI' } });
      expect(Date.parse(amResolved.alerts[0].endsAt)).toBe(ev.all().find((a) => a.labels.feature === 'income')!.resolvedAt);
    } finally {
      await ev.stop();
      await d.drain();
    }
    expect(outcomes.every((o) => o.startsWith('am:success:'))).toBe(true);
    expect(outcomes.length).toBeGreaterThanOrEqual(3); // firing, at least one re-send, resolved
  });
});
