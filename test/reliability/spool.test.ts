// Promises: while ClickHouse is unavailable, acknowledged batches wait in the fsync'd spool and are
// replayed in order, exactly once, when it returns; readiness says so meanwhile; a full spool
// pushes back (503 + Retry-After) instead of growing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { startTestCollector, waitFor, type TestCollector } from '../helpers/collector.js';

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const body = (ids: string[], ts: number) => JSON.stringify({
  resourceLogs: [{ resource: { attributes: [kv('ml.model.name', { stringValue: 'spool' })] }, scopeLogs: [{ logRecords: ids.map((id) => ({
    timeUnixNano: `${ts}000000`, eventName: 'ml.prediction',
    attributes: [kv('ml.prediction.id', { stringValue: id }), kv('ml.prediction.value', { intValue: 1 }), kv('ml.feature.x', { doubleValue: 1.5 })],
  })) }] }],
});

describe('ClickHouse unavailable', () => {
  let c: TestCollector;
  let reopened: Store | undefined;
  beforeAll(async () => {
    c = await startTestCollector({ spoolMaxBytes: 64 * 1024 });
  });
  afterAll(async () => {
    await c?.close();
    await reopened?.close();
  });

  const post = (b: string) => fetch(`${c.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });

  it('spools while the store is down, replays in order once it is back, and pushes back when full', async () => {
    const before = await post(body(['a0', 'a1'], Date.now()));
    expect(before.status).toBe(200);
    await c.writer.flush();
    expect((await fetch(`${c.url}/readyz`)).status).toBe(200);

    // The store goes away (the embedded engine closed; a server would refuse connections).
    const dataDir = join(c.dir, 'data');
    await c.store.close();
    const acked: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ids = [`b${i}-0`, `b${i}-1`, `b${i}-2`];
      const res = await post(body(ids, Date.now() + i));
      expect(res.status).toBe(200); // acknowledged: it is in the spool
      acked.push(...ids);
    }
    expect((await fetch(`${c.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    const spoolDir = join(c.dir, 'data', 'spool');
    expect(readdirSync(spoolDir).filter((f) => f.endsWith('.batch')).length).toBe(5);
    expect(await (await fetch(`${c.url}/metrics`)).text()).toMatch(/driftwatch_store_up 0/);

    // Fill the spool past its bound: the collector answers 503 with Retry-After and keeps nothing.
    let refused: Response | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const res = await post(body(Array.from({ length: 50 }, (_, k) => `fill-${i}-${k}`), Date.now()));
      if (res.status !== 200) refused = res;
      else acked.push(...Array.from({ length: 50 }, (_, k) => `fill-${i}-${k}`));
    }
    expect(refused?.status).toBe(503);
    expect(refused?.headers.get('retry-after')).toBe('5');

    // The store returns: the spool replays, readiness recovers, every acknowledged row is stored once.
    reopened = await openStore({ dataDir });
    c.writer.setStore(reopened);
    await waitFor(async () => (await fetch(`${c.url}/readyz`)).status === 200, 20_000);
    expect(readdirSync(spoolDir).filter((f) => f.endsWith('.batch'))).toEqual([]);
    const rows = await queryRows<{ id: string; n: string }>(reopened.client, "SELECT id, count() AS n FROM predictions WHERE model = 'spool' GROUP BY id");
    const stored = new Map(rows.map((r) => [r.id, Number(r.n)]));
    for (const id of ['a0', 'a1', ...acked]) expect(stored.get(id), id).toBe(1);
    expect(rows.length).toBe(2 + acked.length);
    // Replay kept the order of arrival: received_at grows with the batches' sequence.
    const order = await queryRows<{ id: string }>(reopened.client, "SELECT id FROM predictions WHERE model = 'spool' AND id LIKE 'b%' ORDER BY received_at, id");
    expect(order.map((r) => r.id)).toEqual(acked.filter((id) => id.startsWith('b')));
  });
});
