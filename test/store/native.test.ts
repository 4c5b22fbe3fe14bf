// nativeBlocks / float64Values: ClickHouse's Native format as the embedded engine streams it, read
// from the engine's own output (so the layout is the engine's, not this file's idea of it).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../collector/store/client.js';
import { float64Values, nativeBlocks } from '../../collector/store/native.js';
import { scanNumericColumns } from '../../collector/drift/column-scan.js';

let store: Store;
beforeAll(async () => {
  store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'driftwatch-native-')) });
});
afterAll(async () => {
  await store?.close();
});

async function collect(query: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of store.streamNative!(query)) out.push(c);
  return out;
}

describe('Native blocks from the embedded engine', () => {
  it('reads Float64 and UInt8 columns of every block, aligned or not, values exact', async () => {
    // 100 000 rows: several blocks; odd name lengths put the values at unaligned offsets.
    const chunks = await collect(`SELECT number * 0.5 - 7 AS a_odd_name, toUInt8(number % 3) AS s, -number / 3 AS b FROM numbers(100000) SETTINGS max_block_size = 30000`);
    let row = 0;
    let unaligned = 0;
    for (const chunk of chunks) {
      for (const block of nativeBlocks(chunk)) {
        expect(block.columns.map((c) => [c.name, c.type])).toEqual([['a_odd_name', 'Float64'], ['s', 'UInt8'], ['b', 'Float64']]);
        const a = float64Values(block.columns[0].data);
        const b = float64Values(block.columns[2].data);
        if (block.columns[0].data.byteOffset % 8 !== 0) unaligned++;
        for (let i = 0; i < block.rows; i++, row++) {
          if (a[i] !== row * 0.5 - 7 || block.columns[1].data[i] !== row % 3 || b[i] !== -row / 3) throw new Error(`row ${row} differs`);
        }
      }
    }
    expect(row).toBe(100000);
    expect(unaligned).toBeGreaterThan(0);
  });

  it('a copy for a value column off 8-byte alignment (a pooled Buffer too)', () => {
    const bytes = Buffer.alloc(17);
    bytes.writeDoubleLE(1.25, 1);
    bytes.writeDoubleLE(-3, 9);
    const v = float64Values(bytes.subarray(1));
    expect([...v]).toEqual([1.25, -3]);
    expect(v.buffer.byteLength).toBe(16);
  });

  it('refuses a type it does not read, and a block cut short', async () => {
    const [chunk] = await collect(`SELECT toString(number) AS t FROM numbers(3)`);
    expect(() => [...nativeBlocks(chunk)]).toThrow(/type String is not read here/);
    const [ok] = await collect(`SELECT toFloat64(number) AS x FROM numbers(3)`);
    expect(() => [...nativeBlocks(ok.subarray(0, ok.length - 1))]).toThrow(/cut short/);
  });

  it('a scan that fails midway closes its stream: the session streams again', async () => {
    // Blocks of 2 columns where the scan expects 3: it throws at the first block, others pending.
    const failing = scanNumericColumns(store.streamNative!(`SELECT toFloat64(number) AS v00, toUInt8(0) AS dw_side FROM numbers(300000) SETTINGS max_block_size = 10000`), ['a', 'b']);
    await expect(failing).rejects.toThrow(/a block of 2 columns, expected 3/);
    const chunks = await collect(`SELECT toFloat64(number) AS x FROM numbers(5)`);
    expect([...float64Values([...nativeBlocks(chunks[0])][0].columns[0].data)]).toEqual([0, 1, 2, 3, 4]);
  });
});
