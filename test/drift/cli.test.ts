// runDriftCli end to end on files written from the golden fixtures: the JSON report is scipy's
// (gen.py), whatever the file type; bad input is one line on stderr and exit code 2. The golden
// comparisons turn the effect-size guard off (--min-effect off): the conventions' report exactly.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDriftCli } from '../../collector/drift/cli.js';
import type { DriftReport } from '../../collector/drift/report.js';
import { openStore, type Store } from '../../collector/store/client.js';
import { expectReport, golden, type GoldenCase, type GoldenRun } from './golden-data.js';

const dir = mkdtempSync(join(tmpdir(), 'driftwatch-cli-'));
const mixed = golden.cases.find((c) => c.name === 'mixed') as GoldenCase;
const runOf = (pred: (r: GoldenRun) => boolean) => {
  const r = mixed.runs.find(pred);
  if (!r) throw new Error('golden run not found');
  return r;
};
const autoRun = runOf((r) => r.options.method === 'auto' && !r.options.pValueCorrection);
const psiBh = runOf((r) => r.options.method === 'psi' && r.options.pValueCorrection === 'bh');
const mapBh = runOf((r) => typeof r.options.method === 'object' && r.options.pValueCorrection === 'bh');

/** The golden case as rows of one wide table per side; every column has one value per row. */
function wide(c: GoldenCase, side: 'ref' | 'cur'): Record<string, unknown>[] {
  const cols = [...Object.entries(c.numeric), ...Object.entries(c.categorical)] as [string, { ref: unknown[]; cur: unknown[] }][];
  const n = cols[0][1][side].length;
  for (const [name, v] of cols) if (v[side].length !== n) throw new Error(`column ${name} has ${v[side].length} values, not ${n}`);
  return Array.from({ length: n }, (_, i) => Object.fromEntries(cols.map(([name, v]) => [name, v[side][i]])));
}

const csvCell = (v: unknown) => (v === null ? '' : typeof v === 'number' ? (Object.is(v, -0) ? '-0' : String(v)) : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
function writeCsv(path: string, rows: Record<string, unknown>[]): string {
  const cols = Object.keys(rows[0]);
  writeFileSync(path, [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n');
  return path;
}
function writeJsonl(path: string, rows: Record<string, unknown>[]): string {
  // Non-finite numbers as the strings the CLI reads as missing / infinite.
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

async function cli(args: string[], extra: { client?: Store['client']; streamNative?: Store['streamNative'] } = {}) {
  let out = '';
  let err = '';
  const code = await runDriftCli(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, ...extra });
  return { code, out, err };
}

const refCsv = writeCsv(join(dir, 'ref.csv'), wide(mixed, 'ref'));
const curCsv = writeCsv(join(dir, 'cur.csv'), wide(mixed, 'cur'));
const refJsonl = writeJsonl(join(dir, 'ref.jsonl'), wide(mixed, 'ref'));
const curJsonl = writeJsonl(join(dir, 'cur.jsonl'), wide(mixed, 'cur'));

describe('driftwatch drift (own embedded engine)', () => {
  it('CSV: the JSON report is the golden one', async () => {
    const r = await cli(['--reference', refCsv, '--current', curCsv, '--min-effect', 'off']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expectReport(JSON.parse(r.out) as DriftReport, autoRun.expected, 'csv auto');
  });

  it('JSONL with a method, per-column methods and Benjamini-Hochberg', async () => {
    const a = await cli(['--reference', refJsonl, '--current', curJsonl, '--method', 'psi', '--bh', '--min-effect', 'off']);
    expect(a.code, a.err).toBe(0);
    expectReport(JSON.parse(a.out) as DriftReport, psiBh.expected, 'jsonl psi bh');
    const methods = Object.entries(mapBh.options.method as Record<string, string>).map(([c, m]) => `${c}=${m}`).join(',');
    const b = await cli(['--reference', refJsonl, '--current', curJsonl, '--method', methods, '--bh', '--min-effect', 'off']);
    expect(b.code, b.err).toBe(0);
    expectReport(JSON.parse(b.out) as DriftReport, mapBh.expected, 'jsonl map bh');
  });

  it('text format, --out, --columns and --fail-on-drift', async () => {
    const t = await cli(['--reference', refCsv, '--current', curCsv, '--format', 'text']);
    expect(t.code).toBe(0);
    for (const c of autoRun.expected.columns) {
      const line = t.out.split('\n').find((l) => l.startsWith(c.column + ' '));
      expect(line, c.column).toBeDefined();
      expect(line).toContain(c.method);
      expect(line).toContain(c.drift ? 'DRIFT' : ' ok ');
    }
    expect(t.out).toContain(`Dataset drift: ${autoRun.expected.dataset_drift ? 'YES' : 'no'}`);

    const out = join(dir, 'report.json');
    const o = await cli(['--reference', refCsv, '--current', curCsv, '--out', out, '--columns', 'plan,age', '--fail-on-drift', '--min-effect', 'off']);
    expect(o.out).toBe('');
    const report = JSON.parse(readFileSync(out, 'utf8')) as DriftReport;
    const kept = autoRun.expected.columns.filter((c) => c.column === 'plan' || c.column === 'age');
    const drifted = kept.filter((c) => c.drift).length;
    expectReport(report, { ...autoRun.expected, columns: kept, drifted_columns: drifted, dataset_drift: drifted / kept.length >= 0.5 }, 'columns');
    expect(o.code).toBe(report.dataset_drift ? 1 : 0);
  });

  it('--threshold sets the method threshold, --drift-share the dataset verdict, --help the usage', async () => {
    const r = await cli(['--reference', refCsv, '--current', curCsv, '--method', 'hellinger', '--threshold', '0.03', '--drift-share', '0.25']);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as DriftReport;
    expect(report.columns.length).toBe(autoRun.expected.columns.length);
    for (const c of report.columns) expect([c.method, c.threshold, c.drift]).toEqual(['hellinger', 0.03, c.statistic >= 0.03]);
    expect(report.drift_share).toBe(0.25);
    expect(report.dataset_drift).toBe(report.drifted_columns / report.columns.length >= 0.25);
    const h = await cli(['--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^usage: driftwatch drift --reference FILE --current FILE/);
  });

  it('forces a type per column', async () => {
    const r = await cli(['--reference', refCsv, '--current', curCsv, '--categorical', 'age', '--method', 'age=chisquare']);
    expect(r.code, r.err).toBe(0);
    const age = (JSON.parse(r.out) as DriftReport).columns.find((c) => c.column === 'age')!;
    expect(age).toMatchObject({ type: 'categorical', method: 'chisquare' });
    // One text value that is not a number, anywhere in a file, makes the column categorical.
    const rows = wide(mixed, 'cur');
    rows[rows.length - 1] = { ...rows[rows.length - 1], score: 'n/a' };
    const odd = writeCsv(join(dir, 'odd.csv'), rows);
    const o = await cli(['--reference', refCsv, '--current', odd]);
    expect(o.code, o.err).toBe(0);
    expect((JSON.parse(o.out) as DriftReport).columns.find((c) => c.column === 'score')).toMatchObject({ type: 'categorical' });
    // Forcing a text column numerical leaves nothing that parses.
    const n = await cli(['--reference', refCsv, '--current', curCsv, '--numerical', 'plan']);
    expect(n.code).toBe(2);
    expect(n.err).toBe('driftwatch drift: column "plan" has no non-missing reference values\n');
  });

  const bad: [string, string[], RegExp][] = [
    ['a missing file', ['--reference', join(dir, 'nope.csv'), '--current', curCsv], /^driftwatch drift: reference file not found: .*nope\.csv$/],
    ['an unknown column', ['--reference', refCsv, '--current', curCsv, '--columns', 'age,salary'], /unknown column "salary": not in the reference file$/],
    ['an unknown column for a type', ['--reference', refCsv, '--current', curCsv, '--categorical', 'salary'], /unknown column "salary" in --categorical$/],
    ['a method that does not fit the column', ['--reference', refCsv, '--current', curCsv, '--method', 'plan=ks'], /column "plan" is categorical: ks needs numerical values/],
    ['a global method that does not fit', ['--reference', refCsv, '--current', curCsv, '--method', 'wasserstein'], /column "plan" is categorical: wasserstein/],
    ['an unknown method', ['--reference', refCsv, '--current', curCsv, '--method', 'ttest'], /unknown method "ttest"/],
    ['an unknown format', ['--reference', refCsv, '--current', curCsv, '--format', 'xml'], /unknown format "xml"/],
    ['an unknown option', ['--reference', refCsv, '--current', curCsv, '--colour'], /Unknown option '--colour'/],
    ['a bad threshold', ['--reference', refCsv, '--current', curCsv, '--threshold', 'abc'], /--threshold must be a number/],
    ['a missing --current', ['--reference', refCsv], /missing --current FILE$/],
  ];
  for (const [what, args, message] of bad) {
    it(`rejects ${what} with one line and exit code 2`, async () => {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.endsWith('\n')).toBe(true);
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
      expect(r.err.trimEnd()).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  }

  it('rejects an unsupported file type, an empty side and an all-missing column', async () => {
    const txt = join(dir, 'ref.txt');
    writeFileSync(txt, 'a\n1\n');
    const t = await cli(['--reference', txt, '--current', curCsv]);
    expect([t.code, t.err]).toEqual([2, `driftwatch drift: reference file ${txt}: unsupported type (expected .csv, .tsv, .jsonl, .ndjson, .json or .parquet)\n`]);

    for (const content of ['age,score,plan\n', '']) {
      const empty = join(dir, 'empty.csv');
      writeFileSync(empty, content);
      const e = await cli(['--reference', refCsv, '--current', empty]);
      expect([e.code, e.err]).toEqual([2, `driftwatch drift: current file ${empty} has no rows\n`]);
    }

    const blank = writeCsv(join(dir, 'blank.csv'), wide(mixed, 'cur').map((r) => ({ ...r, score: 'nan' })));
    const b = await cli(['--reference', refCsv, '--current', blank]);
    expect([b.code, b.err]).toEqual([2, 'driftwatch drift: column "score" has no non-missing current values\n']);
  });
});

describe('driftwatch drift (Parquet, caller-provided client)', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'driftwatch-cli-store-')) });
  });
  afterAll(async () => {
    await store?.close();
  });

  it('reads Parquet with typed columns: the same golden report', async () => {
    const paths: string[] = [];
    for (const [side, path] of [['ref', refJsonl], ['cur', curJsonl]] as const) {
      const pq = join(dir, `${side}.parquet`);
      // Typed columns: Float64 numbers (NaN/Inf kept), nullable strings.
      await store.client.command({
        query: `INSERT INTO FUNCTION file({out:String}, 'Parquet') SELECT
                  toFloat64(ifNull(toFloat64OrNull(age), nan)) AS age, toFloat64(ifNull(toFloat64OrNull(score), nan)) AS score, plan
                FROM file({src:String}, 'JSONEachRow', 'age Nullable(String), score Nullable(String), plan Nullable(String)')`,
        query_params: { out: pq, src: path },
      });
      paths.push(pq);
    }
    const r = await cli(['--reference', paths[0], '--current', paths[1], '--min-effect', 'off'], { client: store.client });
    expect(r.code, r.err).toBe(0);
    expectReport(JSON.parse(r.out) as DriftReport, autoRun.expected, 'parquet auto');
  });

  it('the streamed scan (with streamNative) and the engine SQL give the same report on larger files', async () => {
    // 30 000 + 20 000 rows: ties, -0, NaN, +-Inf, a far outlier, a discrete and a constant column;
    // enough values for the scan's bins to be refined, not sorted.
    const gen = (side: number, rows: number) => `SELECT
        round(randNormal(${side * 0.05}, 1) * 20) / 20 * if(rand() % 2 = 0, 1, -1) AS ties,
        if(number % 997 = 0, nan, if(number % 1499 = 0, inf * if(number % 2 = 0, 1, -1), randExponential(1 + ${side * 0.1}))) AS spotty,
        if(number = 7, 1e250, randNormal(0, 1)) AS outlier,
        toFloat64(rand() % 4) AS discrete,
        if(number % 3 = 0, -0., 2.5) AS signed
      FROM numbers(${rows})`;
    const paths: string[] = [];
    for (const [side, rows] of [[0, 30000], [1, 20000]] as const) {
      const pq = join(dir, `scan-${side}.parquet`);
      await store.client.command({ query: `INSERT INTO FUNCTION file({out:String}, 'Parquet') ${gen(side, rows)}`, query_params: { out: pq } });
      paths.push(pq);
    }
    for (const method of ['auto', 'ks', 'wasserstein']) {
      const args = ['--reference', paths[0], '--current', paths[1], '--method', method];
      const sql = await cli(args, { client: store.client });
      const scanned = await cli(args, { client: store.client, streamNative: store.streamNative });
      expect([sql.code, scanned.code], sql.err + scanned.err).toEqual([0, 0]);
      const [a, b] = [JSON.parse(sql.out) as DriftReport, JSON.parse(scanned.out) as DriftReport];
      expect(b.columns.map((c) => c.column)).toEqual(a.columns.map((c) => c.column));
      for (const [x, y] of a.columns.map((c, i) => [c, b.columns[i]] as const)) {
        // The statistic (and ks's effect size, D itself) to the last digits: W is a sum in another
        // order, and the SQL's fallback for values beyond its sort keys (the 1e250) divides before
        // subtracting. Everything else exactly.
        expect(Math.abs(y.statistic - x.statistic), `${method} ${x.column}: ${y.statistic} vs ${x.statistic}`).toBeLessThanOrEqual(1e-12 * Math.abs(x.statistic));
        if (typeof x.effect_size === 'number') expect(Math.abs(y.effect_size! - x.effect_size)).toBeLessThanOrEqual(1e-12 * Math.abs(x.effect_size));
        expect({ ...y, statistic: 0, p_value: 0, effect_size: 0 }).toEqual({ ...x, statistic: 0, p_value: 0, effect_size: 0 });
        if (x.p_value !== null) expect(Math.abs(y.p_value! - x.p_value)).toBeLessThanOrEqual(1e-9 * Math.abs(x.p_value) + 1e-300);
      }
    }
  });
});
