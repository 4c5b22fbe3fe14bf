// The disk spool: while ClickHouse cannot take a batch, the batch is appended here (one file per
// batch, written then fsync'd, then renamed into place) and the request is acknowledged. Files are
// replayed in name order (a monotonic sequence) once ClickHouse answers again, and deleted only
// after their insert succeeded. Bounded in bytes: beyond the bound the writer refuses new data
// (backpressure) instead of growing.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface SpoolEntry { file: string; bytes: number }

export class Spool {
  private seq = 0;
  private total = 0;
  private entries: SpoolEntry[] = [];

  constructor(readonly dir: string, readonly maxBytes: number) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir).sort()) {
      const path = join(dir, f);
      if (f.endsWith('.tmp')) {
        unlinkSync(path); // a write interrupted before its fsync+rename was never acknowledged
        continue;
      }
      if (!f.endsWith('.batch')) continue;
      const bytes = statSync(path).size;
      this.entries.push({ file: path, bytes });
      this.total += bytes;
      this.seq = Math.max(this.seq, Number.parseInt(f, 10) + 1 || 0);
    }
  }

  get bytes(): number {
    return this.total;
  }

  get length(): number {
    return this.entries.length;
  }

  hasRoomFor(bytes: number): boolean {
    return this.total + bytes <= this.maxBytes;
  }

  /** Durably appends one batch; returns false when the spool is full. */
  append(payload: Buffer): boolean {
    if (!this.hasRoomFor(payload.length)) return false;
    const name = `${String(this.seq++).padStart(16, '0')}.batch`;
    const tmp = join(this.dir, name + '.tmp');
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, payload);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const path = join(this.dir, name);
    renameSync(tmp, path);
    // The rename is durable once the directory entry is.
    const dfd = openSync(this.dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
    this.entries.push({ file: path, bytes: payload.length });
    this.total += payload.length;
    return true;
  }

  /** The oldest batch (or the i-th oldest), if any. */
  peek(i = 0): { entry: SpoolEntry; payload: Buffer } | undefined {
    const entry = this.entries[i];
    if (!entry) return undefined;
    return { entry, payload: readFileSync(entry.file) };
  }

  /** Removes the oldest batch after it was stored. */
  remove(entry: SpoolEntry): void {
    if (this.entries[0] !== entry) throw new Error('spool entries must be removed in order');
    unlinkSync(entry.file);
    this.entries.shift();
    this.total -= entry.bytes;
  }
}
