// Bulk label uploads in the three formats, against a real collector; bad files are named clearly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../collector/store/client.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

describe('POST /api/v1/models/{model}/labels', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector();
  });
  afterAll(async () => c?.close());

  const upload = (model: string, body: BodyInit, contentType: string, query = '') =>
    fetch(`${c.url}/api/v1/models/${model}/labels${query}`, { method: 'POST', body, headers: { 'content-type': contentType } });
  const labels = (model: string) =>
    queryRows<{ id: string; label: string; ts: string }>(c.store.client, `SELECT id, label, toString(ts) AS ts FROM labels FINAL WHERE model = {m:String} ORDER BY id`, { m: model });

  it('reads CSV with a header (extra columns ignored, ts optional)', async () => {
    const res = await upload('csv-model', 'id,label,ts,note\na,1,2026-01-02T03:04:05Z,x\nb,0,,y\n', 'text/csv');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ model: 'csv-model', labels: 2 });
    const rows = await labels('csv-model');
    expect(rows.map((r) => [r.id, r.label])).toEqual([['a', '1'], ['b', '0']]);
    expect(rows[0].ts).toBe('2026-01-02 03:04:05.000');
  });

  it('reads JSON lines, numbers and strings alike', async () => {
    const res = await upload('jsonl-model', '{"id":"a","label":1}\n{"id":"b","label":"cat"}\n', 'application/x-ndjson');
    expect(res.status).toBe(200);
    expect((await labels('jsonl-model')).map((r) => [r.id, r.label])).toEqual([['a', '1'], ['b', 'cat']]);
  });

  it('reads Parquet', async () => {
    // A real Parquet file, written by the engine's own Parquet writer (pyarrow is not on the machine).
    const rs = await c.store.client.exec({ query: "SELECT toString(number) AS id, toString(number % 2) AS label FROM numbers(1000) FORMAT Parquet" });
    const chunks: Buffer[] = [];
    for await (const chunk of rs.stream) chunks.push(chunk as Buffer);
    const parquet = Buffer.concat(chunks);
    expect(parquet.subarray(0, 4).toString()).toBe('PAR1');
    const res = await upload('pq-model', parquet, 'application/octet-stream', '?format=parquet');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ model: 'pq-model', labels: 1000 });
    const rows = await labels('pq-model');
    expect(rows).toHaveLength(1000);
    expect(rows.find((r) => r.id === '7')?.label).toBe('1');
  });

  it('names what is wrong with a bad upload', async () => {
    const noLabel = await upload('bad', 'id,value\na,1\n', 'text/csv');
    expect(noLabel.status).toBe(400);
    expect(((await noLabel.json()) as { error: string }).error).toBe('column "label" is missing (or empty in every row)');
    const someEmpty = await upload('bad', 'id,label\na,1\n,0\n', 'text/csv');
    expect(((await someEmpty.json()) as { error: string }).error).toBe('column "id" is empty in 1 of 2 rows');
    const garbage = await upload('bad', Buffer.from([1, 2, 3, 4]), 'application/vnd.apache.parquet');
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { error: string }).error).toMatch(/^the parquet upload could not be read/);
    const unknown = await upload('bad', 'x', 'text/plain');
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: string }).error).toMatch(/^Content-Type must be/);
    expect(await labels('bad')).toEqual([]);
  });
});
