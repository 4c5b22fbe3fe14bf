import { describe, expect, it } from 'vitest';
import { parseRuleFile, loadRules, RuleFileError, signalUnavailable } from '../../rules/engine/load.js';
import { LIVE_SIGNALS, SIGNALS } from '../../rules/engine/schema.js';

const GOOD = `receivers:
  - name: hook
    webhook:
      url: \${HOOK_URL}
groups:
  - name: g
    interval: 10s
    rules:
      - alert: Drift
        signal: feature_drift
        method: psi
        window: 1h
        condition: ">= 0.25"
        for: 5m
        receivers: [hook]
`;

function problems(text: string): string[] {
  try {
    parseRuleFile('r.yaml', text, {});
  } catch (e) {
    if (e instanceof RuleFileError) return e.problems;
    throw e;
  }
  return [];
}

describe('rule files', () => {
  it('loads a valid file with defaults, durations and env-expanded receivers', () => {
    const rs = parseRuleFile('r.yaml', GOOD, { HOOK_URL: 'http://x/y' });
    expect(rs.receivers.get('hook')?.webhook?.url).toBe('http://x/y');
    const r = rs.groups[0].rules[0];
    expect(rs.groups[0].intervalMs).toBe(10_000);
    expect(r).toMatchObject({ alert: 'Drift', models: ['*'], windowMs: 3_600_000, forMs: 300_000, keepFiringForMs: 0, severity: 'warning', condition: { op: '>=', value: 0.25 } });
  });

  it('names file, line, column and reason for each problem', () => {
    expect(problems(GOOD.replace('for: 5m', 'for: five minutes'))).toEqual(['r.yaml:14:14: groups[0].rules[0].for: not a duration (use e.g. 30s, 5m, 1h30m)']);
    expect(problems(GOOD.replace('method: psi', 'methd: psi'))).toEqual(['r.yaml:11:9: groups[0].rules[0].methd: Unrecognized key: "methd"']);
    expect(problems(GOOD.replace('">= 0.25"', 'big'))).toEqual(['r.yaml:13:20: groups[0].rules[0].condition: a condition is an operator and a number, e.g. "> 0.2"']);
    expect(problems(GOOD.replace('[hook]', '[nobody]'))).toEqual(['r.yaml:15:21: groups[0].rules[0].receivers[0]: unknown receiver "nobody"']);
    expect(problems('groups:\n  - name: g\n    rules: [\n')[0]).toMatch(/^r\.yaml:\d+:\d+: /);
  });

  it('reports every bad file of a directory together', () => {
    expect(() => loadRules('/nonexistent/rules')).toThrow();
    try {
      loadRules(new URL('../../rules/examples', import.meta.url).pathname);
    } catch (e) {
      throw new Error(`the shipped examples must load: ${(e as Error).message}`);
    }
  });
});

describe('signals, receivers and silences in rule files', () => {
  const rule = (signal: string, extra = '') => `groups:
  - name: g
    rules:
      - alert: A
        signal: ${signal}
        condition: "> 1"
${extra}`;

  it('accepts every signal the collector computes, and would refuse one it does not', () => {
    expect([...LIVE_SIGNALS].sort()).toEqual([...SIGNALS].sort());
    const params: Record<string, string> = { data_quality: 'check: missing_share', metric: 'metric: f1', metric_drop: 'metric: rmse', estimated_metric: 'metric: roc_auc', latency_percentile: 'percentile: 99.9' };
    for (const s of SIGNALS) expect(problems(rule(s, params[s] ? `        ${params[s]}\n` : '')), s).toEqual([]);
    // The language can name signals ahead of the collector: such a rule is refused at load time.
    expect(signalUnavailable('latency_percentile', ['feature_drift', 'volume'])).toBe(
      'latency_percentile is not available yet: the collector does not compute it in this version (available: feature_drift, volume)',
    );
    expect(signalUnavailable('volume', ['feature_drift', 'volume'])).toBeUndefined();
  });

  it('checks each signal\'s parameters', () => {
    expect(problems(rule('volume', '        method: psi\n'))).toEqual(['r.yaml:7:17: groups[0].rules[0].method: "method" does not apply to signal volume (it takes: lookback)']);
    expect(problems(rule('latency_percentile'))).toEqual(['r.yaml:5:17: groups[0].rules[0].signal: signal latency_percentile needs "percentile"']);
    expect(problems(rule('metric_drop', '        metric: auc\n'))[0]).toMatch(/^r\.yaml:7:17: groups\[0\]\.rules\[0\]\.metric: /);
    expect(problems(rule('prediction_drift', '        outputs: [score, logits]\n'))[0]).toMatch(/^r\.yaml:7:\d+: groups\[0\]\.rules\[0\]\.outputs\[1\]: /);
    const rs = parseRuleFile('r.yaml', rule('volume', '        lookback: 2h\n'), {});
    expect(rs.groups[0].rules[0]).toMatchObject({ lookbackMs: 7_200_000, intervalMs: 30_000, method: 'auto' });
  });

  it('loads every receiver kind with environment expansion, and requires exactly one kind', () => {
    const text = `receivers:
  - name: am
    alertmanager: { url: "http://am:9093" }
  - name: pd
    pagerduty: { routing_key: "\${PD_KEY}" }
    max_attempts: 3
  - name: slack
    slack: { webhook_url: "\${SLACK}" }
  - name: hook
    webhook: { url: "http://x", hmac_secret: "\${SECRET}" }
`;
    const rs = parseRuleFile('r.yaml', text, { PD_KEY: 'k123', SLACK: 'https://hooks.slack.com/services/T/B/X' });
    expect(rs.receivers.get('am')).toMatchObject({ kind: 'alertmanager', maxAttempts: 5, alertmanager: { url: 'http://am:9093', resendIntervalMs: 60_000 } });
    expect(rs.receivers.get('pd')).toMatchObject({ kind: 'pagerduty', maxAttempts: 3, pagerduty: { routingKey: 'k123', url: 'https://events.pagerduty.com/v2/enqueue', client: 'Driftwatch' } });
    expect(rs.receivers.get('slack')?.slack?.webhookUrl).toBe('https://hooks.slack.com/services/T/B/X');
    // An unset secret means no signature rather than signing with an empty key.
    expect(rs.receivers.get('hook')?.webhook?.hmacSecret).toBeUndefined();
    expect(problems('receivers:\n  - name: two\n    slack: { webhook_url: a }\n    webhook: { url: b }\n')).toEqual([
      'r.yaml:3:12: receivers[0].slack: a receiver has exactly one of webhook, alertmanager, pagerduty, slack (found webhook and slack)',
    ]);
    expect(problems('receivers:\n  - name: none\n')[0]).toMatch(/^r\.yaml:2:\d+: receivers\[0\]\.name: a receiver has exactly one of/);
  });

  it('loads silences with matchers and reports bad ones where they are', () => {
    const text = `silences:
  - matchers: ['model="credit-risk"', 'feature=~"inc.*"']
    starts_at: 2026-11-24T22:00:00Z
    ends_at: 2026-11-25T02:00:00Z
    comment: retraining
`;
    const rs = parseRuleFile('r.yaml', text, {});
    expect(rs.silences).toEqual([{
      id: 'r.yaml#0',
      matchers: [{ name: 'model', value: 'credit-risk', isRegex: false, isEqual: true }, { name: 'feature', value: 'inc.*', isRegex: true, isEqual: true }],
      startsAt: Date.parse('2026-11-24T22:00:00Z'),
      endsAt: Date.parse('2026-11-25T02:00:00Z'),
      comment: 'retraining',
      createdBy: 'file',
      source: 'file',
    }]);
    expect(problems(text.replace('feature=~"inc.*"', 'feature=~"(unclosed"'))[0]).toMatch(/^r\.yaml:2:\d+: silences\[0\]\.matchers\[1\]: matcher feature: bad regex/);
    expect(problems(text.replace('2026-11-25T02:00:00Z', '2026-11-24T21:00:00Z'))).toEqual(['r.yaml:4:14: silences[0].ends_at: ends_at must be after starts_at']);
    // A silence that would cover every alert is refused, like Alertmanager does.
    expect(problems(text.replace(`['model="credit-risk"', 'feature=~"inc.*"']`, `['model=~".*"', 'team!="x"']`))).toEqual([
      'r.yaml:2:15: silences[0].matchers: at least one matcher must not match the empty string (a silence cannot cover every alert)',
    ]);
  });
});

describe('alert names', () => {
  it('are unique across groups and files (alert state is keyed by name)', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const group = (g: string) => `  - name: ${g}\n    rules:\n      - alert: Same\n        signal: volume\n        condition: "< 1"\n`;
    expect(problems(`groups:\n${group('a')}${group('b')}`)).toEqual(['r.yaml:9:16: groups[1].rules[0].alert: duplicate alert name "Same" (also in group "a"); alert names are unique']);
    const dir = mkdtempSync(join(tmpdir(), 'rules-dup-'));
    writeFileSync(join(dir, 'one.yaml'), `groups:\n${group('a')}`);
    writeFileSync(join(dir, 'two.yaml'), `groups:\n${group('b')}`);
    expect(() => loadRules(dir)).toThrow(`${dir}/two.yaml:4:16: alert: duplicate alert name "Same" (also at ${dir}/one.yaml:4:16); alert names are unique across rule files`);
  });
});
