// Baselines over HTTP: a past window, or an uploaded reference (CSV, JSON lines, Parquet) that gives
// the same profile as the same values sent as predictions; drift served from them, per segment too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertPredictions } from '../../collector/store/writer.js';
import type { PredictionRow } from '../../collector/ingest/records.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const MIN = 60_000;

function rows(version: string, from: number, n: number, shift: number): PredictionRow[] {
  return Array.from({ length: n }, (_, i) => ({
    model: 'api', version, ts: from + i * 100, id: `${version}-${from}-${i}`,
    prediction: i % 3 === 0 ? 'yes' : 'no', predictionNum: NaN, score: ((i * 37) % 100) / 100, latencyMs: 3,
    num: { x: ((i * 7919) % 1000) / 10 + shift * 20, y: i % 4 },
    cat: { c: ['a', 'b', 'c'][i % 3] },
    segment: { region: i % 2 ? 'us' : 'eu' },
  }));
}

interface Profile { feature: string; type: string; n: number; edges?: number[]; counts: number[]; categories?: string[] }

describe('baseline API', () => {
  let c: TestCollector;
  const now = Date.now();
  const refFrom = Math.floor((now - 2 * 3_600_000) / MIN) * MIN;
  const ref = rows('v1', refFrom, 3000, 0);
  const refTo = ref[ref.length - 1].ts;

  beforeAll(async () => {
    c = await startTestCollector({ baselineRows: 1_000_000 });
    await insertPredictions(c.store, ref);
    await insertPredictions(c.store, rows('v1', now - 40 * MIN, 6000, 1));
  });
  afterAll(async () => c?.close());

  const api = (path: string, init?: RequestInit) => fetch(`${c.url}/api/v1/models/api${path}`, init);
  const put = (body: unknown) => api('/baseline', { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const upload = (version: string, body: BodyInit, contentType: string, query = '') =>
    api(`/baseline?version=${version}${query}`, { method: 'POST', body, headers: { 'content-type': contentType } });
  const profile = async (version: string): Promise<Map<string, Profile>> => {
    const res = await api(`/baseline?version=${version}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { baselines: { features: Profile[] }[] };
    return new Map(body.baselines[0].features.map((f) => [f.feature, f]));
  };

  it('sets a baseline from a past window and serves drift from the rollups', async () => {
    const res = await put({ version: 'v1', from: new Date(refFrom).toISOString(), to: refTo / 1000 });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ model: 'api', version: 'v1', rows: 3000, features: 5, from: new Date(refFrom).toISOString() });
    const drift = await api('/drift?window=1h&method=psi&version=v1');
    expect(drift.status).toBe(200);
    const body = (await drift.json()) as { versions: { baseline: { source: string }; current: { read: string }; current_rows: number; columns: { column: string; drift: boolean }[] }[] };
    const v = body.versions[0];
    expect(v.baseline.source).toMatch(/^window /);
    expect(v.current.read).toBe('rollups');
    expect(v.current_rows).toBe(6000);
    expect(v.columns.map((x) => x.column)).toEqual(['@prediction', '@score', 'c', 'x', 'y']);
    expect(v.columns.find((x) => x.column === 'x')!.drift).toBe(true);
    expect(v.columns.find((x) => x.column === 'c')!.drift).toBe(false);
  });

  it('an uploaded CSV, JSON lines or Parquet reference gives the same profile as the same rows sent live', async () => {
    const live = await profile('v1');
    const csv = 'id,x,y,c\n' + ref.map((r, i) => `${i},${r.num.x},${r.num.y},${r.cat.c}`).join('\n') + '\n';
    const jsonl = ref.map((r) => JSON.stringify({ x: r.num.x, y: r.num.y, c: r.cat.c })).join('\n');
    const rs = await c.store.client.exec({
      query: `SELECT (number * 7919 % 1000) / 10 AS x, toInt64(number % 4) AS y, ['a', 'b', 'c'][number % 3 + 1] AS c FROM numbers(3000) FORMAT Parquet`,
    });
    const chunks: Buffer[] = [];
    for await (const chunk of rs.stream) chunks.push(chunk as Buffer);
    for (const [version, body, type] of [['u-csv', csv, 'text/csv'], ['u-jsonl', jsonl, 'application/x-ndjson'], ['u-pq', Buffer.concat(chunks), 'application/vnd.apache.parquet']] as const) {
      const res = await upload(version, body, type);
      expect(res.status, await res.clone().text()).toBe(200);
      expect(await res.json()).toMatchObject({ version, rows: 3000, features: 3, from: null, to: null });
      const p = await profile(version);
      for (const f of ['x', 'y', 'c']) expect(p.get(f), `${version} ${f}`).toEqual(live.get(f));
    }
  });

  it('serves drift against an uploaded reference', async () => {
    await insertPredictions(c.store, rows('u-csv', now - 30 * MIN, 3000, 0));
    const res = await api('/drift?window=1h&version=u-csv&method=jensenshannon');
    const body = (await res.json()) as { versions: { baseline: { from: null }; columns: { column: string; statistic: number }[] }[] };
    expect(body.versions[0].baseline.from).toBeNull();
    // The same values as the reference: no drift at all.
    expect(body.versions[0].columns.map((x) => [x.column, x.statistic])).toEqual([['c', 0], ['x', 0], ['y', 0]]);
  });

  it('serves per-segment drift', async () => {
    const res = await api('/drift?window=1h&version=v1&method=psi&segment=region');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { versions: { segment_key: string; segments: { segment: string; current_rows: number }[] }[] };
    expect(body.versions[0].segment_key).toBe('region');
    expect(body.versions[0].segments.map((s) => [s.segment, s.current_rows])).toEqual([['eu', 3000], ['us', 3000]]);
    const uploaded = await api('/drift?window=1h&version=u-csv&segment=region');
    expect(uploaded.status).toBe(400);
  });

  it('names bad requests', async () => {
    expect((await put({ from: 1, to: 2 })).status).toBe(400);
    expect((await put({ version: 'v1', from: 'yesterday', to: 2 })).status).toBe(400);
    const empty = await put({ version: 'v1', from: 1000, to: 2000 });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: string }).error).toMatch(/no predictions between/);
    expect((await upload('', 'x\n1\n', 'text/csv')).status).toBe(400);
    expect((await upload('v9', 'x\n', 'text/csv')).status).toBe(400);
    expect((await upload('v9', 'x\n1\n', 'application/octet-stream')).status).toBe(400);
  });
});
