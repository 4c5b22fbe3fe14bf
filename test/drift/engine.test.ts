// driftFromSources beyond the golden numbers: input errors, empty sides, parameters, types of the
// source columns. Expected numbers still come from the golden fixtures only.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftFromSources } from '../../collector/drift/engine.js';
import { DriftInputError } from '../../collector/drift/report.js';
import { openStore, type Store } from '../../collector/store/client.js';
import { categoricalSource, expectReport, golden, loadGolden, numericSource } from './golden-data.js';

let store: Store;
const byName = (name: string) => {
  const c = golden.cases.find((x) => x.name === name);
  if (!c) throw new Error(`no golden case ${name}`);
  return c;
};
const autoRun = (name: string) => byName(name).runs.find((r) => r.options.method === 'auto' && !r.options.thresholds && r.options.driftShare === undefined)!;

beforeAll(async () => {
  store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'driftwatch-engine-')) });
  await loadGolden(store.client, ['mixed', 'small_continuous', 'categorical'].map(byName));
});
afterAll(async () => {
  await store?.close();
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected the promise to reject');
}

describe('driftFromSources: input errors', () => {
  const mixed = { numeric: numericSource('mixed'), categorical: categoricalSource('mixed') };

  it('ks or wasserstein on a categorical column is an error naming the column', async () => {
    for (const method of ['ks', 'wasserstein'] as const) {
      const e = await rejection(driftFromSources(store.client, { ...mixed, method: { plan: method } }));
      expect(e).toBeInstanceOf(DriftInputError);
      expect(e.message).toMatch(new RegExp(`column "plan" is categorical: ${method} needs numerical values`));
      expect((e as DriftInputError).column).toBe('plan');
      // A global choice reaches the categorical column too.
      const g = await rejection(driftFromSources(store.client, { ...mixed, method }));
      expect(g.message).toContain('"plan"');
    }
  });

  it('unknown methods, unknown columns, bad thresholds and reserved parameters are errors', async () => {
    expect((await rejection(driftFromSources(store.client, { ...mixed, method: 'ttest' as never }))).message).toMatch(/unknown drift method "ttest"/);
    expect((await rejection(driftFromSources(store.client, { ...mixed, method: { nope: 'psi' } }))).message).toMatch(/column "nope", which is in neither source/);
    expect((await rejection(driftFromSources(store.client, { ...mixed, thresholds: { psi: Number.NaN } }))).message).toMatch(/threshold for psi/);
    expect((await rejection(driftFromSources(store.client, { ...mixed, thresholds: { zz: 1 } as never }))).message).toMatch(/unknown method "zz"/);
    expect((await rejection(driftFromSources(store.client, { ...mixed, driftShare: 2 }))).message).toMatch(/drift share/);
    expect((await rejection(driftFromSources(store.client, {}))).message).toMatch(/no source/);
    const reserved = { sql: 'SELECT side, column, value FROM golden_num WHERE dataset = {dw_engine_x:String}', params: { dw_engine_x: 'mixed' } };
    expect((await rejection(driftFromSources(store.client, { numeric: reserved }))).message).toMatch(/reserved/);
  });

  it('a column in both sources is an error', async () => {
    const asCat = { sql: "SELECT side, column, toString(value) AS value FROM golden_num WHERE dataset = 'mixed' AND column = 'age'" };
    const e = await rejection(driftFromSources(store.client, { numeric: mixed.numeric, categorical: asCat }));
    expect(e.message).toMatch(/column "age" is in both/);
  });
});

describe('driftFromSources: empty sides', () => {
  // small_continuous with every current value of "shift" replaced by NaN.
  const blanked = {
    sql: `SELECT side, column, if(side = 1 AND column = 'shift', nan, value) AS value FROM golden_num WHERE dataset = {ds:String}`,
    params: { ds: 'small_continuous' },
  };

  it('a column with no current values is an error by default, or left out with emptyColumns: skip', async () => {
    const e = await rejection(driftFromSources(store.client, { numeric: blanked }));
    expect(e).toBeInstanceOf(DriftInputError);
    expect(e.message).toBe('column "shift" has no non-missing current values');

    const report = await driftFromSources(store.client, { numeric: blanked, emptyColumns: 'skip' });
    const expected = autoRun('small_continuous').expected;
    const kept = expected.columns.filter((c) => c.column !== 'shift');
    expect(report.columns.map((c) => c.column)).toEqual(kept.map((c) => c.column));
    expectReport(report, { ...expected, drifted_columns: kept.filter((c) => c.drift).length, dataset_drift: kept.filter((c) => c.drift).length / kept.length >= 0.5, columns: kept }, 'skip');
  });

  it('a side with no rows at all gives a report without columns', async () => {
    const noCurrent = { sql: `SELECT side, column, value FROM golden_num WHERE dataset = {ds:String} AND side = 0`, params: { ds: 'small_continuous' } };
    const report = await driftFromSources(store.client, { numeric: noCurrent });
    expect(report.columns).toEqual([]);
    expect(report.current_rows).toBe(0);
    expect(report.reference_rows).toBe(autoRun('small_continuous').expected.reference_rows);
    expect(report.dataset_drift).toBe(false);
    const nothing = await driftFromSources(store.client, { numeric: { sql: 'SELECT side, column, value FROM golden_num WHERE 0' } });
    expect(nothing).toMatchObject({ reference_rows: 0, current_rows: 0, columns: [] });
  });
});

describe('driftFromSources: sources', () => {
  it('accepts other column types, a trailing semicolon, LowCardinality names and dw_ parameters of its own', async () => {
    const { expected } = autoRun('mixed');
    const report = await driftFromSources(store.client, {
      numeric: {
        sql: 'SELECT toInt64(side) AS side, toLowCardinality(column) AS column, toFloat64OrNull(toString(value)) AS value FROM golden_num WHERE dataset = {dw_model:String};  ',
        params: { dw_model: 'mixed' },
      },
      categorical: { sql: 'SELECT side, column, assumeNotNull(value) AS value FROM golden_cat WHERE dataset = {dw_model:String}', params: { dw_model: 'mixed' } },
    });
    expectReport(report, expected, 'sources');
  });

  it('treats NULL numbers as missing', async () => {
    const { expected } = autoRun('small_continuous');
    const report = await driftFromSources(store.client, {
      numeric: { sql: "SELECT side, column, if(isFinite(value), value, NULL) AS value FROM golden_num WHERE dataset = 'small_continuous'" },
    });
    // The same report, except that no +-Inf is left for the quality counts.
    const columns = expected.columns.map((c) => ({
      ...c,
      quality: { ...c.quality, reference_non_finite: 0, current_non_finite: 0, issues: c.quality.issues.filter((i) => i !== 'non_finite') },
    }));
    expect(expected.columns.some((c) => c.quality.current_non_finite > 0)).toBe(true);
    expectReport(report, { ...expected, columns }, 'nullable');
  });
});
