// Every golden case and run of gen.py through driftFromSources on the embedded engine: each
// statistic and p-value within 1e-6 relative of numpy/scipy, and every verdict, method (auto's
// choice included), missing count and total exactly as scipy's side computed them.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftFromSources } from '../../collector/drift/engine.js';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { bitsToFloat64, float64ToBits } from '../../collector/drift/bins.js';
import { expectReport, golden, loadGolden, parseNum, sourcesOf, synthExpr } from './golden-data.js';

let store: Store;

beforeAll(async () => {
  store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'driftwatch-golden-')) });
  await loadGolden(store.client);
});
afterAll(async () => {
  await store?.close();
});

describe('golden fixtures', () => {
  it('cover what the conventions ask for', () => {
    const methods = new Set(golden.cases.flatMap((c) => c.runs.flatMap((r) => r.expected.columns.map((col) => col.method))));
    expect([...methods].sort()).toEqual(['chisquare', 'hellinger', 'jensenshannon', 'kl', 'ks', 'linf', 'psi', 'tvd', 'wasserstein']);
    const autoMethods = new Set(golden.cases.flatMap((c) => c.runs.filter((r) => r.options.method === 'auto').flatMap((r) => r.expected.columns.map((col) => col.method))));
    expect([...autoMethods].sort()).toEqual(['chisquare', 'jensenshannon', 'ks', 'wasserstein']);
    const drifts = golden.cases.flatMap((c) => c.runs.flatMap((r) => r.expected.columns.map((col) => col.drift)));
    expect(drifts).toContain(true);
    expect(drifts).toContain(false);
  });

  for (const c of golden.cases) {
    for (const [i, run] of c.runs.entries()) {
      it(`${c.name} #${i} method=${JSON.stringify(run.options.method)}`, async () => {
        const report = await driftFromSources(store.client, { ...sourcesOf(c), ...run.options });
        expectReport(report, run.expected, `${c.name} #${i}`);
      });
    }
  }

  it('synthetic columns are the same doubles in ClickHouse as in numpy', async () => {
    let checked = 0;
    for (const c of golden.cases) {
      for (const [column, s] of Object.entries(c.synthetic)) {
        for (const [side, spec] of [s.ref, s.cur].entries()) {
          const stored = await queryRows<{ n: string }>(
            store.client,
            'SELECT count() AS n FROM golden_num WHERE dataset = {ds:String} AND column = {col:String} AND side = {side:UInt8}',
            { ds: c.name, col: column, side },
          );
          expect(Number(stored[0].n)).toBe(spec.n);
          for (const [i, v] of s.samples[side]) {
            const [row] = await queryRows<{ bits: string }>(store.client, `SELECT toString(reinterpretAsUInt64(${synthExpr(spec)})) AS bits FROM numbers({i:UInt64}, 1)`, { i });
            const got = bitsToFloat64(row.bits);
            const want = parseNum(v);
            if (Number.isNaN(want)) expect(got, `${c.name}.${column}[${side}][${i}]`).toBeNaN();
            else expect(float64ToBits(got), `${c.name}.${column}[${side}][${i}]: ${got} vs numpy ${want}`).toBe(float64ToBits(want));
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
