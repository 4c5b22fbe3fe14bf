// Restart persistence through real processes: a collector pages (PagerDuty trigger), is stopped,
// and a new collector process on the same data directory restores the firing alert from
// ClickHouse: it does not page again, and it resolves the incident exactly once.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/collector.js';
import { startSink } from '../helpers/http-sink.js';
import { spawnCollector, type ChildCollector } from '../helpers/process.js';

const RULES = `receivers:
  - name: oncall
    pagerduty:
      routing_key: \${PD_KEY}
      url: \${PD_URL}
groups:
  - name: traffic
    interval: 1s
    rules:
      - alert: ModelServing
        signal: volume
        window: 15s
        condition: "> 0"
        for: 1s
        severity: critical
        annotations:
          summary: "{{ $labels.model }} {{ $labels.version }} serves {{ $value }} predictions per 15s"
        receivers: [oncall]
`;

function prediction(i: number) {
  return {
    resourceLogs: [{
      resource: { attributes: [{ key: 'ml.model.name', value: { stringValue: 'credit-risk' } }, { key: 'ml.model.version', value: { stringValue: 'v1' } }] },
      scopeLogs: [{ logRecords: [{
        eventName: 'ml.prediction',
        timeUnixNano: String(BigInt(Date.now()) * 1_000_000n),
        attributes: [
          { key: 'ml.prediction.id', value: { stringValue: `p${i}` } },
          { key: 'ml.prediction.value', value: { doubleValue: 1 } },
          { key: 'ml.feature.income', value: { doubleValue: 50_000 + i } },
        ],
      }] }],
    }],
  };
}

async function stop(c: ChildCollector): Promise<void> {
  c.child.kill('SIGTERM');
  await c.exited;
}

describe('restart persistence', () => {
  const running: ChildCollector[] = [];
  let pd: Awaited<ReturnType<typeof startSink>>;
  afterAll(async () => {
    for (const c of running) if (c.child.exitCode === null) await stop(c);
    await pd?.close();
  });

  it('a firing alert restored from ClickHouse is not paged again and resolves exactly once', async () => {
    pd = await startSink(() => 202);
    const dir = mkdtempSync(join(tmpdir(), 'driftwatch-restart-'));
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    const env = { DRIFTWATCH_DATA_DIR: join(dir, 'data'), DRIFTWATCH_RULES: join(dir, 'rules.yaml'), PD_KEY: 'k', PD_URL: `${pd.url}/v2/enqueue` };
    const events = () => pd.received.map((r) => JSON.parse(r.body.toString()) as { event_action: string; dedup_key: string });

    let target = '';
    let sending = true;
    let i = 0;
    const sender = (async () => {
      while (sending) {
        if (target) await fetch(`${target}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(prediction(i++)) }).catch(() => {});
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    const a = await spawnCollector(env);
    running.push(a);
    target = a.url;
    await waitFor(() => events().length >= 1, 30_000);
    expect(events().map((e) => e.event_action)).toEqual(['trigger']);
    const alertsA = await (await fetch(`${a.url}/api/v1/alerts`)).json() as { alerts: { state: string; fired_at: string; fingerprint: string }[] };
    expect(alertsA.alerts).toHaveLength(1);
    expect(alertsA.alerts[0].state).toBe('firing');
    const dedup = events()[0].dedup_key;
    expect(dedup).toBe(alertsA.alerts[0].fingerprint);

    // Restart: stop the first process, start a second one on the same data directory.
    target = '';
    await stop(a);
    const b = await spawnCollector(env);
    running.push(b);
    target = b.url;
    // Traffic continues: the restored alert keeps firing, with its original times, and is not paged again.
    const restored = await waitFor(async () => {
      const body = await (await fetch(`${b.url}/api/v1/alerts`)).json() as { alerts: { state: string; fired_at: string; fingerprint: string }[] };
      return body.alerts[0];
    }, 10_000);
    expect(restored).toMatchObject({ state: 'firing', fired_at: alertsA.alerts[0].fired_at, fingerprint: dedup });
    await new Promise((r) => setTimeout(r, 4000));
    expect(events().map((e) => e.event_action)).toEqual(['trigger']);
    expect(b.output.join('')).not.toContain('"event":"alert_firing"');

    // Traffic stops: once the 15s window is empty the alert resolves, once.
    sending = false;
    await sender;
    await waitFor(() => events().length >= 2, 40_000);
    await new Promise((r) => setTimeout(r, 3000));
    expect(events()).toEqual([
      { routing_key: 'k', event_action: 'trigger', dedup_key: dedup, payload: expect.objectContaining({ severity: 'critical', source: 'credit-risk' }), client: 'Driftwatch' },
      { routing_key: 'k', event_action: 'resolve', dedup_key: dedup },
    ]);
    const after = await (await fetch(`${b.url}/api/v1/alerts`)).json() as { alerts: unknown[] };
    expect(after.alerts).toEqual([]);
  }, 120_000);
});
