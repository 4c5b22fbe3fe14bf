// The embedded engine reads staged rows with file(), which takes its path as a glob: a data
// directory whose path has glob characters must still store every row (staged elsewhere).
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, queryRows } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { insertPredictions } from '../../collector/store/writer.js';

describe('a data directory with glob characters in its path', () => {
  it('stores rows as anywhere else', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'dw-glob-')), 'models {a,b} * ? [x]');
    const store = await openStore({ dataDir });
    try {
      await migrate(store.client, { retentionDays: 30 });
      const rows = [0, 1, 2].map((i) => ({ model: 'glob', version: 'v', ts: Date.now() + i, id: `g${i}`, prediction: '1', predictionNum: 1, score: 0.5, latencyMs: 1, num: { f: i }, cat: {}, segment: {} }));
      await insertPredictions(store, rows);
      expect(await queryRows(store.client, "SELECT id, num['f'] AS f FROM predictions WHERE model = 'glob' ORDER BY id")).toEqual(rows.map((r, i) => ({ id: r.id, f: i })));
      expect(existsSync(join(dataDir, 'staging'))).toBe(false); // staged in a temporary directory instead
    } finally {
      await store.close();
    }
  });
});
