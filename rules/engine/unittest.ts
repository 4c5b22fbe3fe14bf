// `driftwatch rules test FILE...`: unit tests for rule files in the spirit of `promtool test rules`.
// A test gives input series of signal values over time and asserts which alerts are pending or
// firing at which times. The rules run through the real evaluator (the same state machine as the
// collector), each group at its own interval, on a simulated clock starting at 0.
//
//   rule_files: [drift.yaml]            # relative to the test file
//   tests:
//     - name: income drifts for a while
//       interval: 15s                   # the spacing of the input values (default 1m)
//       input_series:
//         - signal: feature_drift
//           labels: { model: credit-risk, version: v1, feature: income, method: psi }
//           values: "0.05x3 0.35x8 0.05x4"   # a, a+bxn (n+1 values from a, step b), axn, _ (no value)
//       alert_rule_test:
//         - eval_time: 1m
//           alertname: FeatureDriftPSI
//           exp_alerts:                 # every active alert of that name, each pending or firing
//             - state: pending          # default firing
//               exp_labels: { model: credit-risk, ... }   # all labels but alertname
//               exp_annotations: { summary: ... }         # optional: compared when given
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { Evaluator, type Sample, type SignalSource } from './evaluator.js';
import { loadRules, modelMatches, parseYamlWith, RuleFileError, type Rule, type RuleSet } from './load.js';
import { SIGNALS } from './schema.js';

const duration = z.string().refine((s) => parseDuration(s) !== undefined, { message: 'not a duration (use e.g. 30s, 5m, 1h30m)' });

const ExpAlert = z.strictObject({
  state: z.enum(['pending', 'firing']).default('firing'),
  exp_labels: z.record(z.string(), z.string()).default({}),
  exp_annotations: z.record(z.string(), z.string()).optional(),
});

const TestFileSchema = z.strictObject({
  rule_files: z.array(z.string().min(1)).min(1),
  tests: z.array(
    z.strictObject({
      name: z.string().default(''),
      interval: duration.default('1m'),
      input_series: z.array(
        z.strictObject({
          signal: z.enum(SIGNALS),
          labels: z.record(z.string(), z.string()).default({}),
          values: z.union([z.string(), z.number()]).transform((v) => String(v)),
        }),
      ).default([]),
      alert_rule_test: z.array(
        z.strictObject({
          eval_time: duration,
          alertname: z.string().min(1),
          exp_alerts: z.array(ExpAlert).default([]),
        }),
      ).min(1),
    }),
  ).min(1),
});

/** Expands promtool's series notation: "1 2 _ 3+0.5x3 4x2 _x1" (undefined = no value). */
export function expandValues(text: string): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  for (const tok of text.trim().split(/\s+/).filter(Boolean)) {
    let m: RegExpExecArray | null;
    if (tok === '_') out.push(undefined);
    else if ((m = /^_x(\d+)$/.exec(tok))) for (let i = 0; i <= Number(m[1]); i++) out.push(undefined);
    else if ((m = /^(-?[\d.]+(?:e-?\d+)?)(?:([+-])([\d.]+(?:e-?\d+)?))?x(\d+)$/i.exec(tok))) {
      const a = Number(m[1]);
      const b = m[3] === undefined ? 0 : Number(m[3]) * (m[2] === '-' ? -1 : 1);
      // Rounded like promtool's output, so 0.1+0.1x2 is 0.1 0.2 0.3 and not 0.30000000000000004.
      for (let i = 0; i <= Number(m[4]); i++) out.push(Number((a + b * i).toPrecision(12)));
    } else if (/^-?[\d.]+(?:e-?\d+)?$/i.test(tok) && Number.isFinite(Number(tok))) out.push(Number(tok));
    else throw new Error(`"${tok}" is not a value (use 1.5, _, 1+0.5x3, 2x4 or _x2)`);
  }
  return out;
}

interface Series { signal: string; labels: Record<string, string>; values: (number | undefined)[] }

function seriesSource(series: Series[], intervalMs: number): SignalSource {
  return {
    async query(rule: Rule, now: number): Promise<Sample[]> {
      const i = Math.floor(now / intervalMs);
      return series
        .filter((s) => s.signal === rule.signal)
        .filter((s) => s.labels.model === undefined || modelMatches(rule.models, s.labels.model))
        .filter((s) => !rule.features || s.labels.feature === undefined || rule.features.includes(s.labels.feature))
        .filter((s) => rule.method === 'auto' || s.labels.method === undefined || s.labels.method === rule.method)
        .flatMap((s) => (s.values[i] === undefined ? [] : [{ labels: s.labels, value: s.values[i]! }]));
    },
  };
}

const fmtLabels = (l: Record<string, string>) => `{${Object.keys(l).sort().map((k) => `${k}="${l[k]}"`).join(', ')}}`;

function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

export interface TestFileResult { file: string; failures: string[]; tests: number; assertions: number }

/** Runs one test file; failures are human-readable lines (empty = success). */
export async function runRuleTestFile(file: string): Promise<TestFileResult> {
  const { data: spec, at } = parseYamlWith(file, readFileSync(file, 'utf8'), TestFileSchema);
  const problems: string[] = [];
  let rules: RuleSet = { groups: [], receivers: new Map(), silences: [], files: [] };
  try {
    for (const rf of spec.rule_files) {
      const rs = loadRules(resolve(dirname(file), rf));
      rules = { groups: [...rules.groups, ...rs.groups], receivers: new Map([...rules.receivers, ...rs.receivers]), silences: [...rules.silences, ...rs.silences], files: [...rules.files, ...rs.files] };
    }
  } catch (e) {
    if (e instanceof RuleFileError) throw new RuleFileError([`${at(['rule_files'])}: rule_files: cannot load:`, ...e.problems]);
    throw new RuleFileError([`${at(['rule_files'])}: rule_files: ${(e as Error).message}`]);
  }
  const ruleNames = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.alert)));
  spec.tests.forEach((t, ti) => {
    t.input_series.forEach((s, si) => {
      try {
        expandValues(s.values);
      } catch (e) {
        problems.push(`${at(['tests', ti, 'input_series', si, 'values'])}: tests[${ti}].input_series[${si}].values: ${(e as Error).message}`);
      }
    });
    t.alert_rule_test.forEach((a, ai) => {
      if (!ruleNames.has(a.alertname)) problems.push(`${at(['tests', ti, 'alert_rule_test', ai, 'alertname'])}: tests[${ti}].alert_rule_test[${ai}].alertname: no rule "${a.alertname}" in the rule files`);
    });
  });
  if (problems.length > 0) throw new RuleFileError(problems);

  const failures: string[] = [];
  let assertions = 0;
  for (const [ti, t] of spec.tests.entries()) {
    const intervalMs = parseDuration(t.interval)!;
    const series: Series[] = t.input_series.map((s) => ({ signal: s.signal, labels: s.labels, values: expandValues(s.values) }));
    const checks = t.alert_rule_test
      .map((a) => ({ ...a, atMs: parseDuration(a.eval_time)! }))
      .sort((a, b) => a.atMs - b.atMs);
    const logs: string[] = [];
    const ev = new Evaluator(rules, { source: seriesSource(series, intervalMs), notify: () => {}, log: (e, f) => logs.push(`${e} ${JSON.stringify(f)}`) });
    const name = t.name || `tests[${ti}]`;
    // Every group ticks at multiples of its interval; assertions see the state after all ticks <= eval_time.
    const step = rules.groups.reduce((g, x) => gcd(g, x.intervalMs), intervalMs);
    let now = 0;
    for (const c of checks) {
      for (; now <= c.atMs; now += step) {
        for (const g of rules.groups) if (now % g.intervalMs === 0) await ev.evaluateGroup(g, now);
      }
      assertions++;
      const got = ev.active().filter((a) => a.rule === c.alertname);
      const want = c.exp_alerts.map((e) => ({ ...e, labels: { ...e.exp_labels, alertname: c.alertname } }));
      const unmatched = [...got];
      const missing: string[] = [];
      for (const w of want) {
        const k = unmatched.findIndex((g) => g.state === w.state && sameRecord(g.labels, w.labels) && (w.exp_annotations === undefined || sameRecord(g.annotations, w.exp_annotations)));
        if (k >= 0) unmatched.splice(k, 1);
        else missing.push(`${w.state} ${fmtLabels(w.labels)}${w.exp_annotations ? ` annotations ${fmtLabels(w.exp_annotations)}` : ''}`);
      }
      if (missing.length > 0 || unmatched.length > 0) {
        failures.push(
          [
            `${name}: alertname ${c.alertname}, time ${c.eval_time}:`,
            ...missing.map((m) => `    expected, not found: ${m}`),
            ...unmatched.map((g) => `    found, not expected: ${g.state} ${fmtLabels(g.labels)} annotations ${fmtLabels(g.annotations)} (value ${g.value})`),
          ].join('\n'),
        );
      }
    }
  }
  return { file, failures, tests: spec.tests.length, assertions };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
