// Promise: a record acknowledged with HTTP 200 is stored, exactly once, even when the collector is
// killed with SIGKILL under load and restarted.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, queryRows } from '../../collector/store/client.js';
import { spawnCollector } from '../helpers/process.js';

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });

function body(ids: string[]): string {
  return JSON.stringify({
    resourceLogs: [{
      resource: { attributes: [kv('ml.model.name', { stringValue: 'kill' }), kv('ml.model.version', { stringValue: 'v1' })] },
      scopeLogs: [{
        logRecords: ids.map((id, i) => ({
          timeUnixNano: `${Date.now()}000000`,
          eventName: 'ml.prediction',
          attributes: [
            kv('ml.prediction.id', { stringValue: id }),
            kv('ml.prediction.value', { intValue: i % 2 }),
            ...Array.from({ length: 20 }, (_, k) => kv(`ml.feature.f${k}`, { doubleValue: Math.random() })),
          ],
        })),
      }],
    }],
  });
}

describe('SIGKILL under load', () => {
  it('stores every acknowledged record exactly once after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-kill-'));
    const env = { DRIFTWATCH_DATA_DIR: join(dir, 'data') };
    const first = await spawnCollector(env);

    const acked = new Set<string>();
    let sent = 0;
    let stop = false;
    const loop = async (worker: number) => {
      for (let n = 0; !stop; n++) {
        const ids = Array.from({ length: 250 }, (_, i) => `w${worker}-b${n}-${i}`);
        sent += ids.length;
        try {
          const res = await fetch(`${first.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(ids) });
          if (res.status === 200) ids.forEach((id) => acked.add(id));
          else await res.arrayBuffer();
        } catch {
          return; // the collector is gone: this request was never acknowledged
        }
      }
    };
    const loops = [0, 1, 2, 3].map(loop);
    await new Promise((r) => setTimeout(r, 2500));
    first.child.kill('SIGKILL');
    await first.exited;
    stop = true;
    await Promise.all(loops);
    expect(acked.size).toBeGreaterThan(1000);
    expect(sent).toBeGreaterThan(acked.size); // some requests were in flight when it died

    // Restart on the same data: whatever was spooled replays; then stop it cleanly and count.
    const second = await spawnCollector(env);
    second.child.kill('SIGTERM');
    const code = await second.exited;
    expect(code, second.output.join('')).toBe(0);

    const store = await openStore({ dataDir: env.DRIFTWATCH_DATA_DIR });
    try {
      const rows = await queryRows<{ id: string; n: string }>(
        store.client,
        `SELECT id, count() AS n FROM predictions FINAL WHERE model = 'kill' GROUP BY id`,
      );
      const stored = new Map(rows.map((r) => [r.id, Number(r.n)]));
      const missing = [...acked].filter((id) => !stored.has(id));
      expect(missing).toEqual([]);
      expect(rows.filter((r) => Number(r.n) !== 1)).toEqual([]);
      console.log(`sigkill: ${sent} sent, ${acked.size} acknowledged, ${rows.length} stored, 0 lost, 0 duplicated`);
    } finally {
      await store.close();
    }
  }, 120_000);
});
