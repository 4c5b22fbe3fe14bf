// Receivers against local HTTP servers: each provider's documented fields, signatures, retries,
// isolation of a failing receiver, ordering, outcome counts, and one PagerDuty incident per alert
// identity across evaluators.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Evaluator, type Sample } from '../../rules/engine/evaluator.js';
import { parseRuleFile, type RuleSet } from '../../rules/engine/load.js';
import { createDispatcher, type DeliveryOutcome } from '../../rules/receivers/dispatch.js';
import { startSink, type Received } from '../helpers/http-sink.js';

type Sink = Awaited<ReturnType<typeof startSink>>;
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function sink(status?: (r: Received) => number): Promise<Sink> {
  const s = await startSink(status);
  cleanup.push(s.close);
  return s;
}

const RULES = (receivers: string, names: string) => `receivers:
${receivers}
groups:
  - name: drift
    interval: 10s
    rules:
      - alert: FeatureDrift
        signal: feature_drift
        method: psi
        condition: "> 0.2"
        for: 20s
        severity: critical
        labels: { team: ml }
        annotations:
          summary: "{{ $labels.feature }} of {{ $labels.model }} drifted"
          description: "PSI {{ $value | printf \\"%.2f\\" }} <b>&</b>"
        receivers: [${names}]
`;

function harness(rs: RuleSet, opts: { retryMs?: number; maxQueue?: number } = {}) {
  const outcomes: string[] = [];
  const logs: { event: string; fields: Record<string, unknown> }[] = [];
  const d = createDispatcher({
    receivers: rs.receivers,
    log: (event, fields) => logs.push({ event, fields }),
    onOutcome: (r: string, o: DeliveryOutcome, n: number) => outcomes.push(`${r}:${o}:${n}`),
    retry: { baseDelayMs: opts.retryMs ?? 5, maxDelayMs: 50, timeoutMs: 2000 },
    maxQueue: opts.maxQueue,
  });
  const ev = new Evaluator(rs, { source: { query: async () => [] }, notify: (ns) => d.notify(ns) });
  const rule = rs.groups[0].rules[0];
  const sample = (feature: string, value: number): Sample => ({ labels: { model: 'credit-risk', version: 'v1', feature, method: 'psi' }, value });
  /** Fire (0s, 10s, 20s) then resolve (30s) one alert per feature. */
  async function fireAndResolve(t0: number, ...features: string[]) {
    for (let t = 0; t <= 20_000; t += 10_000) await ev.apply(rule, features.map((f) => sample(f, 0.5)), t0 + t);
    await ev.apply(rule, [], t0 + 30_000);
  }
  return { d, ev, rule, outcomes, logs, sample, fireAndResolve };
}

const body = (r: Received) => JSON.parse(r.body.toString()) as Record<string, any>;

describe('PagerDuty Events API v2', () => {
  it('triggers and resolves with the documented fields and dedup_key = fingerprint', async () => {
    const pd = await sink(() => 202);
    const rs = parseRuleFile('r.yaml', RULES(`  - name: oncall\n    pagerduty:\n      routing_key: \${PD_KEY}\n      url: ${pd.url}/v2/enqueue\n      client_url: http://driftwatch.local`, 'oncall'), { PD_KEY: 'R0UT1NGKEY00000000000000000000AB' });
    const h = harness(rs);
    await h.fireAndResolve(Date.parse('2026-11-24T10:00:00Z'), 'income');
    await h.d.drain();
    expect(pd.received.map((r) => `${r.method} ${r.url} ${r.headers['content-type']}`)).toEqual([
      'POST /v2/enqueue application/json', 'POST /v2/enqueue application/json',
    ]);
    const [trigger, resolve] = pd.received.map(body);
    const fp = h.ev.all()[0].fingerprint;
    expect(trigger).toEqual({
      routing_key: 'R0UT1NGKEY00000000000000000000AB',
      event_action: 'trigger',
      dedup_key: fp,
      payload: {
        summary: 'income of credit-risk drifted',
        source: 'credit-risk',
        severity: 'critical',
        timestamp: '2026-11-24T10:00:20.000Z',
        component: 'income',
        group: 'credit-risk',
        class: 'FeatureDrift',
        custom_details: {
          labels: { model: 'credit-risk', version: 'v1', feature: 'income', method: 'psi', team: 'ml', alertname: 'FeatureDrift', severity: 'critical' },
          annotations: { summary: 'income of credit-risk drifted', description: 'PSI 0.50 <b>&</b>' },
          value: 0.5,
          fingerprint: fp,
        },
      },
      client: 'Driftwatch',
      client_url: 'http://driftwatch.local',
    });
    // Documented constraints: summary <= 1024 chars, severity in the four values, dedup_key <= 255.
    expect(['critical', 'error', 'warning', 'info']).toContain(trigger.payload.severity);
    expect(trigger.dedup_key.length).toBeLessThanOrEqual(255);
    expect(resolve).toEqual({ routing_key: 'R0UT1NGKEY00000000000000000000AB', event_action: 'resolve', dedup_key: fp });
    expect(h.outcomes).toEqual(['oncall:success:1', 'oncall:success:1']);
  });

  it('gives the same alert from two evaluators one dedup_key (one incident)', async () => {
    const pd = await sink(() => 202);
    const text = RULES(`  - name: oncall\n    pagerduty:\n      routing_key: k\n      url: ${pd.url}`, 'oncall');
    const one = harness(parseRuleFile('a.yaml', text, {}));
    const two = harness(parseRuleFile('b.yaml', text, {}));
    // Two collectors, clocks 3 s apart, values differing: same identity.
    await one.fireAndResolve(1_000_000, 'income');
    await one.d.drain();
    await two.fireAndResolve(1_003_000, 'income');
    await two.d.drain();
    const events = pd.received.map(body);
    expect(events.map((e) => e.event_action)).toEqual(['trigger', 'resolve', 'trigger', 'resolve']);
    expect(new Set(events.map((e) => e.dedup_key)).size).toBe(1);
    // A different feature is a different incident.
    await one.fireAndResolve(2_000_000, 'age');
    await one.d.drain();
    expect(new Set(pd.received.map(body).map((e) => e.dedup_key)).size).toBe(2);
  });
});

describe('Slack incoming webhook', () => {
  it('posts text plus header/section/context blocks within Slack\'s limits, escaped', async () => {
    const slack = await sink(() => 200);
    const rs = parseRuleFile('r.yaml', RULES(`  - name: team-slack\n    slack:\n      webhook_url: ${slack.url}/services/T000/B000/XXXX`, 'team-slack'), {});
    const h = harness(rs);
    await h.fireAndResolve(Date.parse('2026-11-24T10:00:00Z'), 'income', 'age');
    await h.d.drain();
    expect(slack.received.map((r) => r.url)).toEqual(['/services/T000/B000/XXXX', '/services/T000/B000/XXXX']);
    const [firing, resolved] = slack.received.map(body);
    expect(typeof firing.text).toBe('string');
    expect(firing.text).toBe('[FIRING:2] income of credit-risk drifted; age of credit-risk drifted');
    expect(firing.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: ':rotating_light: Firing: FeatureDrift (2 alerts)', emoji: true } });
    const sections = firing.blocks.filter((b: any) => b.type === 'section');
    expect(sections).toHaveLength(2);
    expect(sections[0].text).toEqual({ type: 'mrkdwn', text: '*income of credit-risk drifted*\nPSI 0.50 &lt;b&gt;&amp;&lt;/b&gt;' });
    expect(sections[0].fields).toContainEqual({ type: 'mrkdwn', text: '*feature*\nincome' });
    expect(sections[0].fields).toContainEqual({ type: 'mrkdwn', text: '*value*\n0.5000' });
    expect(firing.blocks.filter((b: any) => b.type === 'context')[0].elements[0].text).toMatch(/^firing since <!date\^\d+\^\{date_short_pretty\} \{time\}\|2026-11-24T10:00:20\.000Z> · fingerprint `[0-9a-f]{32}`$/);
    expect(resolved.blocks[0].text.text).toBe(':white_check_mark: Resolved: FeatureDrift (2 alerts)');
    // Slack's documented limits: <= 50 blocks, header <= 150, section text <= 3000, <= 10 fields of <= 2000.
    for (const m of [firing, resolved]) {
      expect(m.blocks.length).toBeLessThanOrEqual(50);
      for (const b of m.blocks) {
        expect(['header', 'section', 'context', 'divider']).toContain(b.type);
        if (b.type === 'header') expect(b.text.text.length).toBeLessThanOrEqual(150);
        if (b.type === 'section') {
          expect(b.text.text.length).toBeLessThanOrEqual(3000);
          expect(b.fields.length).toBeLessThanOrEqual(10);
          for (const f of b.fields) expect(f.text.length).toBeLessThanOrEqual(2000);
        }
      }
    }
  });
});

describe('generic webhook', () => {
  it('signs the body with HMAC-SHA256 over "<timestamp>.<body>" when a secret is set', async () => {
    const hook = await sink(() => 200);
    const rs = parseRuleFile('r.yaml', RULES(`  - name: hook\n    webhook:\n      url: ${hook.url}/in\n      hmac_secret: \${SECRET}\n      headers: { x-team: ml }`, 'hook'), { SECRET: 's3cret' });
    const h = harness(rs);
    await h.fireAndResolve(0, 'income');
    await h.d.drain();
    expect(hook.received).toHaveLength(2);
    for (const r of hook.received) {
      const ts = String(r.headers['x-driftwatch-timestamp']);
      expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(60);
      const expected = `sha256=${createHmac('sha256', 's3cret').update(`${ts}.${r.body.toString()}`).digest('hex')}`;
      expect(r.headers['x-driftwatch-signature']).toBe(expected);
      expect(r.headers['x-team']).toBe('ml');
    }
    expect(body(hook.received[0])).toMatchObject({ version: '1', status: 'firing', receiver: 'hook', alerts: [{ status: 'firing', name: 'FeatureDrift', value: 0.5, firedAt: '1970-01-01T00:00:20.000Z', resolvedAt: null }] });
    expect(body(hook.received[1])).toMatchObject({ status: 'resolved', alerts: [{ status: 'resolved', resolvedAt: '1970-01-01T00:00:30.000Z' }] });
  });
});

describe('delivery: retries, isolation, ordering, counts', () => {
  it('retries 5xx and 429 with backoff, gives up on other 4xx at once, counts each outcome', async () => {
    let calls = 0;
    const flaky = await sink(() => (++calls <= 2 ? (calls === 1 ? 503 : 429) : 200));
    const refusing = await sink(() => 400);
    const rs = parseRuleFile('r.yaml', RULES(`  - name: flaky\n    webhook: { url: "${flaky.url}" }\n  - name: refusing\n    webhook: { url: "${refusing.url}" }\n    max_attempts: 4`, 'flaky, refusing'), {});
    const h = harness(rs);
    await h.fireAndResolve(0, 'income');
    await h.d.drain();
    expect(flaky.received).toHaveLength(4); // firing: 503, 429, 200; resolved: 200
    expect(refusing.received).toHaveLength(2); // one attempt each
    expect(h.outcomes.sort()).toEqual(['flaky:success:1', 'flaky:success:1', 'refusing:failure:1', 'refusing:failure:1']);
    expect(h.logs.find((l) => l.event === 'receiver_failed')?.fields).toMatchObject({ receiver: 'refusing', status: 400 });
  });

  it('a hanging receiver stalls neither evaluation nor the other receivers; its resolve never overtakes its trigger', async () => {
    const stuck: (() => void)[] = [];
    const order: string[] = [];
    const slow = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        order.push(JSON.parse(Buffer.concat(chunks).toString()).status);
        stuck.push(() => res.end());
      });
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => { slow.closeAllConnections(); slow.close(() => r()); }));
    const fast = await sink(() => 200);
    const rs = parseRuleFile('r.yaml', RULES(`  - name: slow\n    webhook: { url: "http://127.0.0.1:${(slow.address() as AddressInfo).port}" }\n  - name: fast\n    webhook: { url: "${fast.url}" }`, 'slow, fast'), {});
    const h = harness(rs);
    const t0 = performance.now();
    await h.fireAndResolve(0, 'income');
    expect(performance.now() - t0).toBeLessThan(500); // evaluation did not wait for deliveries
    await new Promise((r) => setTimeout(r, 200));
    expect(fast.received.map((r) => body(r).status)).toEqual(['firing', 'resolved']);
    expect(order).toEqual(['firing']); // the resolve waits behind the trigger
    stuck.shift()!();
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual(['firing', 'resolved']);
    stuck.shift()!();
    await h.d.drain();
    expect(h.outcomes.sort()).toEqual(['fast:success:1', 'fast:success:1', 'slow:success:1', 'slow:success:1']);
  });

  it('drops the oldest waiting requests beyond the queue bound, and counts them', async () => {
    const down = await sink(() => 503);
    const rs = parseRuleFile('r.yaml', RULES(`  - name: down\n    webhook: { url: "${down.url}" }\n    max_attempts: 2`, 'down'), {});
    const h = harness(rs, { maxQueue: 2, retryMs: 20 });
    for (let i = 0; i < 5; i++) await h.fireAndResolve(i * 100_000, `f${i}`);
    await h.d.drain();
    const count = (o: string) => h.outcomes.filter((x) => x.startsWith(`down:${o}`)).length;
    expect(count('failure') + count('dropped')).toBe(10);
    expect(count('dropped')).toBeGreaterThan(0);
    expect(h.logs.some((l) => l.event === 'receiver_dropped')).toBe(true);
  });

  it('drain gives up after its deadline, so a dead receiver cannot hold a stopping collector', async () => {
    const hang = createServer(() => {});
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => { hang.closeAllConnections(); hang.close(() => r()); }));
    const rs = parseRuleFile('r.yaml', RULES(`  - name: dead\n    webhook: { url: "http://127.0.0.1:${(hang.address() as AddressInfo).port}" }`, 'dead'), {});
    const h = harness(rs);
    await h.fireAndResolve(0, 'income');
    const t0 = performance.now();
    expect(await h.d.drain(300)).toBe(2); // the firing under way, the resolve waiting
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(h.logs.some((l) => l.event === 'receivers_drain_timeout')).toBe(true);
  });

  it('a receiver whose ${VAR} is unset is off, said once in the log', async () => {
    const rs = parseRuleFile('r.yaml', RULES('  - name: oncall\n    pagerduty:\n      routing_key: ${PD_KEY}', 'oncall'), {});
    const h = harness(rs);
    await h.fireAndResolve(0, 'income');
    await h.d.drain();
    expect(h.logs.filter((l) => l.event === 'receiver_disabled')).toHaveLength(1);
    expect(h.outcomes).toEqual([]);
    expect(h.logs.map((l) => l.event)).toEqual(expect.arrayContaining(['alert_firing', 'alert_resolved']));
  });
});

describe('repeats', () => {
  it('go to Alertmanager receivers once per resend interval, never to PagerDuty, Slack or webhooks', async () => {
    const am = await sink(() => 200);
    const pd = await sink(() => 202);
    const rs = parseRuleFile('r.yaml', RULES(`  - name: am\n    alertmanager: { url: "${am.url}", resend_interval: 30s }\n  - name: pd\n    pagerduty: { routing_key: k, url: "${pd.url}" }`, 'am, pd'), {});
    const h = harness(rs);
    // Fires at 20s, repeats offered every 10s until 100s.
    for (let t = 0; t <= 100_000; t += 10_000) await h.ev.apply(h.rule, [h.sample('income', 0.5)], t);
    await h.ev.apply(h.rule, [], 110_000);
    await h.d.drain();
    const posts = am.received.map((r) => body(r) as unknown as { startsAt: string; endsAt: string }[]);
    expect(am.received.every((r) => r.url === '/api/v2/alerts')).toBe(true);
    // Sent at 20s, 50s, 80s (every 30s), then resolved at 110s.
    expect(posts.map((p) => p[0].endsAt)).toEqual([
      new Date(20_000 + 120_000).toISOString(), // endsAt = now + 4 x max(resend 30s, interval 10s)
      new Date(50_000 + 120_000).toISOString(),
      new Date(80_000 + 120_000).toISOString(),
      new Date(110_000).toISOString(),
    ]);
    expect(new Set(posts.map((p) => p[0].startsAt))).toEqual(new Set([new Date(20_000).toISOString()]));
    expect(pd.received.map((r) => body(r).event_action)).toEqual(['trigger', 'resolve']);
  });

  it('go to other receivers only when they set a repeat_interval', async () => {
    const hook = await sink(() => 200);
    const quiet = await sink(() => 200);
    const rs = parseRuleFile('r.yaml', RULES(`  - name: hook\n    webhook: { url: "${hook.url}", repeat_interval: 40s }\n  - name: quiet\n    webhook: { url: "${quiet.url}" }`, 'hook, quiet'), {});
    expect(rs.receivers.get('hook')?.repeatIntervalMs).toBe(40_000);
    const h = harness(rs);
    for (let t = 0; t <= 100_000; t += 10_000) await h.ev.apply(h.rule, [h.sample('income', 0.5)], t);
    await h.ev.apply(h.rule, [], 110_000);
    await h.d.drain();
    const seq = (s: Sink) => s.received.map((r) => { const b = body(r); return `${b.status}@${b.alerts[0].resolvedAt ?? ''}`; });
    expect(seq(hook)).toEqual(['firing@', 'firing@', 'firing@', 'resolved@1970-01-01T00:01:50.000Z']); // 20s, 60s, 100s, resolve
    expect(seq(quiet)).toEqual(['firing@', 'resolved@1970-01-01T00:01:50.000Z']);
  });
});

