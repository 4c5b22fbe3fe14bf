// The bounded columnar buffer between the hot path and the export pipeline.
//
// Predictions are written into preallocated column arrays (`Chunk`) of a cached layout (the feature
// keys, then the segment keys): a record whose keys come in the same order as the layout's is copied
// value by value, with no allocation for numbers; strings are stored once per chunk (categorical
// values repeat), so the export message carries few of them. Every byte a chunk allocates (columns at their full capacity, plus
// strings) is counted against `maxBytes` from allocation until the pipeline reports the chunk
// exported or failed; a record that does not fit is dropped and counted, never queued.
import { MAX_EMBEDDING_DIMS, TAG_FALSE, TAG_MISSING, TAG_NUMBER, TAG_STRING, TAG_TRUE, type Batch, type Chunk, type EmbeddingColumns, type LabelItem } from './batch.js';
import type { EmbeddingValue, FeatureValue } from './types.js';

/** Copies the values of a features object of one layout into row cells base..base+nf-1. */
type Reader = (f: Record<string, FeatureValue>, c: Chunk, base: number, buffer: ColumnBuffer) => void;

interface Layout {
  /** Features, then segment keys. */
  keys: string[];
  fkeys: string[];
  skeys: string[];
  read: Reader;
  readSeg: Reader;
  /** Strings of the open chunk -> their index in its `strs`. */
  dict: Map<string, number>;
  open: Chunk | undefined;
  nextCap: number;
  /** Fixed bytes per row: 9 per feature, 4 numeric columns, a tag, the id slot. */
  rowBytes: number;
}

const MAX_LAYOUTS = 64;
const FIRST_CAP = 64;
const ID_BYTES = 8; // the id's sequence number; ids given by callers are counted per record
const LABEL_BYTES = 80;
const CHUNK_BYTES = 1024; // a chunk's own objects: the record, its small arrays
// A chunk (and an export request) holds at most about this many bytes: records with long strings
// make smaller batches, far below the collector's body limit (32 MB after decompression).
const MAX_CHUNK_BYTES = 8 * 1024 * 1024;
const ROW_SLACK = 8; // allocator and bookkeeping overhead, so that the estimate errs high
const DICT_MAX_LENGTH = 64;
const EMB_FIRST_VALUES = MAX_CHUNK_BYTES / 2 / 4; // a chunk's first embedding column: at most 4 MB // longer strings are not looked up (rarely repeated)
const NO_KEYS: string[] = [];

/** Problems the hot path met, reported by kind (logged once each) and counted. */
export type Problem = 'feature-type' | 'string-truncated' | 'prediction-type' | 'score-type' | 'too-many-layouts' | 'embedding-type';

export class ColumnBuffer {
  /** Bytes held: chunks being filled, sealed chunks, batches in flight, labels. */
  bytes = 0;
  dropped = 0;
  invalid = 0;
  private readonly layouts = new Map<string, Layout>();
  private cur: Layout | undefined;
  private sealed: Chunk[] = [];
  private sealedRows = 0;
  private labels: LabelItem[] = [];
  private labelHead = 0;
  private seq = 0;
  private readonly inflight = new Map<number, { bytes: number; rows: number }>();
  /** Bytes of strings met while filling the current row. */
  private rowExtra = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxBatch: number,
    private readonly maxString: number,
    private readonly onProblem: (p: Problem, detail: string) => void,
    /** Called when a chunk fills up (a full batch may be ready). */
    private readonly onFull: () => void,
    /**
     * Bytes an embedding element takes in the request (protobuf 11; OTLP/JSON about 40): a chunk is
     * also cut when its vectors would make a request over MAX_CHUNK_BYTES, so that a batch of
     * large embeddings stays far below the collector's body limit whatever the encoding.
     */
    private readonly embWireBytes = 11,
  ) {}

  /** Rows waiting (sealed or being filled), labels included. */
  get pending(): number {
    let n = this.sealedRows + this.labels.length - this.labelHead;
    for (const l of this.layouts.values()) if (l.open) n += l.open.n;
    return n;
  }
  get readyRows(): number {
    return this.sealedRows + this.labels.length - this.labelHead;
  }

  /** The hot path. Returns false when the record was dropped (buffer full) or invalid. */
  push(
    features: Record<string, FeatureValue>,
    /** The id's sequence number when generated (the id is then not stored), else -1 and `id`. */
    seq: number,
    id: string | undefined,
    ts: number,
    prediction: unknown,
    score: unknown,
    latencyMs: unknown,
    segment: Record<string, string | number | boolean> | undefined,
    embeddings?: Record<string, EmbeddingValue>,
  ): boolean {
    this.rowExtra = 0;
    const layout = this.cur;
    let c = layout?.open;
    if (c === undefined || !this.fastFill(layout!, c, features, segment)) {
      c = this.slowChunk(features, segment);
      if (c === undefined) return false;
    }
    const i = c.n;
    // The prediction value.
    if (typeof prediction === 'number') {
      c.pred[i] = prediction;
      c.predTag[i] = TAG_NUMBER;
    } else if (typeof prediction === 'string') {
      c.pred[i] = this.str(c, prediction);
      c.predTag[i] = TAG_STRING;
    } else if (typeof prediction === 'boolean') {
      c.predTag[i] = prediction ? TAG_TRUE : TAG_FALSE;
    } else {
      this.invalid++;
      this.onProblem('prediction-type', `prediction must be a number, string or boolean, got ${prediction === null ? 'null' : typeof prediction}; record skipped`);
      return false;
    }
    c.score[i] = typeof score === 'number' ? score : this.notNumber(score, 'score');
    c.lat[i] = typeof latencyMs === 'number' ? latencyMs : this.notNumber(latencyMs, 'latencyMs');
    // Vectors are copied after the checks that can skip the record; undone if it is dropped below.
    const e0 = c.emb === undefined ? 0 : c.emb.nEnt;
    const v0 = c.emb === undefined ? 0 : c.emb.nVals;
    if (embeddings !== undefined && embeddings !== null && !this.embed(c, embeddings)) {
      if (c.emb !== undefined) {
        c.emb.nEnt = e0;
        c.emb.nVals = v0;
      }
      return false;
    }
    const extra = seq >= 0 ? this.rowExtra : this.rowExtra + 40 + (id?.length ?? 0) * 2;
    if (extra > 0) {
      if (this.bytes + extra > this.maxBytes) {
        this.dropped++;
        if (c.emb !== undefined) {
          c.emb.nEnt = e0;
          c.emb.nVals = v0;
        }
        return false;
      }
      this.bytes += extra;
      c.bytes += extra;
    }
    if (seq >= 0) c.idSeq[i] = seq;
    else {
      c.idSeq[i] = -1;
      if (c.ids === undefined) c.ids = new Array(c.cap);
      c.ids[i] = id;
    }
    c.ts[i] = ts;
    if (c.emb !== undefined) c.emb.rowStart[i + 1] = c.emb.nEnt;
    if (++c.n === c.cap || this.wireBytes(c) > MAX_CHUNK_BYTES) {
      this.seal(this.cur!);
      this.onFull();
    }
    return true;
  }

  /**
   * Same keys in the same order as the current layout: copy the values with the layout's reader.
   * Object.keys of an object in V8's fast mode is a copy of a cached array; comparing it with the
   * layout's is pointer comparisons (property names are internalized strings).
   */
  private fastFill(layout: Layout, c: Chunk, f: Record<string, FeatureValue>, seg: object | undefined): boolean {
    if (typeof f !== 'object' || f === null) return false;
    if (!sameKeys(Object.keys(f), layout.fkeys)) return false;
    const skeys = layout.skeys;
    if (seg === undefined || seg === null) {
      if (skeys.length !== 0) return false;
    } else if (typeof seg !== 'object' || !sameKeys(Object.keys(seg), skeys)) return false;
    const base = c.n * layout.keys.length;
    layout.read(f, c, base, this);
    if (skeys.length !== 0) layout.readSeg(seg as Record<string, FeatureValue>, c, base + layout.fkeys.length, this);
    return true;
  }

  /** A feature (or segment) value that is not a number (called by the layout readers). */
  other(c: Chunk, cell: number, v: unknown): void {
    if (typeof v === 'string') {
      c.vals[cell] = this.str(c, v);
      c.tags[cell] = TAG_STRING;
    } else if (typeof v === 'boolean') {
      c.tags[cell] = v ? TAG_TRUE : TAG_FALSE;
    } else {
      c.tags[cell] = TAG_MISSING;
      if (v !== null && v !== undefined) {
        this.invalid++;
        this.onProblem('feature-type', `a feature or segment value of type ${Array.isArray(v) ? 'array' : typeof v} cannot be sent; it is recorded as missing`);
      }
    }
  }

  /**
   * Copies a record's vectors into the chunk's embedding columns (allocated on first use, doubled
   * when full, every allocation counted). A value that is not 1..MAX_EMBEDDING_DIMS numbers is left
   * out and counted as invalid. False when the buffer is full (the record is dropped).
   */
  private embed(c: Chunk, embeddings: Record<string, EmbeddingValue>): boolean {
    if (typeof embeddings !== 'object') {
      this.invalid++;
      this.onProblem('embedding-type', `embeddings must be an object of arrays, got ${typeof embeddings}; sent without them`);
      return true;
    }
    for (const name in embeddings) {
      const v = embeddings[name];
      if (v === undefined || v === null) continue;
      const len = vectorLength(v);
      if (len < 0 || name === '') {
        this.invalid++;
        this.onProblem('embedding-type', `embedding "${name.slice(0, 64)}" must be an array or typed array of 1..${MAX_EMBEDDING_DIMS} numbers${len === -2 ? ' (a non-number element)' : ''}; sent without it`);
        continue;
      }
      let e = c.emb;
      if (e === undefined) {
        // Room for every row to have a vector like this one (no regrowth when they all do), up to
        // half a chunk's byte bound.
        const size = Math.max(256, Math.min((c.cap - c.n) * len, EMB_FIRST_VALUES));
        if (!this.grow(c, (c.cap + 1) * 4 + 48 * 4 + size * 4)) return false;
        e = c.emb = { names: [], rowStart: new Int32Array(c.cap + 1), ent: new Int32Array(48), vals: new Float32Array(size), nEnt: 0, nVals: 0 };
      }
      if (e.nVals + len > e.vals.length) {
        let size = e.vals.length * 2;
        while (size < e.nVals + len) size *= 2;
        if (!this.grow(c, size * 4)) return false;
        const next = new Float32Array(size);
        next.set(e.vals.subarray(0, e.nVals));
        this.bytes -= e.vals.length * 4;
        c.bytes -= e.vals.length * 4;
        e.vals = next;
      }
      if (e.nEnt * 3 + 3 > e.ent.length) {
        if (!this.grow(c, e.ent.length * 8)) return false;
        const next = new Int32Array(e.ent.length * 2);
        next.set(e.ent);
        this.bytes -= e.ent.length * 4;
        c.bytes -= e.ent.length * 4;
        e.ent = next;
      }
      let k = e.names.indexOf(name);
      if (k < 0) {
        k = e.names.push(name) - 1;
        this.rowExtra += 64 + name.length * 2;
      }
      const vals = e.vals;
      const off = e.nVals;
      for (let j = 0; j < len; j++) vals[off + j] = v[j];
      const at = e.nEnt * 3;
      e.ent[at] = k;
      e.ent[at + 1] = off;
      e.ent[at + 2] = len;
      e.nEnt++;
      e.nVals += len;
    }
    return true;
  }

  /** Counts `bytes` about to be allocated for chunk `c`; false (and a drop) when they do not fit. */
  private grow(c: Chunk, bytes: number): boolean {
    if (this.bytes + bytes > this.maxBytes) {
      this.dropped++;
      return false;
    }
    this.bytes += bytes;
    c.bytes += bytes;
    return true;
  }

  private str(c: Chunk, s: string): number {
    if (s.length > this.maxString) {
      this.onProblem('string-truncated', `a string of ${s.length} characters was cut to ${this.maxString}`);
      s = s.slice(0, this.maxString);
    }
    if (s.length > DICT_MAX_LENGTH) {
      this.rowExtra += 16 + s.length * 2;
      return c.strs.push(s) - 1;
    }
    const dict = this.cur!.dict; // c is the current layout's open chunk
    let k = dict.get(s);
    if (k === undefined) {
      k = c.strs.push(s) - 1;
      dict.set(s, k);
      this.rowExtra += 64 + s.length * 2;
    }
    return k;
  }

  private notNumber(v: unknown, what: 'score' | 'latencyMs'): number {
    if (v !== undefined && v !== null) {
      this.invalid++;
      this.onProblem('score-type', `${what} must be a number, got ${typeof v}; sent without it`);
    }
    return NaN;
  }

  /** The layout of `f` and `seg` (found or created), with an open chunk that has room; fills the row. */
  private slowChunk(f: Record<string, FeatureValue>, seg: object | undefined): Chunk | undefined {
    if (f === null || typeof f !== 'object') f = {};
    const fkeys = Object.keys(f);
    const s = seg !== null && typeof seg === 'object' ? (seg as Record<string, FeatureValue>) : undefined;
    const skeys = s === undefined ? NO_KEYS : Object.keys(s);
    const sig = fkeys.join('\u0000') + '\u0001' + skeys.join('\u0000');
    let layout = this.layouts.get(sig);
    if (layout === undefined) {
      if (this.layouts.size >= MAX_LAYOUTS) {
        this.onProblem('too-many-layouts', `more than ${MAX_LAYOUTS} distinct feature layouts: batches get smaller; give records the same feature keys in the same order`);
        this.sealAll();
        this.layouts.clear();
      }
      const keys = skeys.length === 0 ? fkeys : [...fkeys, ...skeys];
      layout = { keys, fkeys, skeys, read: makeReader(fkeys), readSeg: makeReader(skeys), dict: new Map(), open: undefined, nextCap: FIRST_CAP, rowBytes: keys.length * 9 + 33 + ID_BYTES + ROW_SLACK };
      // (per row: 8 + 1 bytes a feature; time, prediction, score, latency 4 x 8; the prediction's tag 1)
      this.layouts.set(sig, layout);
    }
    this.cur = layout;
    let c = layout.open;
    if (c === undefined) {
      c = this.newChunk(layout);
      if (c === undefined) {
        this.dropped++;
        return undefined;
      }
    }
    this.rowExtra = 0;
    const base = c.n * layout.keys.length;
    layout.read(f, c, base, this);
    if (s !== undefined) layout.readSeg(s, c, base + layout.fkeys.length, this);
    return c;
  }

  private newChunk(layout: Layout): Chunk | undefined {
    const room = this.maxBytes - this.bytes;
    let cap = Math.min(layout.nextCap, this.maxBatch, Math.floor(this.maxBytes / 4 / layout.rowBytes));
    if (cap * layout.rowBytes + CHUNK_BYTES > room) cap = Math.floor((room - CHUNK_BYTES) / layout.rowBytes);
    if (cap < 1) return undefined;
    const nf = layout.keys.length;
    const bytes = cap * layout.rowBytes + CHUNK_BYTES;
    this.bytes += bytes;
    const c: Chunk = {
      n: 0,
      cap,
      bytes,
      keys: layout.keys,
      nfeat: layout.fkeys.length,
      vals: new Float64Array(cap * nf),
      tags: new Uint8Array(cap * nf),
      strs: [],
      ts: new Float64Array(cap),
      idSeq: new Float64Array(cap),
      ids: undefined,
      pred: new Float64Array(cap),
      predTag: new Uint8Array(cap),
      score: new Float64Array(cap),
      lat: new Float64Array(cap),
      emb: undefined,
    };
    layout.open = c;
    layout.dict = new Map();
    return c;
  }

  private seal(layout: Layout): void {
    const c = layout.open;
    layout.open = undefined;
    if (c === undefined) return;
    // Capacity follows the rate: doubles after a chunk that filled up, shrinks towards what a
    // flush interval actually holds.
    layout.nextCap = c.n === c.cap ? Math.min(this.maxBatch, c.cap * 2) : Math.max(FIRST_CAP, Math.min(this.maxBatch, c.n * 2));
    if (c.n === 0) {
      this.bytes -= c.bytes;
      return;
    }
    if (c.ids !== undefined && c.ids.length > c.n) c.ids.length = c.n;
    this.sealed.push(c);
    this.sealedRows += c.n;
  }

  /** Moves every open chunk to the export queue (flush interval, flush, shutdown). */
  sealAll(): void {
    for (const l of this.layouts.values()) this.seal(l);
  }

  label(id: string, value: number | string | boolean, ts: number): boolean {
    const size = LABEL_BYTES + id.length * 2 + (typeof value === 'string' ? value.length * 2 : 0);
    if (this.bytes + size > this.maxBytes) {
      this.dropped++;
      return false;
    }
    this.bytes += size;
    this.labels.push({ id, value, ts });
    return true;
  }

  /** The next export batch (sealed chunks and labels, up to maxBatch rows), or undefined. */
  /** A chunk's size as a request: its counted bytes, embedding elements at their wire size. */
  private wireBytes(c: Chunk): number {
    return c.emb === undefined ? c.bytes : c.bytes + c.emb.nVals * Math.max(0, this.embWireBytes - 4);
  }

  take(): Batch | undefined {
    if (this.sealed.length === 0 && this.labels.length === this.labelHead) return undefined;
    const chunks: Chunk[] = [];
    let rows = 0;
    let bytes = 0;
    let wire = 0;
    while (this.sealed.length > 0 && (rows === 0 || (rows + this.sealed[0].n <= this.maxBatch && wire + this.wireBytes(this.sealed[0]) <= MAX_CHUNK_BYTES))) {
      const c = this.sealed.shift()!;
      chunks.push(c);
      rows += c.n;
      bytes += c.bytes;
      wire += this.wireBytes(c);
    }
    this.sealedRows -= rows;
    const nl = Math.min(this.labels.length - this.labelHead, Math.max(0, this.maxBatch - rows));
    const labels = this.labels.slice(this.labelHead, this.labelHead + nl);
    this.labelHead += nl;
    if (this.labelHead === this.labels.length) {
      this.labels = [];
      this.labelHead = 0;
    }
    for (const l of labels) bytes += LABEL_BYTES + l.id.length * 2 + (typeof l.value === 'string' ? l.value.length * 2 : 0);
    if (chunks.length === 0 && labels.length === 0) return undefined;
    const seq = ++this.seq;
    this.inflight.set(seq, { bytes, rows: rows + labels.length });
    return { seq, chunks, labels };
  }

  /** The pipeline is done with a batch: its memory is released. False for an unknown batch. */
  release(seq: number): boolean {
    const b = this.inflight.get(seq);
    if (b === undefined) return false;
    this.inflight.delete(seq);
    this.bytes -= b.bytes;
    return true;
  }

  /** Forgets everything (shutdown past its deadline); returns how many rows were given up. */
  discard(): number {
    this.sealAll();
    let rows = this.sealedRows + this.labels.length - this.labelHead;
    for (const b of this.inflight.values()) rows += b.rows;
    this.sealed = [];
    this.sealedRows = 0;
    this.labels = [];
    this.labelHead = 0;
    this.inflight.clear();
    this.layouts.clear();
    this.cur = undefined;
    this.bytes = 0;
    return rows;
  }
}

/** The length of a vector of 1..MAX_EMBEDDING_DIMS numbers; -1 when it is not one, -2 for a non-number element. */
function vectorLength(v: unknown): number {
  if (Array.isArray(v)) {
    const n = v.length;
    if (n === 0 || n > MAX_EMBEDDING_DIMS) return -1;
    for (let j = 0; j < n; j++) if (typeof v[j] !== 'number') return -2;
    return n;
  }
  if (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)) {
    const n = (v as unknown as ArrayLike<number>).length;
    return n === 0 || n > MAX_EMBEDDING_DIMS ? -1 : n;
  }
  return -1;
}

function sameKeys(a: string[], b: string[]): boolean {
  const n = b.length;
  if (a.length !== n) return false;
  for (let j = 0; j < n; j++) if (a[j] !== b[j]) return false;
  return true;
}

/**
 * A reader specialised for one layout: named property loads (f["age"]), which V8 turns into
 * monomorphic inline caches, instead of a keyed loop. Falls back to a loop where code generation
 * is disallowed (--disallow-code-generation-from-strings).
 */
function makeReader(keys: string[]): Reader {
  try {
    const body = keys
      .map((k, j) => `v = f[${JSON.stringify(k)}]; if (typeof v === 'number') { vals[b + ${j}] = v; tags[b + ${j}] = 0; } else s.other(c, b + ${j}, v);`)
      .join('\n');
    return new Function('f', 'c', 'b', 's', `'use strict';\nconst vals = c.vals, tags = c.tags;\nlet v;\n${body}`) as Reader;
  } catch {
    return (f, c, b, s) => {
      for (let j = 0; j < keys.length; j++) {
        const v = f[keys[j]];
        if (typeof v === 'number') {
          c.vals[b + j] = v;
          c.tags[b + j] = TAG_NUMBER;
        } else s.other(c, b + j, v);
      }
    };
  }
}
