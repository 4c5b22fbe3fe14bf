// Per-segment embedding drift through the API, against numpy/scipy
// (test/fixtures/drift/gen_embedding_segments.py): each segment's vectors in the baseline's time
// range against its vectors in the window, read from raw rows; and the whole report (profile and
// rollups) on the same rows, which drifts where one segment alone does not.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileSync } from 'node:fs';
import { insertPredictions } from '../../collector/store/writer.js';
import type { PredictionRow } from '../../collector/ingest/records.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { gramSampleSize } from '../../collector/drift/embedding.js';
import { queryRows } from '../../collector/store/client.js';

type Num = number | string;
interface Row { segment: string | null; text: Num[]; img: Num[] | null }
interface Expected { statistic: number; p_value: number; effect_size: number; drift: boolean; dimension: number; reference_missing: number; current_missing: number; reference_rows: number; current_rows: number }
const golden = JSON.parse(readFileSync(new URL('../fixtures/drift/embedding-segments-golden.json', import.meta.url), 'utf8')) as {
  reference: Row[]; current: Row[]; whole: Record<string, Expected>; segments: Record<string, Record<string, Expected>>;
};

const MIN = 60_000;
const value = (x: Num) => (x === 'nan' ? NaN : x === 'inf' ? Infinity : x === '-inf' ? -Infinity : Math.fround(x as number));

interface Column { column: string; type: string; method: string; statistic: number; p_value: number; effect_size: number; drift: boolean; dimension: number; reference_missing: number; current_missing: number }
interface Report { reference_rows: number; current_rows: number; columns: Column[] }

const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(b), 1e-300));

describe('per-segment embedding drift against numpy/scipy', () => {
  let c: TestCollector;
  const now = Date.now();
  const refFrom = Math.floor((now - 3 * 3_600_000) / MIN) * MIN;
  const worst = { whole: 0, segment: 0 };

  const rows = (list: Row[], from: number, step: number, side: string): PredictionRow[] =>
    list.map((r, i) => ({
      model: 'segemb', version: 'v1', ts: from + i * step, id: `${side}-${i}`, prediction: '1', predictionNum: 1, score: NaN, latencyMs: NaN,
      num: { x: i % 10 }, cat: {}, segment: r.segment === null ? ({} as Record<string, string>) : { region: r.segment },
      emb: { text: r.text.map(value), ...(r.img ? { img: r.img.map(value) } : {}) },
    }));

  beforeAll(async () => {
    c = await startTestCollector({ baselineRows: 1_000_000 });
    await insertPredictions(c.store, rows(golden.reference, refFrom, 1000, 'ref'));
    await insertPredictions(c.store, rows(golden.current, now - 40 * MIN, 2000, 'cur'));
    const res = await fetch(`${c.url}/api/v1/models/segemb/baseline`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: 'v1', from: refFrom / 1000, to: (refFrom + (golden.reference.length - 1) * 1000) / 1000 }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
  });
  afterAll(async () => {
    console.log(`per-segment embedding drift vs numpy/scipy: max relative error ${worst.segment.toExponential(2)} (segments, raw rows), ${worst.whole.toExponential(2)} (whole, profile and rollups)`);
    await c?.close();
  });

  function check(report: Report, want: Record<string, Expected>, which: 'whole' | 'segment', label: string) {
    const e0 = Object.values(want)[0];
    expect([report.reference_rows, report.current_rows], label).toEqual([e0.reference_rows, e0.current_rows]);
    for (const [name, e] of Object.entries(want)) {
      const col = report.columns.find((x) => x.column === name);
      expect(col, `${label} ${name}`).toMatchObject({ type: 'embedding', method: 'centroid', dimension: e.dimension, drift: e.drift, reference_missing: e.reference_missing, current_missing: e.current_missing });
      for (const k of ['statistic', 'p_value', 'effect_size'] as const) {
        const r = rel(col![k], e[k]);
        worst[which] = Math.max(worst[which], r);
        expect(r, `${label} ${name} ${k}: ${col![k]} vs numpy/scipy ${e[k]}`).toBeLessThan(1e-9);
      }
    }
  }

  it('the whole report: profile against rollups', async () => {
    const res = await fetch(`${c.url}/api/v1/models/segemb/drift?window=1h`);
    expect(res.status).toBe(200);
    const v = ((await res.json()) as { versions: (Report & { current: { read: string } })[] }).versions[0];
    expect(v.current.read).toBe('rollups');
    check(v, golden.whole, 'whole', 'whole');
    expect(v.columns.find((x) => x.column === 'text')!.drift).toBe(true);
  });

  it('each segment: its own reference rows against its own current rows', async () => {
    const res = await fetch(`${c.url}/api/v1/models/segemb/drift?window=1h&segment=region`);
    expect(res.status).toBe(200);
    const v = ((await res.json()) as { versions: { segment_key: string; segments: (Report & { segment: string })[] }[] }).versions[0];
    expect(v.segments.map((s) => s.segment)).toEqual(['eu', 'us']);
    for (const s of v.segments) {
      check(s, golden.segments[s.segment], 'segment', s.segment);
      // The scalar columns first, then the embeddings, as in the whole report.
      expect(s.columns.map((x) => x.column)).toEqual(['@prediction', 'x', 'img', 'text']);
    }
    // "eu" moved; "us" did not, though the whole (more "us" than before) did.
    expect(v.segments.map((s) => [s.segment, s.columns.find((x) => x.column === 'text')!.drift])).toEqual([['eu', true], ['us', false]]);
  });

  it('a repeated request reuses each segment\'s reference tr(Sigma^2): no Gram statement, the same statistics', async () => {
    const gramStatements = () => spy.mock.calls.filter(([q]) => String((q as { query?: string }).query).includes('CROSS JOIN s AS b')).length;
    const ask = async () => {
      const res = await fetch(`${c.url}/api/v1/models/segemb/drift?window=1h&segment=region`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { versions: { segments: (Report & { segment: string })[] }[] }).versions[0].segments;
    };
    const spy = vi.spyOn(c.store.client, 'query'); // counts the real client's statements; they still run
    try {
      const first = await ask();
      const second = await ask();
      expect(gramStatements()).toBe(0); // the test before this one computed them
      for (const [i, s] of second.entries()) {
        expect(s.columns.filter((x) => x.type === 'embedding')).toEqual(first[i].columns.filter((x) => x.type === 'embedding'));
        check(s, golden.segments[s.segment], 'segment', `${s.segment} (again)`);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('the Gram statements keep their join block size to themselves: later queries run with the default', async () => {
    // Baseline and per-segment Gram statements ran above. The embedded engine's connection makes a
    // query's clickhouse_settings session-wide SETs, which would slow every later join (insert views
    // included); the Gram query carries its setting in its own SETTINGS clause instead.
    const [{ now, dflt }] = await queryRows<{ now: string; dflt: string }>(c.store.client,
      "SELECT getSetting('max_joined_block_size_rows') AS now, (SELECT default FROM system.settings WHERE name = 'max_joined_block_size_rows') AS dflt");
    expect(String(now)).toBe(String(dflt));
    expect(Number(now)).toBeGreaterThan(256);
  });

  it("the segments of one request share one baseline's Gram work per embedding", () => {
    // Here (d = 12, 2 segments, at most 450 vectors each): every vector, as numpy takes them.
    expect(gramSampleSize(12, 450, 2)).toBe(450);
    expect(gramSampleSize(768, 10_000, 1)).toBe(2000);
    // 50 segments at d = 768: n_s^2 d = 282^2 * 768 each, 50 of them about one baseline's 2000^2 * 768.
    expect(gramSampleSize(768, 10_000, 50)).toBe(282);
    expect(gramSampleSize(4096, 10_000, 50)).toBe(122);
  });
});
