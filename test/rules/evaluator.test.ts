import { describe, expect, it } from 'vitest';
import { Evaluator, type Notification, type Sample } from '../../rules/engine/evaluator.js';
import { parseRuleFile } from '../../rules/engine/load.js';

function setup(extra = '') {
  const rs = parseRuleFile('r.yaml', `groups:
  - name: g
    rules:
      - alert: Drift
        signal: feature_drift
        condition: "> 0.2"
        for: 30s
${extra}        annotations:
          summary: "{{ $labels.feature }} at {{ $value }}"
`, {});
  const sent: Notification[] = [];
  const ev = new Evaluator(rs, { source: { query: async () => [] }, notify: (ns) => sent.push(...ns.filter((n) => !n.repeat)) });
  return { ev, rule: rs.groups[0].rules[0], sent };
}

const s = (feature: string, value: number): Sample => ({ labels: { feature }, value });

describe('alert state machine (Prometheus semantics)', () => {
  it('is pending until `for` has elapsed, then fires once, then resolves once', async () => {
    const { ev, rule, sent } = setup();
    await ev.apply(rule, [s('a', 0.5)], 0);
    expect(ev.active().map((a) => a.state)).toEqual(['pending']);
    await ev.apply(rule, [s('a', 0.6)], 29_999);
    expect(ev.active()[0].state).toBe('pending');
    expect(sent).toEqual([]);
    await ev.apply(rule, [s('a', 0.7)], 30_000);
    expect(ev.active()[0]).toMatchObject({ state: 'firing', value: 0.7, activeAt: 0, firedAt: 30_000, annotations: { summary: 'a at 0.7' } });
    await ev.apply(rule, [s('a', 0.8)], 45_000);
    expect(sent.map((n) => n.status)).toEqual(['firing']);
    await ev.apply(rule, [s('a', 0.1)], 60_000);
    expect(ev.active()).toEqual([]);
    expect(sent.map((n) => n.status)).toEqual(['firing', 'resolved']);
    expect(sent[1].alert.resolvedAt).toBe(60_000);
  });

  it('drops a pending alert silently when the condition clears before `for`', async () => {
    const { ev, rule, sent } = setup();
    await ev.apply(rule, [s('a', 0.5)], 0);
    await ev.apply(rule, [], 10_000);
    await ev.apply(rule, [s('a', 0.5)], 20_000);
    expect(ev.active()[0].activeAt).toBe(20_000);
    expect(sent).toEqual([]);
  });

  it('fans out one alert per label set and keeps firing for keep_firing_for', async () => {
    const { ev, rule, sent } = setup('        keep_firing_for: 1m\n');
    await ev.apply(rule, [s('a', 0.5), s('b', 0.9), s('c', 0.1)], 0);
    expect(ev.active().map((a) => a.labels.feature).sort()).toEqual(['a', 'b']);
    await ev.apply(rule, [s('a', 0.5), s('b', 0.9)], 30_000);
    expect(sent.map((n) => `${n.status}:${n.alert.labels.feature}`).sort()).toEqual(['firing:a', 'firing:b']);
    await ev.apply(rule, [s('b', 0.9)], 40_000);
    expect(ev.active().find((a) => a.labels.feature === 'a')?.state).toBe('firing');
    await ev.apply(rule, [s('b', 0.9)], 99_999);
    expect(sent).toHaveLength(2);
    await ev.apply(rule, [s('b', 0.9)], 100_000);
    expect(sent.map((n) => `${n.status}:${n.alert.labels.feature}`)).toContain('resolved:a');
    expect(ev.active().map((a) => a.labels.feature)).toEqual(['b']);
  });

  it('gives the same alert the same fingerprint everywhere', async () => {
    const one = setup();
    const two = setup();
    await one.ev.apply(one.rule, [s('a', 0.5)], 0);
    await two.ev.apply(two.rule, [s('a', 0.9)], 5_000);
    expect(one.ev.active()[0].fingerprint).toBe(two.ev.active()[0].fingerprint);
    await one.ev.apply(one.rule, [s('a', 0.5), s('b', 0.5)], 1_000);
    expect(new Set(one.ev.all().map((a) => a.fingerprint)).size).toBe(2);
  });
});
