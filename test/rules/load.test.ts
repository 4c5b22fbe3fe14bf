import { describe, expect, it } from 'vitest';
import { parseRuleFile, loadRules, RuleFileError } from '../../rules/engine/load.js';

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
