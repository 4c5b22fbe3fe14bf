// Loads test/fixtures/drift/golden.json (written by gen.py from numpy/scipy) into the embedded
// engine, and compares reports with the tolerance of the golden tests.
import type { ClickHouseClient } from '@clickhouse/client';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { DriftOptions } from '../../collector/drift/engine.js';
import type { DriftReport } from '../../collector/drift/report.js';

type NumValue = number | 'nan' | 'inf' | '-inf';
interface SynthSpec { n: number; offset: number; p: number; a: number[]; c: number[]; scale: number; shift: number; k: number | null; nan_every: number | null }
export interface GoldenRun { options: Pick<DriftOptions, 'method' | 'thresholds' | 'driftShare' | 'pValueCorrection' | 'quality'>; expected: DriftReport }
export interface GoldenCase {
  name: string;
  description: string;
  numeric: Record<string, { ref: NumValue[]; cur: NumValue[] }>;
  categorical: Record<string, { ref: (string | null)[]; cur: (string | null)[] }>;
  synthetic: Record<string, { ref: SynthSpec; cur: SynthSpec; samples: [number, NumValue][][] }>;
  runs: GoldenRun[];
}
export interface Golden {
  cases: GoldenCase[];
  kolmogorov: [number, number][];
  chi2_sf: [number, number, number][];
  binned: { ref: number[]; cur: number[]; expected: Record<string, [number, number | null]> }[];
}

export const golden: Golden = JSON.parse(readFileSync(new URL('../fixtures/drift/golden.json', import.meta.url), 'utf8'));

/** Relative tolerance of every golden comparison. */
export const REL = 1e-6;

export function expectClose(actual: number | null, expected: number | null, what: string): void {
  if (expected === null) {
    expect(actual, what).toBeNull();
    return;
  }
  expect(actual, what).not.toBeNull();
  const a = actual as number;
  expect(Number.isFinite(a), `${what}: ${a} is not finite`).toBe(true);
  // 1e-300 lets two p-values that underflow differently (denormals) agree; it never hides a statistic.
  const ok = Math.abs(a - expected) <= REL * Math.abs(expected) + 1e-300;
  expect(ok, `${what}: got ${a}, scipy ${expected} (relative difference ${Math.abs(a - expected) / Math.abs(expected)})`).toBe(true);
}

export function expectReport(actual: DriftReport, expected: DriftReport, label: string): void {
  const { columns: ac, ...aTop } = actual;
  const { columns: ec, ...eTop } = expected;
  expect(aTop, `${label}: report totals`).toEqual(eTop);
  expect(ac.map((c) => c.column), `${label}: columns`).toEqual(ec.map((c) => c.column));
  ec.forEach((e, i) => {
    const a = ac[i];
    const where = `${label}: ${e.column} (${e.method})`;
    const { statistic: as, p_value: ap, p_value_adjusted: aAdj, ...aRest } = a;
    const { statistic: es, p_value: ep, p_value_adjusted: eAdj, ...eRest } = e;
    // Everything but the three floats exactly: names, methods, thresholds, verdicts, counts, quality.
    expect(aRest, where).toEqual(eRest);
    expectClose(as, es, `${where} statistic`);
    expectClose(ap, ep, `${where} p_value`);
    expect('p_value_adjusted' in a, `${where}: p_value_adjusted present`).toBe('p_value_adjusted' in e);
    if (eAdj !== undefined) expectClose(aAdj ?? null, eAdj, `${where} p_value_adjusted`);
  });
}

const numText = (v: NumValue): string => (typeof v === 'number' ? (Object.is(v, -0) ? '-0' : String(v)) : v);

export const parseNum = (v: NumValue): number => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v);

/** gen.py's synth_values as a ClickHouse expression of `number` (the row index). */
export function synthExpr(s: SynthSpec): string {
  const u = s.a.map((a, j) => `((toUInt64(${a}) * (number + ${s.offset}) + ${s.c[j]}) % ${s.p}) / ${s.p}`);
  let x = `((${u[0]} + ${u[1]}) + ${u[2]} - 1.5) * toFloat64('${s.scale}') + toFloat64('${s.shift}')`;
  if (s.k) x = `floor((${x}) * ${s.k}) / ${s.k}`;
  if (s.nan_every) x = `if(number % ${s.nan_every} = 0, nan, ${x})`;
  return x;
}

function synthSql(dataset: string, side: number, column: string, s: SynthSpec): string {
  return `INSERT INTO golden_num SELECT '${dataset}', ${side}, '${column}', ${synthExpr(s)} FROM numbers(${s.n})`;
}

/** Creates golden_num (dataset, side, column, value Float64) and golden_cat (..., value Nullable(String)). */
export async function loadGolden(client: ClickHouseClient, cases: GoldenCase[] = golden.cases): Promise<void> {
  await client.command({ query: 'CREATE TABLE golden_stage (dataset String, side UInt8, column String, raw String) ENGINE = Memory' });
  await client.command({ query: 'CREATE TABLE golden_num (dataset String, side UInt8, column String, value Float64) ENGINE = MergeTree ORDER BY (dataset, column)' });
  await client.command({ query: 'CREATE TABLE golden_cat (dataset String, side UInt8, column String, value Nullable(String)) ENGINE = MergeTree ORDER BY (dataset, column)' });
  for (const c of cases) {
    const num = Object.entries(c.numeric).flatMap(([column, { ref, cur }]) => [
      ...ref.map((v) => ({ dataset: c.name, side: 0, column, raw: numText(v) })),
      ...cur.map((v) => ({ dataset: c.name, side: 1, column, raw: numText(v) })),
    ]);
    if (num.length) await client.insert({ table: 'golden_stage', values: num, format: 'JSONEachRow' });
    const cat = Object.entries(c.categorical).flatMap(([column, { ref, cur }]) => [
      ...ref.map((value) => ({ dataset: c.name, side: 0, column, value })),
      ...cur.map((value) => ({ dataset: c.name, side: 1, column, value })),
    ]);
    if (cat.length) await client.insert({ table: 'golden_cat', values: cat, format: 'JSONEachRow' });
    for (const [column, s] of Object.entries(c.synthetic)) {
      await client.command({ query: synthSql(c.name, 0, column, s.ref) });
      await client.command({ query: synthSql(c.name, 1, column, s.cur) });
    }
  }
  // toFloat64 parses shortest round-trip decimals exactly, and nan / inf / -inf / -0.
  await client.command({ query: 'INSERT INTO golden_num SELECT dataset, side, column, toFloat64(raw) FROM golden_stage' });
}

export const numericSource = (dataset: string) => ({
  sql: 'SELECT side, column, value FROM golden_num WHERE dataset = {ds:String}',
  params: { ds: dataset },
});
export const categoricalSource = (dataset: string) => ({
  sql: 'SELECT side, column, value FROM golden_cat WHERE dataset = {ds:String}',
  params: { ds: dataset },
});

export function sourcesOf(c: GoldenCase): Pick<DriftOptions, 'numeric' | 'categorical'> {
  const hasNum = Object.keys(c.numeric).length + Object.keys(c.synthetic).length > 0;
  const hasCat = Object.keys(c.categorical).length > 0;
  return { ...(hasNum ? { numeric: numericSource(c.name) } : {}), ...(hasCat ? { categorical: categoricalSource(c.name) } : {}) };
}
