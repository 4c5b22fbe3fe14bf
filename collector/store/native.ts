// Blocks of ClickHouse's Native format (the engine's own columnar output): per block, the number of
// columns and rows (LEB128), then per column its name, its type and its values, column after column.
// Only the fixed-width types a caller selects are read here; anything else is an error, not a guess.
import protobuf from 'protobufjs';

const { Reader } = protobuf;

const WIDTH: Readonly<Record<string, number>> = { UInt8: 1, Float64: 8 };

export interface NativeColumn {
  name: string;
  type: string;
  /** The column's values as they lie in the block (little-endian). */
  data: Uint8Array;
}

export interface NativeBlock {
  rows: number;
  columns: NativeColumn[];
}

/**
 * The blocks of a buffer holding whole blocks (as the embedded engine streams them). Counts and
 * names are encoded as protobuf's varints and strings are: protobufjs' Reader reads them.
 */
export function* nativeBlocks(buf: Uint8Array): Generator<NativeBlock> {
  const r = Reader.create(buf);
  while (r.pos < r.len) yield block(r, buf);
}

function block(r: protobuf.Reader, buf: Uint8Array): NativeBlock {
  try {
    const ncols = r.uint32();
    const rows = r.uint32();
    const columns: NativeColumn[] = [];
    for (let c = 0; c < ncols; c++) {
      const name = r.string();
      const type = r.string();
      const width = WIDTH[type];
      if (width === undefined) throw new Error(`Native column ${name}: type ${type} is not read here`);
      const start = r.pos;
      r.skip(rows * width);
      columns.push({ name, type, data: buf.subarray(start, r.pos) });
    }
    return { rows, columns };
  } catch (e) {
    // The Reader's own error for reading past the end.
    if (e instanceof RangeError) throw new Error('Native block cut short');
    throw e;
  }
}

/** A Float64 column's values: a view when they lie 8-byte aligned, else a copy. */
export function float64Values(data: Uint8Array): Float64Array {
  if ((data.byteOffset & 7) === 0) return new Float64Array(data.buffer, data.byteOffset, data.length >>> 3);
  // (A copy of its own: a Node Buffer's slice() would share the pool's memory.)
  const copy = new Uint8Array(data.length);
  copy.set(data);
  return new Float64Array(copy.buffer);
}
