// The `emb` column (migration 8): safe to run twice, RowBinary-encoded vectors read back as
// Float32, and a batch spooled by a collector from before the column (spool format 1) replays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { migrate, MIGRATIONS } from '../../collector/store/migrations/index.js';
import { encodePredictions } from '../../collector/store/rowbinary.js';
import { insertBlocks, readSpoolPayload } from '../../collector/store/writer.js';
import type { PredictionRow } from '../../collector/ingest/records.js';

const row = (id: string, emb?: Record<string, ArrayLike<number>>): PredictionRow => ({
  model: 'st', version: 'v', ts: Date.now() - 60_000, id, prediction: '1', predictionNum: 1, score: NaN, latencyMs: NaN, num: { x: 1 }, cat: {}, segment: {}, ...(emb ? { emb } : {}),
});

describe('embeddings in the store', () => {
  let s: Store;
  beforeAll(async () => {
    s = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'dw-emb-store-')) });
    await migrate(s.client, { retentionDays: 30 });
  });
  afterAll(async () => s?.close());

  it('migration 8 runs twice without harm', async () => {
    const m8 = MIGRATIONS.find((m) => m.version === 8)!;
    for (const q of m8.statements) await s.client.command({ query: q });
    expect(await migrate(s.client, { retentionDays: 30 })).toEqual([]);
  });

  it('stores vectors as Float32 and rows without any as an empty map', async () => {
    await insertBlocks(s, 'predictions', [encodePredictions([row('a', { e: [0.1, -2, 3e38], f: new Float32Array([1]) }), row('b')])]);
    const got = await queryRows<{ id: string; emb: Record<string, number[]> }>(s.client, `SELECT id, CAST(emb, 'Map(String, Array(Float64))') AS emb FROM predictions WHERE model = 'st' ORDER BY id`);
    expect(got).toEqual([{ id: 'a', emb: { e: [Math.fround(0.1), -2, Math.fround(3e38)], f: [1] } }, { id: 'b', emb: {} }]);
    const [m] = await queryRows<{ rows: string; n: string; s: number[] }>(s.client, `SELECT sum(rows) AS rows, sum(n) AS n, sumForEachMerge(sum) AS s FROM embedding_minutes WHERE model = 'st' AND embedding = 'e'`);
    expect({ rows: Number(m.rows), n: Number(m.n), s: m.s }).toEqual({ rows: 1, n: 1, s: [Math.fround(0.1), -2, Math.fround(3e38)] });
  });

  it('replays a format 1 spool batch (rows without the emb column)', async () => {
    const block = encodePredictions([row('old-1'), row('old-2')]);
    // Format 1 rows are today's without their last byte (the empty emb map).
    const ends: number[] = [];
    const parts: Buffer[] = [];
    let from = 0;
    for (const e of block.ends) {
      parts.push(block.data.subarray(from, e - 1));
      ends.push((ends.at(-1) ?? 0) + (e - 1 - from));
      from = e;
    }
    const data = Buffer.concat(parts);
    const payload = Buffer.concat([
      Buffer.from('driftwatch-spool rowbinary 1\n' + JSON.stringify([{ table: 'predictions', rows: 2, bytes: data.length }]) + '\n'),
      Buffer.from(Uint32Array.from(ends).buffer),
      data,
    ]);
    const batch = readSpoolPayload(payload);
    if (!('tables' in batch)) throw new Error('not read as RowBinary');
    await insertBlocks(s, 'predictions', batch.tables.predictions);
    const got = await queryRows<{ id: string; emb: Record<string, number[]> }>(s.client, `SELECT id, emb FROM predictions WHERE startsWith(id, 'old-') ORDER BY id`);
    expect(got).toEqual([{ id: 'old-1', emb: {} }, { id: 'old-2', emb: {} }]);
  });
});
