// The shapes that travel from the serving thread to the export pipeline. A `Chunk` is columnar:
// one typed array per column, rows of one layout (the same feature keys, then segment keys, in the same order),
// so the hot path writes numbers into preallocated memory and the arrays can be transferred to the
// export worker without copying.

/** Cell tags of feature values (and of the prediction value). 0, the typed arrays' zero, is a number. */
export const TAG_NUMBER = 0;
export const TAG_STRING = 1; // the cell holds an index into `strs`
export const TAG_TRUE = 2;
export const TAG_FALSE = 3;
export const TAG_MISSING = 4; // null/undefined, or a value that cannot be sent (object, function...)

export interface Chunk {
  /** Rows written. */
  n: number;
  /** Rows allocated. */
  cap: number;
  /** Buffer bytes this chunk holds (allocated columns plus strings), released when it is exported. */
  bytes: number;
  /** Column names of the layout: the features, then the segment keys (from `nfeat` on). */
  keys: string[];
  nfeat: number;
  /** n * keys.length cells, row-major: numbers, or indexes into `strs`. */
  vals: Float64Array;
  tags: Uint8Array;
  /** Strings referenced by cells (features, segments, predictions), each once per chunk. */
  strs: string[];
  /** Epoch milliseconds. */
  ts: Float64Array;
  /**
   * Generated ids as their sequence number (the id is the monitor's `idPrefix` + this number, built
   * by the pipeline: strings would cost a structured clone each), or -1 when the caller gave the id,
   * which is then in `ids`.
   */
  idSeq: Float64Array;
  /** Ids given by the caller, by row (allocated on the first one). */
  ids: (string | undefined)[] | undefined;
  /** The prediction value: a number, or an index into `strs` (see predTag). */
  pred: Float64Array;
  predTag: Uint8Array;
  /** NaN when absent. */
  score: Float64Array;
  /** NaN when absent. */
  lat: Float64Array;
  /** Vector features, when any row of the chunk has one. */
  emb: EmbeddingColumns | undefined;
}

/**
 * The embeddings of a chunk. Row i's vectors are entries rowStart[i] .. rowStart[i + 1] - 1; entry
 * e is name index ent[3e] (into `names`), offset ent[3e + 1] and length ent[3e + 2] into `vals`.
 */
export interface EmbeddingColumns {
  names: string[];
  rowStart: Int32Array;
  ent: Int32Array;
  /** Float32: the precision the collector stores (a double's extra bits would be cut there anyway). */
  vals: Float32Array;
  /** Entries and values written. */
  nEnt: number;
  nVals: number;
}

/** Longest embedding the SDK sends (the collector refuses longer ones). */
export const MAX_EMBEDDING_DIMS = 4096;

export interface LabelItem {
  id: string;
  value: number | string | boolean;
  ts: number;
}

/** One export request's worth of telemetry. */
export interface Batch {
  seq: number;
  chunks: Chunk[];
  labels: LabelItem[];
}

export type RedactMode = 'drop' | 'hash';

export interface PipelineConfig {
  url: string;
  encoding: 'protobuf' | 'json';
  gzip: boolean;
  headers: Record<string, string>;
  timeoutMs: number;
  /** A batch is retried (backoff + jitter, Retry-After honoured) until this long after its first attempt. */
  retryDeadlineMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  model: string;
  version: string;
  sdkVersion: string;
  /** Generated ids are idPrefix + sequence number. */
  idPrefix: string;
  redact: Record<string, RedactMode>;
  /** Mixed into hashed values, so that hashes cannot be matched across deployments by guessing. */
  redactSalt: string;
}

/** What the pipeline reports back for each batch. */
export interface BatchResult {
  type: 'done';
  seq: number;
  records: number;
  exported: number;
  /** Rejected by the collector (partial success) or not delivered. */
  failed: number;
  retries: number;
}
export interface WarnMessage {
  type: 'warn';
  kind: string;
  message: string;
}
export type PipelineMessage = BatchResult | WarnMessage;

/** Buffers of a chunk, for postMessage's transfer list. */
export function chunkTransfer(c: Chunk): ArrayBuffer[] {
  const list = [c.vals.buffer, c.tags.buffer, c.ts.buffer, c.idSeq.buffer, c.pred.buffer, c.predTag.buffer, c.score.buffer, c.lat.buffer] as ArrayBuffer[];
  if (c.emb !== undefined) list.push(c.emb.rowStart.buffer as ArrayBuffer, c.emb.ent.buffer as ArrayBuffer, c.emb.vals.buffer as ArrayBuffer);
  return list;
}
