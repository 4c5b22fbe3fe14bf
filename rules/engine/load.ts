// Loading rule files: YAML with positions, schema validation, cross-checks. Every error names the
// file, line, column and reason, e.g. "rules/x.yaml:12:9: groups[0].rules[1].for: not a duration".
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { CONDITION_RE, LIVE_SIGNALS, RuleFileSchema, type ReceiverSpec, type RuleSpec, type Signal } from './schema.js';
import { parseDuration } from './duration.js';
import { checkMatchers, parseMatcher, type Silence } from './silence.js';

export class RuleFileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export interface Condition { op: '>' | '>=' | '<' | '<=' | '==' | '!='; value: number }

export interface Rule extends Omit<RuleSpec, 'window' | 'for' | 'keep_firing_for' | 'condition' | 'lookback' | 'method'> {
  group: string;
  file: string;
  /** "file:line:col" of the rule's `alert`, for messages. */
  source: string;
  /** The group's evaluation interval. */
  intervalMs: number;
  windowMs: number;
  forMs: number;
  keepFiringForMs: number;
  /** volume, no_data: how far back a model version counts as known. */
  lookbackMs: number;
  /** Drift signals: the method (default auto). */
  method: NonNullable<RuleSpec['method']>;
  condition: Condition;
  conditionText: string;
}

export interface Group { name: string; file: string; intervalMs: number; rules: Rule[] }

export type ReceiverKind = 'webhook' | 'alertmanager' | 'pagerduty' | 'slack';

export interface Receiver {
  name: string;
  kind: ReceiverKind;
  maxAttempts: number;
  /** Re-send still-firing alerts this often (Alertmanager: its resend_interval; others: optional). */
  repeatIntervalMs?: number;
  webhook?: { url: string; headers: Record<string, string>; hmacSecret?: string };
  alertmanager?: { url: string; headers: Record<string, string>; resendIntervalMs: number };
  pagerduty?: { routingKey: string; url: string; source?: string; client: string; clientUrl?: string };
  slack?: { webhookUrl: string };
}

export interface RuleSet { groups: Group[]; receivers: Map<string, Receiver>; silences: Silence[]; files: string[] }

export function ruleFiles(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => ['.yaml', '.yml'].includes(extname(f)) && !f.endsWith('.test.yaml') && !f.endsWith('.test.yml'))
    .sort()
    .map((f) => join(path, f));
}

function position(doc: Document, lc: LineCounter, path: (string | number)[], atKey = false): string {
  if (atKey && path.length > 0) {
    // An unknown key: point at the key itself, not at its value.
    const parent = doc.getIn(path.slice(0, -1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === path[path.length - 1]);
      if (pair && isNode(pair.key) && pair.key.range) {
        const p = lc.linePos(pair.key.range[0]);
        return `${p.line}:${p.col}`;
      }
    }
  }
  // The deepest node that exists along the path carries the position.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const p = lc.linePos(node.range[0]);
      return `${p.line}:${p.col}`;
    }
  }
  return '1:1';
}

function fmtPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/** ${VAR} in receiver settings comes from the environment, so secrets stay out of rule files. */
function expandEnv(s: string, env: NodeJS.ProcessEnv): string {
  return s.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, k: string) => env[k] ?? '');
}

/**
 * Why a rule on this signal cannot be loaded, if it cannot: a signal of the language that the
 * collector does not compute (yet) is refused, rather than accepted and never firing.
 */
export function signalUnavailable(signal: Signal, live: readonly Signal[] = LIVE_SIGNALS): string | undefined {
  if (live.includes(signal)) return undefined;
  return `${signal} is not available yet: the collector does not compute it in this version (available: ${live.join(', ')})`;
}

function buildReceiver(r: ReceiverSpec, env: NodeJS.ProcessEnv): Receiver {
  const x = (v: string) => expandEnv(v, env);
  const hdrs = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, x(v)]));
  const base = { name: r.name, maxAttempts: r.max_attempts };
  const repeat = (d: string | undefined) => (d === undefined ? {} : { repeatIntervalMs: parseDuration(d)! });
  if (r.alertmanager) {
    return { ...base, kind: 'alertmanager', repeatIntervalMs: parseDuration(r.alertmanager.resend_interval)!, alertmanager: { url: x(r.alertmanager.url), headers: hdrs(r.alertmanager.headers), resendIntervalMs: parseDuration(r.alertmanager.resend_interval)! } };
  }
  if (r.pagerduty) {
    const p = r.pagerduty;
    return {
      ...base,
      ...repeat(p.repeat_interval),
      kind: 'pagerduty',
      pagerduty: { routingKey: x(p.routing_key), url: x(p.url), source: p.source === undefined ? undefined : x(p.source), client: p.client, clientUrl: p.client_url === undefined ? undefined : x(p.client_url) },
    };
  }
  if (r.slack) return { ...base, ...repeat(r.slack.repeat_interval), kind: 'slack', slack: { webhookUrl: x(r.slack.webhook_url) } };
  const w = r.webhook!;
  const secret = w.hmac_secret === undefined ? undefined : x(w.hmac_secret);
  return { ...base, ...repeat(w.repeat_interval), kind: 'webhook', webhook: { url: x(w.url), headers: hdrs(w.headers), hmacSecret: secret || undefined } };
}

/**
 * Parses YAML and validates it against a schema; every problem is reported as
 * "file:line:col: path: reason". `at(path)` gives the position of any path for later checks.
 */
export function parseYamlWith<S extends z.ZodType>(file: string, text: string, schema: S): { data: z.output<S>; at: (path: (string | number)[]) => string } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new RuleFileError(
      doc.errors.map((e) => {
        const p = e.linePos?.[0];
        return `${file}:${p ? `${p.line}:${p.col}` : '1:1'}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS() ?? {};
  } catch (e) {
    // e.g. an alias to an anchor that was never set
    throw new RuleFileError([`${file}:1:1: ${(e as Error).message.split('\n')[0]}`]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new RuleFileError(
      parsed.error.issues.map((i) => {
        // For an unknown key, point at the key itself.
        const keys = i.code === 'unrecognized_keys' ? i.keys : [];
        const path = keys.length > 0 ? [...i.path, keys[0]] : i.path;
        return `${file}:${position(doc, lc, path as (string | number)[], keys.length > 0)}: ${fmtPath(path) || '(top level)'}: ${i.message}`;
      }),
    );
  }
  return { data: parsed.data, at: (path) => `${file}:${position(doc, lc, path)}` };
}

export function parseRuleFile(file: string, text: string, env: NodeJS.ProcessEnv = process.env): RuleSet {
  const { data: spec, at: pos } = parseYamlWith(file, text, RuleFileSchema);
  const problems: string[] = [];
  const receivers = new Map<string, Receiver>();
  spec.receivers.forEach((r: ReceiverSpec, i) => {
    if (receivers.has(r.name)) problems.push(`${pos(['receivers', i, 'name'])}: receivers[${i}].name: duplicate receiver "${r.name}"`);
    receivers.set(r.name, buildReceiver(r, env));
  });
  const silences: Silence[] = [];
  spec.silences.forEach((sl, i) => {
    const matchers = sl.matchers.flatMap((text, k) => {
      try {
        return [parseMatcher(text)];
      } catch (e) {
        problems.push(`${pos(['silences', i, 'matchers', k])}: silences[${i}].matchers[${k}]: ${(e as Error).message}`);
        return [];
      }
    });
    if (matchers.length === sl.matchers.length) {
      try {
        checkMatchers(matchers);
      } catch (e) {
        problems.push(`${pos(['silences', i, 'matchers'])}: silences[${i}].matchers: ${(e as Error).message}`);
      }
    }
    silences.push({
      id: `${basename(file)}#${i}`,
      matchers,
      startsAt: Date.parse(sl.starts_at),
      endsAt: Date.parse(sl.ends_at),
      comment: sl.comment,
      createdBy: sl.created_by,
      source: 'file',
    });
  });
  const seen = new Map<string, string>();
  const groups: Group[] = spec.groups.map((g, gi) => {
    return {
      name: g.name,
      file,
      intervalMs: parseDuration(g.interval)!,
      rules: g.rules.map((r, ri) => {
        const at = (...p: (string | number)[]) => pos(['groups', gi, 'rules', ri, ...p]);
        const first = seen.get(r.alert);
        if (first !== undefined) problems.push(`${at('alert')}: groups[${gi}].rules[${ri}].alert: duplicate alert name "${r.alert}" (also in group "${first}"); alert names are unique`);
        else seen.set(r.alert, g.name);
        r.receivers.forEach((name, k) => {
          if (!receivers.has(name)) problems.push(`${at('receivers', k)}: groups[${gi}].rules[${ri}].receivers[${k}]: unknown receiver "${name}"`);
        });
        const unavailable = signalUnavailable(r.signal);
        if (unavailable) problems.push(`${at('signal')}: groups[${gi}].rules[${ri}].signal: ${unavailable}`);
        const m = CONDITION_RE.exec(r.condition)!;
        const { lookback, method, ...rest } = r;
        return {
          ...rest,
          group: g.name,
          file,
          source: at('alert'),
          intervalMs: parseDuration(g.interval)!,
          lookbackMs: parseDuration(lookback ?? '24h')!,
          method: method ?? 'auto',
          windowMs: parseDuration(r.window)!,
          forMs: parseDuration(r.for)!,
          keepFiringForMs: parseDuration(r.keep_firing_for)!,
          condition: { op: m[1] as Condition['op'], value: Number(m[2]) },
          conditionText: r.condition.trim(),
        };
      }),
    };
  });
  if (problems.length > 0) throw new RuleFileError(problems);
  return { groups, receivers, silences, files: [file] };
}

/** Loads one file or every *.yaml/*.yml in a directory; all problems of all files are reported together. */
export function loadRules(path: string, env: NodeJS.ProcessEnv = process.env): RuleSet {
  const out: RuleSet = { groups: [], receivers: new Map(), silences: [], files: [] };
  const problems: string[] = [];
  for (const file of ruleFiles(path)) {
    try {
      const rs = parseRuleFile(file, readFileSync(file, 'utf8'), env);
      out.groups.push(...rs.groups);
      for (const [k, v] of rs.receivers) out.receivers.set(k, v);
      out.silences.push(...rs.silences);
      out.files.push(file);
    } catch (e) {
      if (e instanceof RuleFileError) problems.push(...e.problems);
      else problems.push(`${file}:1:1: ${(e as Error).message}`);
    }
  }
  // Alert state is keyed by alert name: a name defined twice would make the rules resolve each
  // other's alerts.
  const where = new Map<string, string>();
  for (const g of out.groups) {
    for (const r of g.rules) {
      const first = where.get(r.alert);
      if (first) problems.push(`${r.source}: alert: duplicate alert name "${r.alert}" (also at ${first}); alert names are unique across rule files`);
      else where.set(r.alert, r.source);
    }
  }
  if (problems.length > 0) throw new RuleFileError(problems);
  return out;
}

/**
 * Model patterns: exact names, or globs with * (e.g. "fraud-*"). `*` matches any characters,
 * line breaks included (the `s` flag): a name is data, whatever it contains.
 */
export function modelMatches(patterns: string[], model: string): boolean {
  return patterns.some((p) => {
    if (!p.includes('*')) return p === model;
    const re = new RegExp('^' + p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 's');
    return re.test(model);
  });
}

export function compare(c: Condition, v: number): boolean {
  switch (c.op) {
    case '>': return v > c.value;
    case '>=': return v >= c.value;
    case '<': return v < c.value;
    case '<=': return v <= c.value;
    case '==': return v === c.value;
    case '!=': return v !== c.value;
  }
}
