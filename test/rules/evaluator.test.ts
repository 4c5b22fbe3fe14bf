import { describe, expect, it } from 'vitest';
import { Evaluator, type Notification, type Sample } from '../../rules/engine/evaluator.js';
import { parseRuleFile } from '../../rules/engine/load.js';
import type { Alert } from '../../rules/engine/alert.js';

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

describe('silences and repeats in the state machine', () => {
  function setupWith(silenced: (labels: Record<string, string>, now: number) => { id: string } | undefined) {
    const rs = parseRuleFile('r.yaml', `groups:
  - name: g
    interval: 10s
    rules:
      - alert: Drift
        signal: feature_drift
        condition: "> 0.2"
        for: 20s
`, {});
    const sent: Notification[] = [];
    const logs: string[] = [];
    const ev = new Evaluator(rs, { source: { query: async () => [] }, notify: (ns) => sent.push(...ns), silenced, log: (e) => logs.push(e) });
    return { ev, rule: rs.groups[0].rules[0], sent, logs, first: () => sent.filter((n) => !n.repeat).map((n) => `${n.status}@${n.at}`) };
  }

  it('keeps a silenced alert\'s state, notifies its firing when the silence ends, and its resolve once', async () => {
    let silencedUntil = 45_000;
    const { ev, rule, sent, logs, first } = setupWith((_l, now) => (now < silencedUntil ? { id: 's1' } : undefined));
    for (let t = 0; t <= 30_000; t += 10_000) await ev.apply(rule, [s('a', 0.5)], t);
    expect(ev.active()[0]).toMatchObject({ state: 'firing', firedAt: 20_000, notified: false, silencedBy: 's1' });
    expect(sent).toEqual([]);
    expect(logs).toContain('alert_silenced');
    await ev.apply(rule, [s('a', 0.5)], 40_000);
    expect(sent).toEqual([]);
    await ev.apply(rule, [s('a', 0.5)], 50_000); // the silence ended at 45s
    expect(first()).toEqual(['firing@50000']);
    expect(sent[0].alert.firedAt).toBe(20_000); // the alert's own times are unchanged
    await ev.apply(rule, [s('a', 0.5)], 60_000);
    expect(sent.filter((n) => n.repeat).map((n) => n.at)).toEqual([60_000]);
    silencedUntil = Infinity; // silenced again: no repeats, but the resolve of a notified firing goes out
    await ev.apply(rule, [s('a', 0.5)], 70_000);
    expect(sent.filter((n) => n.repeat).map((n) => n.at)).toEqual([60_000]);
    await ev.apply(rule, [], 80_000);
    await ev.apply(rule, [], 90_000);
    expect(first()).toEqual(['firing@50000', 'resolved@80000']);
  });

  it('never notifies an alert that fired and resolved inside a silence', async () => {
    const { ev, rule, sent, logs } = setupWith(() => ({ id: 'maintenance' }));
    for (let t = 0; t <= 60_000; t += 10_000) await ev.apply(rule, [s('a', 0.5)], t);
    expect(ev.active()[0].state).toBe('firing');
    await ev.apply(rule, [], 70_000);
    expect(ev.active()).toEqual([]);
    expect(sent).toEqual([]);
    expect(logs).toContain('alert_resolved_unnotified');
  });

  it('offers a repeat of each firing alert at every evaluation, with the group interval', async () => {
    const { ev, rule, sent } = setupWith(() => undefined);
    for (let t = 0; t <= 50_000; t += 10_000) await ev.apply(rule, [s('a', 0.5)], t);
    expect(sent.map((n) => `${n.status}${n.repeat ? ' repeat' : ''}@${n.at}/${n.intervalMs}`)).toEqual([
      'firing@20000/10000', 'firing repeat@30000/10000', 'firing repeat@40000/10000', 'firing repeat@50000/10000',
    ]);
  });
});

describe('restore and scheduling', () => {
  it('resolves (once, notified) a restored firing alert whose rule was removed, and forgets its pending ones', async () => {
    const { ev: first, rule } = setup();
    await first.apply(rule, [s('a', 0.5)], 0);
    await first.apply(rule, [s('a', 0.5)], 30_000);
    const saved: Alert[] = [];
    const store = {
      load: async () => [{ ...first.all()[0], notified: true }, { ...first.all()[0], fingerprint: 'p', state: 'pending' as const }],
      save: async (as: Alert[]) => void saved.push(...as.map((a) => ({ ...a }))),
    };
    const other = parseRuleFile('r.yaml', 'groups:\n  - name: g\n    rules:\n      - alert: Other\n        signal: volume\n        condition: "< 1"\n', {});
    const sent: Notification[] = [];
    const logs: string[] = [];
    const ev = new Evaluator(other, { source: { query: async () => [] }, notify: (ns) => sent.push(...ns), store, log: (e) => logs.push(e) });
    await ev.restore(99_000);
    expect(ev.all()).toEqual([]);
    expect(sent.map((n) => `${n.status}:${n.alert.rule}@${n.alert.resolvedAt}`)).toEqual(['resolved:Drift@99000']);
    expect(saved.map((a) => a.state)).toEqual(['inactive', 'inactive']);
    expect(logs.filter((l) => l === 'alert_rule_removed')).toHaveLength(2);
  });

  it('skips an evaluation while the previous one of the group still runs', async () => {
    const rs = parseRuleFile('r.yaml', 'groups:\n  - name: g\n    interval: 20ms\n    rules:\n      - alert: Slow\n        signal: volume\n        condition: "< 1"\n', {});
    let concurrent = 0;
    let maxConcurrent = 0;
    let calls = 0;
    const logs: string[] = [];
    const ev = new Evaluator(rs, {
      source: {
        async query() {
          calls++;
          maxConcurrent = Math.max(maxConcurrent, ++concurrent);
          await new Promise((r) => setTimeout(r, 70));
          concurrent--;
          return [];
        },
      },
      notify: () => {},
      log: (e) => logs.push(e),
    });
    ev.start();
    await new Promise((r) => setTimeout(r, 300));
    await ev.stop();
    expect(maxConcurrent).toBe(1);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(logs).toContain('group_evaluation_skipped');
  });
});
