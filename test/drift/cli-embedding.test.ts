// `driftwatch drift` on vector columns (embeddings, method centroid) against numpy/scipy
// (test/fixtures/drift/gen_embeddings.py, the fixtures the live path's tests use): every stored case
// through JSON lines and Parquet files, the larger synthetic cases (more vectors than the Gram sample:
// tr(Sigma^2) from the CLI's MD5-ordered sample, which numpy picks alike) also with the rows
// shuffled; a vector column in one report with numerical and categorical ones (CSV with bracketed
// lists, JSON lines); text and html output; the errors.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDriftCli } from '../../collector/drift/cli.js';
import type { ColumnDrift, DriftReport } from '../../collector/drift/report.js';
import { openStore, type Store } from '../../collector/store/client.js';
import { expectReport, golden as scalarGolden, type GoldenCase } from './golden-data.js';

interface Expected { statistic: number; p_value: number; effect_size: number; drift: boolean }
interface Case { name: string; dim: number; reference: (number | string)[][]; current: (number | string)[][]; reference_missing: number; current_missing: number; expected: Expected }
interface SynthSpec { n: number; dim: number; offset: number; a: number[]; c: number[]; basis: number[][]; noise: number; shift: number[]; empty_every: number | null; nan_every: number | null }
interface Synthetic { name: string; dim: number; reference: SynthSpec; current: SynthSpec; reference_missing: number; current_missing: number; reference_non_finite: number; current_non_finite: number; gram_sample: number; expected: Expected }
const golden = JSON.parse(readFileSync(new URL('../fixtures/drift/embeddings-golden.json', import.meta.url), 'utf8')) as { cases: Case[]; synthetic: Synthetic[] };

const dir = mkdtempSync(join(tmpdir(), 'driftwatch-cli-emb-'));
const REL = 1e-6;
const worst: Record<string, number> = {};
const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));

/** The column against numpy/scipy: the three floats within REL (worst error kept per label), the rest exactly. */
function expectColumn(c: ColumnDrift | undefined, e: { dim: number; reference_missing: number; current_missing: number; expected: Expected }, label: string, kind: string) {
  expect(c, label).toBeDefined();
  expect(c, label).toMatchObject({ type: 'embedding', method: 'centroid', threshold: 0.05, min_effect_size: 0.1, dimension: e.dim, drift: e.expected.drift, reference_missing: e.reference_missing, current_missing: e.current_missing });
  for (const k of ['statistic', 'p_value', 'effect_size'] as const) {
    const r = rel(c![k] as number, e.expected[k]);
    worst[kind] = Math.max(worst[kind] ?? 0, r);
    expect(r, `${label} ${k}: ${c![k]} vs numpy/scipy ${e.expected[k]}`).toBeLessThan(REL);
  }
}

// Stored values are float32 (shortest decimals); Math.fround gives the double numpy computed with,
// written as its shortest round-trip decimal (read exactly back).
const value = (x: number | string): number | string => (typeof x === 'number' ? Math.fround(x) : x);

function writeJsonl(path: string, rows: Record<string, unknown>[]): string {
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

const csvCell = (v: unknown) => (v === null ? '' : typeof v === 'number' ? String(v) : /[",\n]/.test(String(v)) ? `"${String(v).replaceAll('"', '""')}"` : String(v));
function writeCsv(path: string, rows: Record<string, unknown>[]): string {
  const cols = Object.keys(rows[0]);
  writeFileSync(path, [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n');
  return path;
}

/** gen_embeddings.py's synth_vectors: null for an empty (missing) row. */
function synthVectors(s: SynthSpec): (number[] | null)[] {
  const P = 2147483647n;
  const uni = (x: bigint, q: number) => Number((BigInt(s.a[q]) * ((x * x + BigInt(s.c[q])) % P)) % P) / 2147483647;
  const out: (number[] | null)[] = [];
  for (let r = 0; r < s.n; r++) {
    if (s.empty_every && r % s.empty_every === 0) {
      out.push(null);
      continue;
    }
    const i = BigInt(s.offset + r);
    const z = [0, 1, 2].map((k) => uni(i, 3 * k) + uni(i, 3 * k + 1) + uni(i, 3 * k + 2) - 1.5);
    const v = Array.from({ length: s.dim }, (_, j) => {
      const e = uni(i * BigInt(s.dim) + BigInt(j), 9) - 0.5;
      return z[0] * s.basis[0][j] + z[1] * s.basis[1][j] + z[2] * s.basis[2][j] + e * s.noise + s.shift[j];
    });
    if (s.nan_every && r % s.nan_every === 0) v[r % s.dim] = NaN;
    out.push(v);
  }
  return out;
}

let store: Store;
async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await runDriftCli(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, client: store.client });
  return { code, out, err };
}
async function report(ref: string, cur: string, ...extra: string[]): Promise<DriftReport> {
  const r = await cli(['--reference', ref, '--current', cur, ...extra]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as DriftReport;
}

/** A JSON lines file rewritten as Parquet by the engine; `select` reads its columns (as text). */
async function toParquet(jsonl: string, structure: string, select: string): Promise<string> {
  const out = jsonl.replace(/\.jsonl$/, `-${Math.random().toString(36).slice(2, 8)}.parquet`);
  await store.client.command({
    query: `INSERT INTO FUNCTION file({out:String}, 'Parquet') SELECT ${select} FROM file({src:String}, 'JSONEachRow', {structure:String})`,
    query_params: { out, src: jsonl, structure },
  });
  return out;
}

beforeAll(async () => {
  store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'driftwatch-cli-emb-store-')) });
});
afterAll(async () => {
  await store?.close();
  // The figures the README quotes.
  console.log(`centroid through the CLI: max relative error against numpy/scipy ${Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

describe('golden cases through JSON lines and Parquet', () => {
  it.each(golden.cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const files = (['reference', 'current'] as const).map((side) => {
      const jsonl = writeJsonl(join(dir, `${c.name}-${side}.jsonl`), c[side].map((v, i) => ({ id: i, emb: v.map(value) })));
      // The same vectors with every element as text, for the Parquet copy.
      const text = writeJsonl(join(dir, `${c.name}-${side}-text.jsonl`), c[side].map((v) => ({ emb: v.map((x) => String(value(x))) })));
      return { jsonl, text };
    });
    const j = await report(files[0].jsonl, files[1].jsonl, '--columns', 'emb');
    expect(j.columns).toHaveLength(1);
    expectColumn(j.columns[0], c, `${c.name} jsonl`, 'jsonl');
    expect([j.reference_rows, j.current_rows]).toEqual([c.reference.length, c.current.length]);
    expect(j.drifted_columns).toBe(c.expected.drift ? 1 : 0);

    // Parquet as the collector stores embeddings, Float32 (nan as a NULL element: missing alike).
    const pq = await Promise.all(files.map((f) => toParquet(f.text, 'emb Array(String)', `CAST(arrayMap(x -> if(x = 'nan', NULL, toFloat64(x)), emb) AS Array(Nullable(Float32))) AS emb, toUInt32(1) AS one`)));
    const p = await report(pq[0], pq[1]);
    expect(p.columns.map((x) => x.column)).toEqual(['emb', 'one']);
    expectColumn(p.columns[0], c, `${c.name} parquet`, 'parquet');
  });
});

describe('larger synthetic cases: the Gram sample', () => {
  it.each(golden.synthetic.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    expect(c.gram_sample).toBeLessThan(c.reference.n - c.reference_missing);
    const sides = (['reference', 'current'] as const).map((side) => {
      const vectors = synthVectors(c[side]);
      // Missing rows as null and as [], NaN as "nan" (JSON has no NaN).
      const rows = vectors.map((v, i) => ({ emb: v === null ? (i % 2 ? null : []) : v.map((x) => (Number.isNaN(x) ? 'nan' : x)) }));
      return { rows, jsonl: writeJsonl(join(dir, `${c.name}-${side}.jsonl`), rows) };
    });
    const j = await report(sides[0].jsonl, sides[1].jsonl);
    expectColumn(j.columns[0], c, `${c.name} jsonl`, 'synthetic');
    expect(j.columns[0].quality).toMatchObject({ reference_non_finite: c.reference_non_finite, current_non_finite: c.current_non_finite, out_of_range_share: null, unseen_share: null });

    // Any row order: the sample is chosen by content, not position.
    const shuffled = [...sides[0].rows];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const k = (i * 7919) % (i + 1);
      [shuffled[i], shuffled[k]] = [shuffled[k], shuffled[i]];
    }
    const s = await report(writeJsonl(join(dir, `${c.name}-reference-shuffled.jsonl`), shuffled), sides[1].jsonl);
    expectColumn(s.columns[0], c, `${c.name} shuffled`, 'synthetic');
    expect(rel(s.columns[0].p_value!, j.columns[0].p_value!)).toBeLessThan(1e-9);

    // Parquet with plain Array(Float64) (NaN kept, missing rows as []).
    const pq = await Promise.all(sides.map((f) => toParquet(f.jsonl, 'emb Array(Nullable(String))', `CAST(arrayMap(x -> toFloat64(x), emb) AS Array(Float64)) AS emb`)));
    const p = await report(pq[0], pq[1], '--method', 'centroid');
    expectColumn(p.columns[0], c, `${c.name} parquet`, 'synthetic');
  });
});

describe('a vector column among numerical and categorical ones', () => {
  const mixed = scalarGolden.cases.find((c) => c.name === 'mixed') as GoldenCase;
  const autoRun = mixed.runs.find((r) => r.options.method === 'auto' && !r.options.pValueCorrection)!;
  const emb = golden.cases.find((c) => c.name === 'correlated')!;

  /** The mixed golden case's rows with `emb` beside them, padded with missing vectors. */
  function rows(side: 'ref' | 'cur', cell: (v: (number | string)[] | null) => unknown): Record<string, unknown>[] {
    const cols = [...Object.entries(mixed.numeric), ...Object.entries(mixed.categorical)] as [string, { ref: unknown[]; cur: unknown[] }][];
    const vectors = emb[side === 'ref' ? 'reference' : 'current'];
    return cols[0][1][side].map((_, i) => ({ ...Object.fromEntries(cols.map(([name, v]) => [name, v[side][i]])), emb: cell(vectors[i] ?? null) }));
  }

  function check(r: DriftReport, label: string) {
    const refRows = mixed.numeric.age.ref.length;
    const curRows = mixed.numeric.age.cur.length;
    expect(r.columns.map((c) => c.column), label).toEqual(['age', 'emb', 'plan', 'score']);
    const e = r.columns.find((c) => c.column === 'emb');
    expectColumn(e, { ...emb, reference_missing: refRows - emb.reference.length, current_missing: curRows - emb.current.length }, label, 'mixed');
    expect(e!.quality).toEqual({ reference_missing_share: (refRows - 200) / refRows, current_missing_share: (curRows - 200) / curRows, reference_non_finite: 0, current_non_finite: 0, out_of_range_share: null, unseen_share: null, issues: [] });
    // The embedding counts like any column.
    const drifted = autoRun.expected.drifted_columns + (emb.expected.drift ? 1 : 0);
    expect({ drifted: r.drifted_columns, dataset: r.dataset_drift }).toEqual({ drifted, dataset: drifted / 4 >= 0.5 });
    // The scalar columns are the golden report's, untouched.
    const scalar = r.columns.filter((c) => c.column !== 'emb');
    expectReport({ ...r, columns: scalar, drifted_columns: autoRun.expected.drifted_columns, dataset_drift: autoRun.expected.dataset_drift }, autoRun.expected, label);
  }

  const list = (v: (number | string)[] | null) => (v === null ? null : `[${v.map((x) => String(value(x))).join(', ')}]`);
  let csv: [string, string];

  it('CSV with bracketed lists', async () => {
    csv = [writeCsv(join(dir, 'mixed-ref.csv'), rows('ref', list)), writeCsv(join(dir, 'mixed-cur.csv'), rows('cur', list))];
    check(await report(...csv, '--min-effect', 'off'), 'csv');
  });

  it('JSON lines', async () => {
    const arr = (v: (number | string)[] | null) => (v === null ? null : v.map(value));
    const files = [writeJsonl(join(dir, 'mixed-ref.jsonl'), rows('ref', arr)), writeJsonl(join(dir, 'mixed-cur.jsonl'), rows('cur', arr))] as const;
    check(await report(...files, '--min-effect', 'off'), 'jsonl');
  });

  it('per-column methods, --bh and text output', async () => {
    const r = await report(...csv, '--method', 'emb=centroid,plan=psi', '--bh');
    const e = r.columns.find((c) => c.column === 'emb')!;
    // Benjamini-Hochberg covers the centroid's p-value with the others.
    expect(e.p_value_adjusted).toBeGreaterThanOrEqual(e.p_value!);
    expect(e.drift).toBe(e.p_value_adjusted! < 0.05 && e.effect_size! >= 0.1);
    const t = await cli(['--reference', csv[0], '--current', csv[1], '--format', 'text']);
    expect(t.code, t.err).toBe(0);
    const line = t.out.split('\n').find((l) => l.startsWith('emb '));
    expect(line).toMatch(/^emb\s+embedding \(d=32\)\s+centroid\s+2\.873\s+1\.065e-4\s+0\.05\s+0\.2677 \(0\.1\)\s+DRIFT\s+50\/40/);
  });

  it('--threshold sets the centroid threshold too', async () => {
    const r = await report(...csv, '--columns', 'emb', '--threshold', '1e-5');
    expect(r.columns[0]).toMatchObject({ threshold: 1e-5, drift: false });
  });

  it('html: the centroid difference per dimension', async () => {
    const out = join(dir, 'mixed.html');
    const h = await cli(['--reference', csv[0], '--current', csv[1], '--format', 'html', '--out', out]);
    expect(h.code, h.err).toBe(0);
    const page = readFileSync(out, 'utf8');
    const svg = page.match(/<svg class="dist vec" data-column="emb" data-bins="(\d+)" data-dimensions="(\d+)"[\s\S]*?<\/svg>/);
    expect(svg?.slice(1)).toEqual(['32', '32']);
    expect(svg![0].match(/<rect class="cur"/g)).toHaveLength(32);
    expect(page).toContain('centroid difference per dimension (current − reference), all 32 dimensions');
    // A wide embedding draws its largest differences and says so.
    const wide = golden.cases.find((c) => c.name === 'wide')!;
    const files = (['reference', 'current'] as const).map((side) => writeJsonl(join(dir, `wide-html-${side}.jsonl`), wide[side].map((v) => ({ emb: v.map(value) }))));
    const w = await cli(['--reference', files[0], '--current', files[1], '--format', 'html']);
    expect(w.code, w.err).toBe(0);
    expect(w.out).toMatch(/data-bins="40" data-dimensions="256"/);
    expect(w.out).toMatch(/the 40 of 256 dimensions with the largest differences, holding \d+\.\d% of the squared distance/);
  });
});

describe('errors: one line, exit code 2', () => {
  const vec = (d: number, k: number) => Array.from({ length: d }, (_, j) => ((k * 7 + j * 3) % 11) / 10);
  const side = (name: string, n: number, dim: (i: number) => number, extra: (i: number) => Record<string, unknown> = () => ({})) =>
    writeJsonl(join(dir, `${name}.jsonl`), Array.from({ length: n }, (_, i) => ({ emb: vec(dim(i), i), x: i % 7, ...extra(i) })));
  const ref = side('err-ref', 30, () => 4);
  const cur = side('err-cur', 20, () => 4);

  const cases: [string, () => string[], RegExp][] = [
    ['vectors of different lengths in one file', () => [side('err-mixed', 20, (i) => (i === 5 ? 3 : 4)), cur], /^driftwatch drift: column "emb" has vectors of 2 different lengths \(3, 4\): every vector of a column needs the same dimension$/],
    ['vectors of different lengths across the files', () => [ref, side('err-five', 20, () => 5)], /^driftwatch drift: column "emb" has vectors of 2 different lengths \(4, 5\)/],
    ['another method for a vector column', () => [ref, cur, '--method', 'emb=psi'], /^driftwatch drift: column "emb" holds vectors \(an embedding\): psi does not apply; its method is centroid$/],
    ['a global method a vector column cannot take', () => [ref, cur, '--method', 'ks'], /^driftwatch drift: column "emb" holds vectors \(an embedding\): ks does not apply; its method is centroid$/],
    ['centroid for a scalar column', () => [ref, cur, '--method', 'x=centroid'], /^driftwatch drift: column "x" is numerical: centroid needs vectors \(a column of numeric arrays\)$/],
    ['fewer than 2 usable vectors on a side', () => [ref, side('err-one', 20, () => 4, (i) => (i ? { emb: [1, 'nan', 2, 3] } : {}))], /^driftwatch drift: column "emb" has only 1 usable current vector \(non-empty, every component finite\): centroid needs at least 2 per side$/],
  ];
  it.each(cases)('%s', async (_what, args, message) => {
    const [r, c, ...rest] = args();
    const out = await cli(['--reference', r, '--current', c, ...rest]);
    expect(out.code).toBe(2);
    expect(out.out).toBe('');
    expect(out.err.trimEnd().split('\n')).toHaveLength(1);
    expect(out.err.trimEnd()).toMatch(message);
  });

  it('a list that is not all numbers is no vector: the column is categorical', async () => {
    const odd = side('err-text', 20, () => 4, (i) => (i === 3 ? { emb: ['a', 'b'] } : {}));
    const r = await report(ref, odd);
    expect(r.columns.find((c) => c.column === 'emb')).toMatchObject({ type: 'categorical' });
  });
});
