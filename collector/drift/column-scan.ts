// Numerical columns streamed out of the embedded engine as they are read (Native format, one block
// at a time) and summarised block by block (column-stats.ts) while the engine formats the next one.
// The CLI's files take this path: the engine decodes the files on its threads, this one counts each
// block into bins, and no sort of a million values runs anywhere (bench/README.md, session 7).
import { ColumnStats, type ScannedColumn } from './column-stats.js';
import { float64Values, nativeBlocks, type NativeBlock } from '../store/native.js';

export type { ScannedColumn } from './column-stats.js';

/** Column aliases whose Native headers keep every column's values 8-byte aligned (read in place). */
function alias(i: number): string {
  // A block starts with 1 + 3 bytes (columns, rows), a column header is 1 + name + 1 + 7 ('Float64'):
  // the first name takes 3 characters, the others 7.
  return i === 0 ? 'v00' : `v${String(i).padStart(6, '0')}`;
}

/**
 * The query whose Native stream scanNumericColumns reads: the columns' values (Float64, NaN for a
 * missing one) of both tables, then the side (UInt8, 0 reference, 1 current). exprs give each
 * column's Float64 or Nullable(Float64) expression per side.
 */
export function numericScanSql(ref: { from: string; exprs: readonly string[] }, cur: { from: string; exprs: readonly string[] }): string {
  const select = (exprs: readonly string[], side: number) => `SELECT ${exprs.map((e, i) => `ifNull(${e}, nan) AS ${alias(i)}`).join(', ')}, toUInt8(${side}) AS dw_side`;
  return `${select(ref.exprs, 0)} FROM ${ref.from}\nUNION ALL\n${select(cur.exprs, 1)} FROM ${cur.from}`;
}

/**
 * Reads the Native stream of numericScanSql (chunks of whole blocks) for the given columns, in its
 * order. n m must stay below 2^53 (S in ecdf.ts is then exact): the caller checks the row counts.
 */
export async function scanNumericColumns(chunks: AsyncIterable<Uint8Array>, columns: readonly string[], opts: { bins?: number } = {}): Promise<ScannedColumn[]> {
  const stats = columns.map(() => new ColumnStats(opts.bins));
  const add = (side: 0 | 1, values: Float64Array[]) => {
    for (let i = 0; i < stats.length; i++) stats[i].add(side, values[i]);
  };
  const addBlock = (block: NativeBlock) => {
    if (block.columns.length !== columns.length + 1) throw new Error(`numeric scan: a block of ${block.columns.length} columns, expected ${columns.length + 1}`);
    if (block.rows === 0) return;
    const sides = block.columns[columns.length].data;
    const values = block.columns.slice(0, columns.length).map((c) => float64Values(c.data));
    const side = sides[0];
    if (sides.every((s) => s === side)) {
      if (side !== 0 && side !== 1) throw new Error(`numeric scan: side ${side}`);
      add(side, values);
    } else {
      // A block mixing both sides (the engine does not squash them so far): split by side.
      for (const s of [0, 1] as const) add(s, values.map((v) => v.filter((_, row) => sides[row] === s)));
    }
  };
  // The next chunk is asked for before this one is counted: the engine formats it meanwhile.
  const it = chunks[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (let r = await next; !r.done; r = await next) {
      next = it.next();
      for (const block of nativeBlocks(r.value)) addBlock(block);
    }
  } catch (e) {
    // The stream stops here: the engine's session must not stay busy with it, nor the chunk asked
    // for next reject unheard.
    next.catch(() => undefined);
    await it.return?.();
    throw e;
  }
  return stats.map((s, i) => s.result(columns[i]));
}
