// The writer notices a store that went away while nothing was being written (so readiness does not
// wait for the next request), and comes back only once the store answers again. Spooled batches
// replay in order, several per insert.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, queryRows } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { Writer } from '../../collector/store/writer.js';
import { Spool } from '../../collector/store/spool.js';
import type { PredictionRow } from '../../collector/ingest/records.js';

const waitFor = async (ok: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};
const row = (id: string, ts: number): PredictionRow => ({ model: 'probe', version: 'v', ts, id, prediction: '1', predictionNum: 1, score: 0.5, latencyMs: 1, num: { f: 1 }, cat: {}, segment: {} });

describe('writer and an idle store', () => {
  it('an idle writer sees the store go (probe), stays degraded until it answers, then replays merged batches in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-probe-'));
    let store = await openStore({ dataDir: join(dir, 'data') });
    await migrate(store.client, { retentionDays: 30 });
    const spool = new Spool(join(dir, 'spool'), 1 << 24);
    const events: string[] = [];
    const inserts: number[] = [];
    const w = new Writer(store, { spool, probeIntervalMs: 200, replayIntervalMs: 100, log: (e) => events.push(e), onInsert: (t, n) => t === 'predictions' && inserts.push(n) });
    const t0 = Date.now();
    await w.write({ predictions: [row('before', t0)] });
    expect(w.degraded).toBe(false);

    // Nothing is written while the store goes away: the probe notices.
    await store.close();
    await waitFor(() => w.degraded, 3000);
    expect(events).toContain('store_unavailable');
    // Nothing spooled, yet the writer stays degraded: replay pings the store before leaving it.
    await new Promise((r) => setTimeout(r, 300));
    expect(w.degraded).toBe(true);
    expect(events).not.toContain('store_recovered');
    // Writes now go to the spool (acknowledged), one file per request.
    for (let i = 0; i < 6; i++) await w.write({ predictions: [row(`during-${i}`, t0 + 1 + i), row(`during-${i}b`, t0 + 1 + i)] });
    expect(spool.length).toBe(6);
    // Replay attempts against the closed store fail and keep everything.
    await new Promise((r) => setTimeout(r, 300));
    expect(w.degraded).toBe(true);
    expect(spool.length).toBe(6);

    store = await openStore({ dataDir: join(dir, 'data') });
    w.setStore(store);
    await waitFor(() => !w.degraded, 5000);
    expect(spool.length).toBe(0);
    expect(events.at(-1)).toBe('store_recovered');
    // The six spooled batches went in one insert (plus the one before the outage).
    expect(inserts).toEqual([1, 12]);
    const rows = await queryRows<{ id: string }>(store.client, "SELECT id FROM predictions WHERE model = 'probe' ORDER BY received_at, ts, id");
    expect(rows.map((r) => r.id)).toEqual(['before', ...Array.from({ length: 6 }, (_, i) => [`during-${i}`, `during-${i}b`]).flat()]);
    await w.close();
    await store.close();
  }, 30_000);
});
