// The sort-free raw-value distances (ecdf.ts) and the streamed column summaries (column-scan.ts)
// against scipy's ks_2samp statistic and wasserstein_distance and numpy's summaries
// (test/fixtures/drift/gen_ecdf.py), on samples built to break the bins: ties, signed zeros,
// outliers, ulps, overflowing spans, far-apart sides, geometric spacings, constants. Each runs with
// the production bin count and with 16 and 64 bins, which make nearly every range recurse.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanNumericColumns } from '../../collector/drift/column-scan.js';
import { EcdfBins } from '../../collector/drift/ecdf.js';

type Case = { ref: string; cur: string; d: number; w: number | string; std: number | string; outside: number; distinct_capped: number };
const cases = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'drift', 'ecdf.json'), 'utf8')) as Record<string, Case>;
const values = (b64: string) => new Float64Array(new Uint8Array(Buffer.from(b64, 'base64')).buffer);

/** A side cut into uneven segments, as the engine's blocks arrive. */
function segments(v: Float64Array, k: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let i = 0, s = 0; s < v.length; i++) {
    const len = Math.max(1, Math.floor((v.length / k) * (0.5 + ((i * 37) % 10) / 10)));
    out.push(v.slice(s, s + len));
    s += len;
  }
  return out;
}

function expectClose(actual: number, expected: number | string, rel: number, what: string) {
  // numpy writes inf as "inf": JavaScript's Infinity.
  if (typeof expected === 'string') return expect(actual, what).toBe(Number(expected.replace('inf', 'Infinity')));
  if (expected === 0) return expect(actual, what).toBe(0);
  expect(Math.abs(actual - expected) / Math.abs(expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(rel);
}

describe('EcdfBins: D and W without sorting', () => {
  for (const [name, c] of Object.entries(cases)) {
    it(name, () => {
      for (const bins of [undefined, 16, 64]) {
        const e = new EcdfBins(bins);
        const ref = segments(values(c.ref), 5);
        const cur = segments(values(c.cur), 3);
        // Sides interleaved, the current side first: the range is guessed from whatever comes first.
        for (let i = 0; i < Math.max(ref.length, cur.length); i++) {
          for (const [side, parts] of [[1, cur], [0, ref]] as const) if (parts[i]) e.add(side, parts[i]);
        }
        expect([e.sides[0].n, e.sides[1].n]).toEqual([values(c.ref).length, values(c.cur).length]);
        const { d, w } = e.distances();
        expectClose(d, c.d, 1e-12, `${name} D, ${bins ?? 'default'} bins`);
        expectClose(w, c.w, 1e-12, `${name} W, ${bins ?? 'default'} bins`);
      }
    });
  }
});

/** Native blocks of (value Float64 columns..., side UInt8), as numericScanSql's stream. */
function block(columns: Float64Array[], sides: number[]): Uint8Array {
  const rows = sides.length;
  const leb = (x: number) => {
    const out: number[] = [];
    do {
      out.push((x & 127) | (x >= 128 ? 128 : 0));
      x = Math.floor(x / 128);
    } while (x > 0);
    return out;
  };
  const str = (s: string) => [...leb(s.length), ...Buffer.from(s)];
  const parts: Buffer[] = [Buffer.from([...leb(columns.length + 1), ...leb(rows)])];
  columns.forEach((v, i) => {
    parts.push(Buffer.from([...str(`c${i}`), ...str('Float64')]), Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  });
  parts.push(Buffer.from([...str('dw_side'), ...str('UInt8')]), Buffer.from(sides));
  return new Uint8Array(Buffer.concat(parts));
}

async function* stream(chunks: Uint8Array[]) {
  yield* chunks;
}

describe('scanNumericColumns: the engine summary from streamed blocks', () => {
  it('every fixture as one column each, with missing and infinite values added, blocks of mixed sides too', async () => {
    const names = Object.keys(cases);
    const rows = 1500;
    const chunks: Uint8Array[] = [];
    // Each column gets its values plus NaN, +Inf and -Inf on both sides, spread over blocks.
    const sides: [Float64Array[], Float64Array[]] = [[], []];
    names.forEach((n) => {
      sides[0].push(Float64Array.from([...values(cases[n].ref), NaN, Infinity, NaN]));
      sides[1].push(Float64Array.from([...values(cases[n].cur), -Infinity, NaN]));
    });
    const longest = Math.max(...sides.flat().map((v) => v.length));
    for (let start = 0; start < longest; start += rows) {
      for (const side of [0, 1] as const) {
        // Pad a column with NaN (missing) past its own end: every column has every row.
        const cols = sides[side].map((v) => Float64Array.from({ length: rows }, (_, i) => (start + i < v.length ? v[start + i] : NaN)));
        chunks.push(block(cols, Array(rows).fill(side)));
      }
    }
    // One block holding both sides: a row of each.
    chunks.push(block(names.map(() => Float64Array.from([NaN, NaN])), [0, 1]));
    for (const bins of [undefined, 16]) {
      const out = await scanNumericColumns(stream(chunks.map((c) => c.slice())), names, { bins });
      names.forEach((name, i) => {
        const c = cases[name];
        const r = out[i];
        const [n, m] = [values(c.ref).length, values(c.cur).length];
        expect(r.column).toBe(name);
        expect([r.n, r.m], name).toEqual([n, m]);
        expect([r.refRows, r.curRows], name).toEqual([Math.ceil(longest / rows) * rows + 1, Math.ceil(longest / rows) * rows + 1]);
        expect([r.refNonFinite, r.curNonFinite], name).toEqual([1, 1]);
        expect(r.distinct, name).toBe(c.distinct_capped);
        expect(r.outside, name).toBe(c.outside);
        expectClose(r.std, c.std, 1e-9, `${name} std`);
        expectClose(r.d, c.d, 1e-12, `${name} D`);
        expectClose(r.w, c.w, 1e-12, `${name} W`);
        const ref = values(c.ref).map((x) => x + 0);
        expect([r.refMin, r.refMax], name).toEqual([Math.min(...ref), Math.max(...ref)]);
      });
    }
  });

  it('a column with no value on one side has no distances', async () => {
    const out = await scanNumericColumns(stream([block([Float64Array.from([1, 2, 3])], [0, 0, 0]), block([Float64Array.from([NaN, NaN])], [1, 1])]), ['x']);
    expect(out[0]).toMatchObject({ n: 3, m: 0, refRows: 3, curRows: 2, d: NaN, w: NaN, outside: 0 });
  });

  it('refuses a block of another shape', async () => {
    await expect(scanNumericColumns(stream([block([Float64Array.from([1])], [0])]), ['x', 'y'])).rejects.toThrow(/2 columns, expected 3/);
  });
});
