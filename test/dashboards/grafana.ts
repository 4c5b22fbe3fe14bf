// What Grafana and the ClickHouse plugin do to a dashboard's queries before ClickHouse sees them,
// reproduced for the tests:
// 1. the frontend replaces template variables (Grafana's variable syntax: $name, ${name},
//    ${name:format}, [[name]]); the plugin's own format function (CHDatasource.format) writes a
//    multi-value as 'a','b' and a single value as it is;
// 2. the plugin backend expands its macros (pkg/macros/macros.go, matched as sqlds does:
//    `\$__name\b` followed by an optional parenthesised argument list):
//    $__timeFilter(c)   -> c >= toDateTime(from_s) AND c <= toDateTime(to_s)
//    $__timeFilter_ms(c)-> c >= fromUnixTimestamp64Milli(from_ms) AND c <= fromUnixTimestamp64Milli(to_ms)
//    $__fromTime / $__toTime         -> toDateTime(s);  $__fromTime_ms / $__toTime_ms -> fromUnixTimestamp64Milli(ms)
//    $__dateFilter(c)   -> c >= toDate('YYYY-MM-DD') AND c <= toDate('YYYY-MM-DD')
//    $__dateTimeFilter(d, t) / $__dt(d, t) -> (the date filter on d) AND (the time filter on t)
//    $__timeInterval(c) -> toStartOfInterval(toDateTime(c), INTERVAL <max(interval_s, 1)> second)
//    $__timeInterval_ms(c) -> toStartOfInterval(toDateTime64(c, 3), INTERVAL <max(interval_ms, 1)> millisecond)
//    $__interval_s      -> max(interval_s, 1)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Json = Record<string, any>;

export const DASHBOARD_DIR = new URL('../../dashboards/json/', import.meta.url).pathname;

export function loadDashboards(): { file: string; json: Json }[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) }));
}

/** Panels, with those nested in collapsed rows. */
export function panels(d: Json): Json[] {
  const out: Json[] = [];
  for (const p of d.panels ?? []) {
    out.push(p);
    for (const q of p.panels ?? []) out.push(q);
  }
  return out;
}

export const isClickHouse = (ds: Json | undefined) => ds?.type === 'grafana-clickhouse-datasource';
export const isPrometheus = (ds: Json | undefined) => ds?.type === 'prometheus';

export interface TimeRange { fromMs: number; toMs: number }
export type VarValue = string | string[];

// ---- 1. template variables (Grafana frontend) --------------------------------------------------

// Grafana's variable regex (public/app/features/variables/utils.ts).
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

const regexEscape = (s: string) => s.replace(/[\\^$*+?.()|[\]{}]/g, '\\$&');

function format(value: VarValue, fmt: string | undefined, dsDefault: (v: VarValue) => string): string {
  switch (fmt) {
    case undefined:
      return dsDefault(value);
    case 'regex':
      return Array.isArray(value) ? (value.length === 1 ? regexEscape(value[0]) : `(${value.map(regexEscape).join('|')})`) : regexEscape(value);
    case 'singlequote':
      return (Array.isArray(value) ? value : [value]).map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',');
    case 'csv':
      return (Array.isArray(value) ? value : [value]).join(',');
    case 'raw':
      return Array.isArray(value) ? value.join(',') : value;
    default:
      throw new Error(`variable format ${fmt} not reproduced by the test`);
  }
}

/** The ClickHouse plugin's format function (CHDatasource.format). */
export const clickhouseFormat = (v: VarValue) => (Array.isArray(v) ? `'${v.join("','")}'` : v);
/** The Prometheus datasource's default: a multi-value becomes a regex alternation. */
export const prometheusFormat = (v: VarValue) => (Array.isArray(v) ? format(v, 'regex', () => '') : v);

export function replaceVariables(text: string, vars: Record<string, VarValue>, dsDefault: (v: VarValue) => string): string {
  return text.replace(VARIABLE, (match, a, b, bFmt, c, _field, cFmt) => {
    const name = a ?? b ?? c;
    if (!(name in vars)) return match; // Grafana leaves unknown names (and the plugin's macros) alone
    return format(vars[name], bFmt ?? cFmt, dsDefault);
  });
}

// ---- 2. the plugin's macros (backend) ----------------------------------------------------------

function macroArgs(rest: string): { args: string[]; length: number } {
  if (!rest.startsWith('(')) return { args: [], length: 0 };
  let depth = 0;
  let arg = '';
  const args: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const ch = rest[i];
    if (ch === '(') {
      depth++;
      if (depth === 1) continue;
    } else if (ch === ')') {
      depth--;
      if (depth === 0) {
        args.push(arg.trim());
        return { args, length: i + 1 };
      }
    } else if (ch === ',' && depth === 1) {
      args.push(arg.trim());
      arg = '';
      continue;
    }
    arg += ch;
  }
  throw new Error('macro arguments: missing close bracket');
}

const date = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`;
const dateTime = (ms: number) => `toDateTime(${Math.floor(ms / 1000)})`;
const dateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${ms})`;

function dateTimeFilter(a: string[], range: TimeRange): string {
  if (a.length !== 2) throw new Error(`$__dateTimeFilter: expected 2 arguments, received ${a.length}`);
  return `(${a[0]} >= ${date(range.fromMs)} AND ${a[0]} <= ${date(range.toMs)}) AND (${a[1]} >= ${dateTime(range.fromMs)} AND ${a[1]} <= ${dateTime(range.toMs)})`;
}

function one(name: string, args: string[]): string {
  if (args.length !== 1) throw new Error(`$__${name}: expected 1 argument, received ${args.length}`);
  return args[0];
}

export function expandMacros(sql: string, range: TimeRange, intervalMs: number): string {
  const seconds = Math.max(Math.floor(intervalMs / 1000), 1);
  const macros: Record<string, (args: string[]) => string> = {
    fromTime: () => dateTime(range.fromMs),
    toTime: () => dateTime(range.toMs),
    fromTime_ms: () => dateTime64(range.fromMs),
    toTime_ms: () => dateTime64(range.toMs),
    timeFilter: (a) => `${one('timeFilter', a)} >= ${dateTime(range.fromMs)} AND ${a[0]} <= ${dateTime(range.toMs)}`,
    timeFilter_ms: (a) => `${one('timeFilter_ms', a)} >= ${dateTime64(range.fromMs)} AND ${a[0]} <= ${dateTime64(range.toMs)}`,
    dateFilter: (a) => `${one('dateFilter', a)} >= ${date(range.fromMs)} AND ${a[0]} <= ${date(range.toMs)}`,
    dateTimeFilter: (a) => dateTimeFilter(a, range),
    dt: (a) => dateTimeFilter(a, range),
    timeInterval: (a) => `toStartOfInterval(toDateTime(${one('timeInterval', a)}), INTERVAL ${seconds} second)`,
    timeInterval_ms: (a) => `toStartOfInterval(toDateTime64(${one('timeInterval_ms', a)}, 3), INTERVAL ${Math.max(intervalMs, 1)} millisecond)`,
    interval_s: () => String(seconds),
  };
  let out = sql;
  for (const [name, fn] of Object.entries(macros)) {
    const re = new RegExp(`\\$__${name}\\b`, 'g');
    let m: RegExpExecArray | null;
    while ((m = re.exec(out)) !== null) {
      const { args, length } = macroArgs(out.slice(m.index + m[0].length));
      const full = out.slice(m.index, m.index + m[0].length + length);
      const res = fn(args);
      out = out.slice(0, m.index) + res + out.slice(m.index + full.length);
      re.lastIndex = m.index + res.length;
    }
  }
  return out;
}

/** Grafana's minimum interval text ('1m', '30s') in ms. */
export function intervalMs(text: string | undefined, fallbackMs: number): number {
  if (!text) return fallbackMs;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`interval "${text}"`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.max(Number(m[1]) * unit, fallbackMs);
}

/** The columns a panel says it shows: a table's organize transformation, a stat's field. */
export function expectedColumns(panel: Json): string[] {
  const organize = (panel.transformations ?? []).find((t: Json) => t.id === 'organize');
  if (organize) return Object.keys(organize.options.indexByName ?? {});
  const fields: string | undefined = panel.options?.reduceOptions?.fields;
  const m = fields ? /^\/\^(.+)\$\/$/.exec(fields) : null;
  return m ? [m[1]] : [];
}

// ---- PromQL ------------------------------------------------------------------------------------

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** Metric names in a PromQL expression: identifiers that are not functions, keywords or label names. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // grouping label lists
    .replace(/\[[^\]]*\]/g, ''); // ranges
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = stripped.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith('(')) continue; // a function or aggregation
    if (PROMQL_WORDS.has(m[0].toLowerCase())) continue;
    if (/^\d/.test(stripped.slice(m.index! - 1, m.index))) continue; // a number's exponent or unit
    names.add(m[0]);
  }
  return [...names];
}
