// Promise: a spool file that cannot be read back (truncated by a disk error or a partial copy, or a
// byte damaged inside a row, which its checksum shows) does not keep the collector degraded: it is moved to the spool's corrupt/ folder, logged, counted in
// /metrics, and the batches behind it replay.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRows } from '../../collector/store/client.js';
import { Spool } from '../../collector/store/spool.js';
import { spoolPayload } from '../../collector/store/writer.js';
import { encodePredictions } from '../../collector/store/rowbinary.js';
import type { PredictionRow } from '../../collector/ingest/records.js';
import { startTestCollector, waitFor, type TestCollector } from '../helpers/collector.js';

const pred = (id: string): PredictionRow => ({ model: 'corrupt', version: 'v', ts: Date.now(), id, prediction: '1', predictionNum: 1, score: 0.5, latencyMs: 1, num: {}, cat: {}, segment: {} });
const payload = (ids: string[]) => spoolPayload({ predictions: [encodePredictions(ids.map(pred))], labels: [], metric_points: [] });

describe('a corrupt spool file at start', () => {
  let c: TestCollector | undefined;
  afterAll(() => c?.close());

  it('is moved aside and counted; the rest replays and the collector becomes ready', async () => {
    // The spool a previous collector left, its second file cut short, in its third one bit flipped
    // in the row's bytes (the model name's length: ClickHouse alone would refuse it as unreadable,
    // code 33, which is retried).
    const spoolDir = join(mkdtempSync(join(tmpdir(), 'dw-spool-corrupt-')), 'spool');
    const left = new Spool(spoolDir, 1 << 24);
    left.append(payload(['a', 'b']));
    const cut = payload(['c']);
    left.append(cut.subarray(0, cut.length - 3));
    const flipped = payload(['e']);
    flipped[flipped.indexOf(10, 29) + 1 + 4] ^= 0x40;
    left.append(flipped);
    left.append(payload(['d']));

    c = await startTestCollector({ spoolDir });
    const collector = c;
    await waitFor(async () => (await fetch(`${collector.url}/readyz`)).status === 200, 20_000);
    expect(readdirSync(spoolDir).filter((f) => f.endsWith('.batch'))).toEqual([]);
    expect(readdirSync(join(spoolDir, 'corrupt'))).toEqual(['0000000000000001.batch', '0000000000000002.batch']);
    expect(c.logs.filter((l) => l.event === 'spool_corrupt')).toMatchObject([
      { file: join(spoolDir, '0000000000000001.batch'), moved_to: join(spoolDir, 'corrupt', '0000000000000001.batch'), error: expect.stringMatching(/truncated/) },
      { file: join(spoolDir, '0000000000000002.batch'), moved_to: join(spoolDir, 'corrupt', '0000000000000002.batch'), error: expect.stringMatching(/sha256/) },
    ]);
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/^driftwatch_spool_corrupt_total 2$/m);
    expect(metrics).toMatch(/^driftwatch_spool_bytes 0$/m);
    expect(metrics).toMatch(/^driftwatch_store_up 1$/m);
    const rows = await queryRows<{ id: string }>(c.store.client, "SELECT id FROM predictions WHERE model = 'corrupt' ORDER BY id");
    expect(rows.map((r) => r.id)).toEqual(['a', 'b', 'd']);
  });
});
