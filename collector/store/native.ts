// Blocks of ClickHouse's Native format (the engine's own columnar output): per block, the number of
// columns and rows (LEB128), then per column its name, its type and its values, column after column.
// Only the fixed-width types a caller selects are read here; anything else is an error, not a guess.

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

/** The blocks of a buffer holding whole blocks (as the embedded engine streams them). */
export function* nativeBlocks(buf: Uint8Array): Generator<NativeBlock> {
  let p = 0;
  const varuint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      if (p >= buf.length) throw new Error('Native block cut short');
      const c = buf[p++];
      v += (c & 127) * 2 ** shift;
      if (c < 128) return v;
    }
  };
  const text = (): string => {
    const len = varuint();
    if (p + len > buf.length) throw new Error('Native block cut short');
    const s = Buffer.from(buf.buffer, buf.byteOffset + p, len).toString('utf8');
    p += len;
    return s;
  };
  while (p < buf.length) {
    const ncols = varuint();
    const rows = varuint();
    const columns: NativeColumn[] = [];
    for (let c = 0; c < ncols; c++) {
      const name = text();
      const type = text();
      const width = WIDTH[type];
      if (width === undefined) throw new Error(`Native column ${name}: type ${type} is not read here`);
      const bytes = rows * width;
      if (p + bytes > buf.length) throw new Error('Native block cut short');
      columns.push({ name, type, data: buf.subarray(p, p + bytes) });
      p += bytes;
    }
    yield { rows, columns };
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
