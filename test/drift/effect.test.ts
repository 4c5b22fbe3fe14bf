// The effect-size guard of the p-value methods (engine option minEffectSize, CLI default): on every
// golden case and run, statistics and p-values stay scipy's, effect_size is D (ks) or Cramér's V
// (chisquare, sqrt(chi2 / (n + m))) and a column drifts exactly when the conventions say so AND its
// effect size reaches the minimum. Large samples with negligible differences stop drifting; the
// small-sample ks verdicts the guard's default is tuned not to touch stay as they were.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDriftCli } from '../../collector/drift/cli.js';
import { DEFAULT_MIN_EFFECT_SIZE, driftFromSources } from '../../collector/drift/engine.js';
import { openStore, type Store } from '../../collector/store/client.js';
import { expectClose, golden, loadGolden, sourcesOf, type GoldenCase } from './golden-data.js';

let store: Store;

beforeAll(async () => {
  store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'driftwatch-effect-')) });
  await loadGolden(store.client);
});
afterAll(async () => {
  await store?.close();
});

/** Non-missing values of a golden column on each side, counted from the fixture itself. */
function sizes(c: GoldenCase, column: string): { n: number; m: number } {
  const num = c.numeric[column];
  if (num) return { n: num.ref.filter((v) => typeof v === 'number').length, m: num.cur.filter((v) => typeof v === 'number').length };
  const cat = c.categorical[column];
  if (cat) return { n: cat.ref.filter((v) => v !== null && v !== '').length, m: cat.cur.filter((v) => v !== null && v !== '').length };
  const s = c.synthetic[column];
  const present = (spec: { n: number; nan_every: number | null }) => spec.n - (spec.nan_every ? Math.ceil(spec.n / spec.nan_every) : 0);
  return { n: present(s.ref), m: present(s.cur) };
}

describe('effect-size guard', () => {
  it('keeps every golden statistic and changes only verdicts of negligible effects', async () => {
    const flipped: string[] = [];
    let guarded = 0;
    for (const c of golden.cases) {
      for (const [i, run] of c.runs.entries()) {
        const report = await driftFromSources(store.client, { ...sourcesOf(c), ...run.options, minEffectSize: true });
        expect(report.columns.map((x) => x.column)).toEqual(run.expected.columns.map((x) => x.column));
        report.columns.forEach((a, k) => {
          const e = run.expected.columns[k];
          const where = `${c.name} #${i} ${e.column} (${e.method})`;
          expect(a.method, where).toBe(e.method);
          expectClose(a.statistic, e.statistic, `${where} statistic`);
          expectClose(a.p_value, e.p_value, `${where} p_value`);
          if (e.method !== 'ks' && e.method !== 'chisquare') {
            expect([a.effect_size, a.min_effect_size, a.drift], where).toEqual([null, null, e.drift]);
            return;
          }
          guarded++;
          const { n, m } = sizes(c, e.column);
          const effect = e.method === 'ks' ? e.statistic : Math.sqrt(e.statistic / (n + m));
          expectClose(a.effect_size ?? null, effect, `${where} effect size`);
          expect(a.min_effect_size, where).toBe(DEFAULT_MIN_EFFECT_SIZE[e.method]);
          expect(a.drift, where).toBe(e.drift && effect >= DEFAULT_MIN_EFFECT_SIZE[e.method]);
          if (a.drift !== e.drift) flipped.push(`${c.name}:${e.column}:${e.method}:${e.statistic.toPrecision(3)}`);
        });
        expect(report.drifted_columns).toBe(report.columns.filter((x) => x.drift).length);
      }
    }
    expect(guarded).toBeGreaterThan(50);
    // The large synthetic sample's near-identical columns: p-values of 1e-43 and 1e-104 on D = 0.025
    // and D = 0.035. Without the guard they drift; with it they do not.
    expect(flipped).toContain('synthetic_large:same:ks:0.0255');
    expect(flipped).toContain('synthetic_large:tied:ks:0.0351');
    // The ks default does not touch a sample that auto would give to ks (n <= 1000).
    expect(flipped.filter((f) => f.includes(':ks:') && !f.startsWith('synthetic_large'))).toEqual([]);
  }, 120_000);

  it('takes its minimums per method, and is off by default in the engine', async () => {
    const c = golden.cases.find((x) => x.name === 'synthetic_large')!;
    const off = await driftFromSources(store.client, { ...sourcesOf(c), method: 'ks' });
    expect(off.columns.every((x) => !('effect_size' in x) && !('min_effect_size' in x))).toBe(true);
    const strict = await driftFromSources(store.client, { ...sourcesOf(c), method: 'ks', minEffectSize: { ks: 0.5 } });
    expect(strict.columns.map((x) => [x.min_effect_size, x.drift])).toEqual(strict.columns.map(() => [0.5, false]));
    await expect(driftFromSources(store.client, { ...sourcesOf(c), minEffectSize: { psi: 0.1 } as never })).rejects.toThrow(/only ks and chisquare/);
    await expect(driftFromSources(store.client, { ...sourcesOf(c), minEffectSize: { ks: -1 } })).rejects.toThrow(/must be a number >= 0/);
  });
});

describe('driftwatch drift --min-effect', () => {
  const mixed = golden.cases.find((c) => c.name === 'mixed')!;
  // The guard's flag on one golden column written as a pair of CSV files.
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-effect-cli-'));
  async function cli(args: string[]) {
    let out = '';
    let err = '';
    // chDB holds one data directory per process: the CLI uses this file's open engine.
    const code = await runDriftCli(args, { client: store.client, stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
    return { code, out, err };
  }
  const files = async () => {
    const { writeFileSync } = await import('node:fs');
    const age = mixed.numeric.age;
    const col = (v: unknown[]) => v.map((x) => (typeof x === 'number' ? String(x) : '')).join('\n');
    writeFileSync(join(dir, 'ref.csv'), 'age\n' + col(age.ref) + '\n');
    writeFileSync(join(dir, 'cur.csv'), 'age\n' + col(age.cur) + '\n');
    return ['--reference', join(dir, 'ref.csv'), '--current', join(dir, 'cur.csv'), '--method', 'ks'];
  };

  it('is on by default, tunable, and off on request', async () => {
    const base = await files();
    const on = await cli(base);
    expect(on.code, on.err).toBe(0);
    const col = JSON.parse(on.out).columns[0];
    expect([col.effect_size, col.min_effect_size]).toEqual([col.statistic, DEFAULT_MIN_EFFECT_SIZE.ks]);
    const high = JSON.parse((await cli([...base, '--min-effect', 'ks=0.9'])).out).columns[0];
    expect([high.min_effect_size, high.drift]).toEqual([0.9, false]);
    const both = JSON.parse((await cli([...base, '--min-effect', '0.01'])).out).columns[0];
    expect([both.min_effect_size, both.drift]).toEqual([0.01, col.p_value < 0.05]);
    const text = await cli([...base, '--format', 'text']);
    expect(text.out).toMatch(/effect \(min\)/);
    expect(text.out).toMatch(/^age\s.*\(0\.04\)/m);
    const off = JSON.parse((await cli([...base, '--min-effect', 'off'])).out).columns[0];
    expect('effect_size' in off).toBe(false);
    for (const bad of ['psi=0.1', 'ks=', 'ks=-1', 'abc']) {
      const r = await cli([...base, '--min-effect', bad]);
      expect([r.code, r.err.trimEnd().split('\n').length], bad).toEqual([2, 1]);
      expect(r.err).toMatch(/--min-effect/);
    }
  });
});
