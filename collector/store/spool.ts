// The disk spool: while ClickHouse cannot take a batch, the batch is appended here (one file per
// batch, written then fsync'd, then renamed into place) and the request is acknowledged. Files are
// replayed in name order (a monotonic sequence) once ClickHouse answers again, and deleted only
// after their insert succeeded. Bounded in bytes: beyond the bound the writer refuses new data
// (backpressure) instead of growing. A file that cannot be read back is moved to `corrupt/` (kept
// for a person to look at, out of the replay order and the byte count). Beside the batches, the
// writer keeps a small durable note of how far the replay of the oldest batches got (progress).
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface SpoolEntry { file: string; bytes: number }

const PROGRESS = 'replay-progress.json';

/** Writes a file durably: to a temporary name, fsync'd, renamed into place, the directory fsync'd. */
function writeDurably(dir: string, name: string, data: Buffer): string {
  const tmp = join(dir, name + '.tmp');
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const path = join(dir, name);
  renameSync(tmp, path);
  syncDir(dir);
  return path;
}

// A rename or unlink is durable once the directory entry is.
function syncDir(dir: string): void {
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export class Spool {
  private seq = 0;
  private total = 0;
  private entries: SpoolEntry[] = [];
  /** Files moved to `corrupt/` since this process started. */
  corruptFiles = 0;

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
    const path = writeDurably(this.dir, `${String(this.seq++).padStart(16, '0')}.batch`, payload);
    this.entries.push({ file: path, bytes: payload.length });
    this.total += payload.length;
    return true;
  }

  /** The i-th oldest entry, without reading it. */
  at(i: number): SpoolEntry | undefined {
    return this.entries[i];
  }

  read(entry: SpoolEntry): Buffer {
    return readFileSync(entry.file);
  }

  /**
   * The file's identity beyond its name: names restart at 0 once the spool was emptied and the
   * process restarted, so a name alone could match a newer file than the one a progress note meant.
   */
  stamp(entry: SpoolEntry): string {
    const s = statSync(entry.file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  }

  /**
   * Moves the oldest batch, which cannot be read back, into `corrupt/`; returns where it went
   * (undefined if the file was already gone).
   */
  moveToCorrupt(entry: SpoolEntry): string | undefined {
    if (this.entries[0] !== entry) throw new Error('spool entries must be removed in order');
    const dir = join(this.dir, 'corrupt');
    mkdirSync(dir, { recursive: true });
    // Names restart at 0 once an emptied spool is reopened: never overwrite an earlier one.
    let to: string | undefined = join(dir, basename(entry.file));
    for (let n = 1; existsSync(to); n++) to = join(dir, `${basename(entry.file)}.${n}`);
    try {
      renameSync(entry.file, to);
      syncDir(dir);
      syncDir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      to = undefined; // deleted behind the spool's back: nothing left to keep
    }
    this.entries.shift();
    this.total -= entry.bytes;
    this.corruptFiles++;
    return to;
  }

  /** The replay progress note, if one was left (see Writer.replay). */
  loadProgress(): string | undefined {
    const path = join(this.dir, PROGRESS);
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  }

  /** Durably replaces the replay progress note. */
  saveProgress(text: string): void {
    writeDurably(this.dir, PROGRESS, Buffer.from(text));
  }

  clearProgress(): void {
    try {
      unlinkSync(join(this.dir, PROGRESS));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Removes the oldest batch after it was stored. */
  remove(entry: SpoolEntry): void {
    if (this.entries[0] !== entry) throw new Error('spool entries must be removed in order');
    unlinkSync(entry.file);
    this.entries.shift();
    this.total -= entry.bytes;
  }
}
