// A spool file whose read fails for a moment (too many open files, an I/O error) is not corrupt:
// it stays in the replay order and is replayed on a later tick, instead of being moved to corrupt/
// (where its acknowledged rows would wait for a person). A resumed group keeps its progress too.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spoolPayload, Writer, type WriterStore } from '../../collector/store/writer.js';
import { encodeLabels, encodePredictions } from '../../collector/store/rowbinary.js';
import { Spool, type SpoolEntry } from '../../collector/store/spool.js';

const emfile = () => Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE', errno: -24, syscall: 'open' });

class FlakySpool extends Spool {
  fails = 0;
  override read(e: SpoolEntry): Buffer {
    if (this.fails > 0) {
      this.fails--;
      throw emfile();
    }
    return super.read(e);
  }
}

const rows = (ids: string[]) =>
  encodePredictions(ids.map((id) => ({ model: 'm', version: 'v', ts: Date.now(), id, prediction: '1', predictionNum: 1, score: 0.5, latencyMs: 1, num: { f: 1 }, cat: {}, segment: {} })));

function fakeStore(failAfter = Infinity) {
  const inserted: number[] = [];
  const store = {
    client: { ping: async () => ({ success: true }) },
    insertRowBinary: async (_t: unknown, data: Buffer[]) => {
      if (inserted.length >= failAfter) throw new Error('connect ECONNREFUSED');
      inserted.push(data.length);
    },
  } as unknown as WriterStore;
  return { store, inserted };
}

const quiet = { replayIntervalMs: 3_600_000, probeIntervalMs: 3_600_000 };

describe('a spool file whose read fails for now', () => {
  it('stays in the spool and replays once it reads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-spool-read-'));
    const spool = new FlakySpool(dir, 1 << 24);
    spool.append(spoolPayload({ predictions: [rows(['a'])], labels: [], metric_points: [] }));
    const { store, inserted } = fakeStore();
    const events: string[] = [];
    const w = new Writer(store, { spool, log: (e) => events.push(e), ...quiet });
    spool.fails = 1;
    await w.replay();
    expect(spool.corruptFiles).toBe(0);
    expect(existsSync(join(dir, 'corrupt'))).toBe(false);
    expect(spool.length).toBe(1);
    expect(events).toContain('replay_failed');
    await w.replay();
    expect(inserted.length).toBe(1);
    expect(spool.length).toBe(0);
    expect(w.degraded).toBe(false);
    await w.close();
  });

  it('keeps a group begun earlier with its progress (no rows sent twice)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dw-spool-read-'));
    const spool = new FlakySpool(dir, 1 << 24);
    spool.append(spoolPayload({ predictions: [rows(['a'])], labels: [encodeLabels([{ model: 'm', id: 'a', ts: Date.now(), label: '1' }])], metric_points: [] }));
    const { store, inserted } = fakeStore(1); // the predictions go in, the labels' insert fails
    const w = new Writer(store, { spool, ...quiet });
    await w.replay();
    expect(inserted.length).toBe(1);
    expect(spool.length).toBe(1);
    spool.fails = 1; // the resumed group's read fails for now
    await w.replay();
    expect(spool.corruptFiles).toBe(0);
    const ok = fakeStore();
    w.setStore(ok.store);
    await w.replay();
    expect(ok.inserted.length).toBe(1); // the labels only: the predictions are not sent again
    expect(spool.length).toBe(0);
    await w.close();
  });
});
