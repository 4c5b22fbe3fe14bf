// `driftwatch rules test`: the shipped example tests pass, failures say what differed, and the
// committed JSON Schema is the one generated from the zod definitions.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RuleFileError } from '../../rules/engine/load.js';
import { ruleFileJsonSchema } from '../../rules/engine/schema.js';
import { expandValues, runRuleTestFile } from '../../rules/engine/unittest.js';
import { runRulesCli } from '../../rules/cli.js';

const examples = new URL('../../rules/examples/', import.meta.url).pathname;

describe('rules test (promtool style)', () => {
  it('expands series notation like promtool', () => {
    expect(expandValues('1 _ 2+0.5x3 4x2 _x1 -1-1x2 0.1+0.1x2')).toEqual([1, undefined, 2, 2.5, 3, 3.5, 4, 4, 4, undefined, undefined, -1, -2, -3, 0.1, 0.2, 0.3]);
    expect(() => expandValues('1 two')).toThrow('"two" is not a value');
  });

  it('passes the shipped tests of every example rule file', async () => {
    const files = readdirSync(examples).filter((f) => f.endsWith('.test.yaml'));
    expect(files.sort()).toEqual(['drift.test.yaml', 'performance.test.yaml', 'traffic.test.yaml']);
    let assertions = 0;
    for (const f of files) {
      const r = await runRuleTestFile(join(examples, f));
      expect(r.failures, f).toEqual([]);
      assertions += r.assertions;
    }
    expect(assertions).toBeGreaterThanOrEqual(18);
    // Every example rule is exercised by some test.
    const tested = files.flatMap((f) => [...readFileSync(join(examples, f), 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    const rules = readdirSync(examples).filter((f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml'))
      .flatMap((f) => [...readFileSync(join(examples, f), 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]));
    expect(new Set(tested)).toEqual(new Set(rules));
  });

  it('reports which alert differed, when, and what was found', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-test-'));
    copyFileSync(join(examples, 'drift.yaml'), join(dir, 'drift.yaml'));
    const text = readFileSync(join(examples, 'drift.test.yaml'), 'utf8').replace('      - eval_time: 1m15s\n        alertname: FeatureDriftPSI\n        exp_alerts:\n          - state: pending', '      - eval_time: 1m15s\n        alertname: FeatureDriftPSI\n        exp_alerts:\n          - state: firing');
    writeFileSync(join(dir, 'drift.test.yaml'), text);
    const r = await runRuleTestFile(join(dir, 'drift.test.yaml'));
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toContain('one feature drifts for two minutes: alertname FeatureDriftPSI, time 1m15s:');
    expect(r.failures[0]).toContain('expected, not found: firing {alertname="FeatureDriftPSI", feature="income"');
    expect(r.failures[0]).toContain('found, not expected: pending {alertname="FeatureDriftPSI", feature="income"');

    writeFileSync(join(dir, 'bad.test.yaml'), 'rule_files: [drift.yaml]\ntests:\n  - input_series: []\n    alert_rule_test:\n      - eval_time: 1m\n        alertname: Nope\n');
    await expect(runRuleTestFile(join(dir, 'bad.test.yaml'))).rejects.toThrow(RuleFileError);
    await expect(runRuleTestFile(join(dir, 'bad.test.yaml'))).rejects.toThrow(`${dir}/bad.test.yaml:6:20: tests[0].alert_rule_test[0].alertname: no rule "Nope" in the rule files`);

    // The CLI: exit 0 when all pass, 1 otherwise.
    expect(await runRulesCli(['test', join(examples, 'drift.test.yaml'), join(examples, 'traffic.test.yaml')])).toBe(0);
    expect(await runRulesCli(['test', join(dir, 'drift.test.yaml')])).toBe(1);
    expect(await runRulesCli(['check', examples])).toBe(0);
  });
});

describe('JSON Schema of rule files', () => {
  it('is committed and current (regenerate: driftwatch rules schema > rules/rule-file.schema.json)', () => {
    const committed = readFileSync(new URL('../../rules/rule-file.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(JSON.stringify(ruleFileJsonSchema(), null, 2) + '\n');
    const s = ruleFileJsonSchema() as { properties: Record<string, unknown>; additionalProperties: boolean };
    expect(Object.keys(s.properties).sort()).toEqual(['groups', 'receivers', 'silences']);
    expect(s.additionalProperties).toBe(false);
    expect(committed).toContain('"latency_percentile"');
  });
});
