// The export pipeline: columnar batches -> OTLP ExportLogsServiceRequest (a hand-written protobuf
// encoder for this one message shape, or OTLP/JSON) -> gzip -> POST /v1/logs with retries.
//
// `createPipeline` is SELF-CONTAINED on purpose: it references nothing from this module or any
// other at run time (only its parameters and JavaScript/Node globals), because its source text is
// what the export worker evaluates (see worker.ts). The same function runs in-thread when a worker
// cannot be used. Types are erased, so importing types is fine.
import type { Batch, BatchResult, Chunk, LabelItem, PipelineConfig, PipelineMessage } from './batch.js';

export interface PipelineEnv {
  /** gzip, off the serving thread (worker: sync in the worker; in-thread: zlib's thread pool). */
  gzip(data: Uint8Array): Promise<Uint8Array>;
  /** Hex digest used by `redact: { feature: 'hash' }`. */
  hash(text: string): string;
  post(msg: PipelineMessage): void;
  /** One POST: httpPost in worker.ts. */
  request: HttpPost;
}

/** A POST of `body`: the answer's status, body and two headers; throws on a network error or abort. */
export type HttpPost = (url: string, body: Uint8Array, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal) => Promise<HttpAnswer>;
export interface HttpAnswer { status: number; body: Uint8Array; ct: string | null; retryAfter: string | null }

export interface Pipeline {
  /** Encodes and exports one batch; posts exactly one `done` message for it. */
  send(batch: Batch): Promise<void>;
  /** Encodes a batch (exposed for tests and the benchmark). */
  encode(batch: Batch): Uint8Array;
  /** From now on, retries stop at `deadline` (epoch ms) and pending backoffs end early. */
  setDeadline(deadline: number): void;
}

export function createPipeline(cfg: PipelineConfig, env: PipelineEnv): Pipeline {
  // Tags, as in batch.ts (repeated here: this function may not reference module bindings).
  const T_NUM = 0, T_STR = 1, T_TRUE = 2, T_FALSE = 3, T_MISSING = 4;

  // ---- protobuf writer -------------------------------------------------------------------
  let buf: Buffer = Buffer.allocUnsafe(1 << 16);
  let dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;

  function ensure(n: number): void {
    if (pos + n <= buf.length) return;
    let size = buf.length * 2;
    while (size < pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    buf.copy(next, 0, 0, pos);
    buf = next;
    dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  function varintSize(v: number): number {
    let n = 1;
    while (v >= 128) {
      v = Math.floor(v / 128);
      n++;
    }
    return n;
  }
  function varint(v: number): void {
    // Non-negative integers up to 2^53.
    while (v >= 128) {
      buf[pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    buf[pos++] = v;
  }
  function int64(v: number): void {
    if (v >= 0) return varint(v);
    // Two's complement, 10 bytes: rare, so BigInt is fine.
    let b = BigInt.asUintN(64, BigInt(v));
    for (let i = 0; i < 9; i++) {
      buf[pos++] = Number(b & 127n) | 128;
      b >>= 7n;
    }
    buf[pos++] = Number(b);
  }
  function int64Size(v: number): number {
    return v >= 0 ? varintSize(v) : 10;
  }
  function bytes(b: Uint8Array): void {
    buf.set(b, pos);
    pos += b.length;
  }
  /** Reserves room for a length prefix of `width` bytes; returns where the content starts. */
  function beginLen(width = 5): number {
    ensure(width);
    pos += width;
    return pos;
  }
  /**
   * Writes the length prefix of content started at `start` (after `width` reserved bytes), moving
   * the content when its prefix takes another width. Records reserve 2, the width of any length
   * from 128 to 16383 bytes, so the common record is not moved at all.
   */
  function endLen(start: number, width = 5): void {
    const len = pos - start;
    const size = varintSize(len);
    const at = start - width;
    if (size !== width) {
      if (size > width) ensure(size - width);
      buf.copyWithin(at + size, start, pos);
    }
    pos = at;
    varint(len);
    pos += len;
  }
  /** A length-delimited string field: tag, length, UTF-8. */
  function field(tag: number, s: string): void {
    const len = Buffer.byteLength(s);
    ensure(len + 11);
    buf[pos++] = tag;
    varint(len);
    pos += buf.write(s, pos);
  }
  /** Bytes built past the current end (so it is safe in the middle of a request), copied out. */
  function encoded(build: () => void): Buffer {
    const save = pos;
    build();
    const out = Buffer.from(buf.subarray(save, pos));
    pos = save;
    return out;
  }

  // Precomputed bytes: attribute keys (KeyValue field 1) and the fixed parts of every request.
  const keyCache = new Map<string, Buffer>();
  function keyBytes(key: string): Buffer {
    let b = keyCache.get(key);
    if (b === undefined) {
      if (keyCache.size > 10_000) keyCache.clear();
      b = encoded(() => field(0x0a, key));
      keyCache.set(key, b);
    }
    return b;
  }
  const K_ID = keyBytes('ml.prediction.id');
  const K_PRED = keyBytes('ml.prediction.value');
  const K_SCORE = keyBytes('ml.prediction.score');
  const K_LAT = keyBytes('ml.prediction.latency_ms');
  const K_LABEL = keyBytes('ml.label.value');
  const EV_PRED = encoded(() => field(0x62, 'ml.prediction'));
  const EV_LABEL = encoded(() => field(0x62, 'ml.label'));
  const RESOURCE = encoded(() => {
    buf[pos++] = 0x0a; // ResourceLogs.resource
    const r = beginLen();
    for (const [k, v] of [
      ['ml.model.name', cfg.model],
      ['ml.model.version', cfg.version],
      ['telemetry.sdk.name', 'driftwatch'],
      ['telemetry.sdk.language', 'nodejs'],
      ['telemetry.sdk.version', cfg.sdkVersion],
    ]) {
      buf[pos++] = 0x0a; // Resource.attributes
      const kv = beginLen();
      bytes(keyBytes(k));
      buf[pos++] = 0x12; // KeyValue.value
      const av = beginLen();
      field(0x0a, v); // AnyValue.string_value
      endLen(av);
      endLen(kv);
    }
    endLen(r);
  });
  const SCOPE = encoded(() => {
    buf[pos++] = 0x0a; // ScopeLogs.scope
    const s = beginLen();
    field(0x0a, 'driftwatch');
    field(0x12, cfg.sdkVersion);
    endLen(s);
  });

  // ---- attribute writers (exact sizes, no length reservation) -----------------------------
  function attrDouble(key: Buffer, v: number): void {
    ensure(key.length + 16);
    buf[pos++] = 0x32; // LogRecord.attributes
    varint(key.length + 11);
    bytes(key);
    buf[pos++] = 0x12;
    buf[pos++] = 9;
    buf[pos++] = 0x21; // AnyValue.double_value
    dv.setFloat64(pos, v, true);
    pos += 8;
  }
  function attrInt(key: Buffer, v: number): void {
    const isz = int64Size(v);
    ensure(key.length + isz + 8);
    buf[pos++] = 0x32;
    varint(key.length + 3 + isz);
    bytes(key);
    buf[pos++] = 0x12;
    buf[pos++] = 1 + isz;
    buf[pos++] = 0x18; // AnyValue.int_value
    int64(v);
  }
  function attrNumber(key: Buffer, v: number): void {
    if (Number.isSafeInteger(v)) attrInt(key, v);
    else attrDouble(key, v);
  }
  function attrBool(key: Buffer, v: boolean): void {
    ensure(key.length + 8);
    buf[pos++] = 0x32;
    varint(key.length + 4);
    bytes(key);
    buf[pos++] = 0x12;
    buf[pos++] = 2;
    buf[pos++] = 0x10; // AnyValue.bool_value
    buf[pos++] = v ? 1 : 0;
  }
  /** A LogRecord attribute's head, for a value of `av` bytes; ensures room for all of it. */
  function attrHead(key: Buffer, av: number): void {
    const kv = key.length + 1 + varintSize(av) + av;
    ensure(kv + 6);
    buf[pos++] = 0x32; // LogRecord.attributes
    varint(kv);
    bytes(key);
    buf[pos++] = 0x12; // KeyValue.value
    varint(av);
  }
  function attrString(key: Buffer, s: string): void {
    const len = Buffer.byteLength(s);
    attrHead(key, 1 + varintSize(len) + len);
    buf[pos++] = 0x0a; // AnyValue.string_value
    varint(len);
    pos += buf.write(s, pos);
  }
  /** An embedding: AnyValue.array_value (5) of AnyValue.double_value (4), 11 bytes an element. */
  function attrVector(key: Buffer, vals: Float32Array, off: number, len: number): void {
    const arr = 11 * len;
    attrHead(key, 1 + varintSize(arr) + arr);
    buf[pos++] = 0x2a; // AnyValue.array_value
    varint(arr);
    for (let j = 0; j < len; j++) {
      buf[pos++] = 0x0a; // ArrayValue.values
      buf[pos++] = 9;
      buf[pos++] = 0x21; // AnyValue.double_value
      dv.setFloat64(pos, vals[off + j], true);
      pos += 8;
    }
  }
  function embKeys(c: Chunk): Buffer[] {
    return c.emb === undefined ? [] : c.emb.names.map((n) => keyBytes('ml.embedding.' + n));
  }
  /**
   * A chunk's feature attributes as attrDouble writes them, each double left to be written in at
   * `at[j]`: rows whose features are all non-integer numbers (most models' rows) are one copy
   * and a store per feature (encoding a 20-feature record: 0.70 -> 0.42 us, bench/README.md).
   */
  function doublesTemplate(keys: Buffer[]): { bytes: Buffer; at: Int32Array } {
    const at = new Int32Array(keys.length);
    const bytes = encoded(() => {
      const start = pos;
      for (let j = 0; j < keys.length; j++) {
        attrDouble(keys[j], 0);
        at[j] = pos - 8 - start;
      }
    });
    return { bytes, at };
  }
  /** Whether row cells base .. base + n - 1 are all numbers that attrNumber writes as doubles. */
  function allDoubles(c: Chunk, base: number, n: number): boolean {
    const { tags, vals } = c;
    for (let j = base; j < base + n; j++) if (tags[j] !== T_NUM || Number.isSafeInteger(vals[j])) return false;
    return true;
  }
  function attrMissing(key: Buffer): void {
    ensure(key.length + 6);
    buf[pos++] = 0x32;
    varint(key.length);
    bytes(key);
  }
  function attrScalar(key: Buffer, v: unknown): void {
    if (typeof v === 'number') attrNumber(key, v);
    else if (typeof v === 'string') attrString(key, v);
    else if (typeof v === 'boolean') attrBool(key, v);
    else attrMissing(key);
  }
  function timeField(ms: number): void {
    // fixed64 nanoseconds, exact: ms = hi * 2^32 + lo, ns = ms * 1e6.
    ensure(9);
    const m = Math.trunc(ms);
    const mHi = Math.floor(m / 4294967296);
    const mLo = m - mHi * 4294967296;
    const low = mLo * 1e6; // < 2^53: exact
    const carry = Math.floor(low / 4294967296);
    buf[pos++] = 0x09; // LogRecord.time_unix_nano
    dv.setUint32(pos, low - carry * 4294967296, true);
    dv.setUint32(pos + 4, mHi * 1e6 + carry, true);
    pos += 8;
  }

  // ---- redaction ---------------------------------------------------------------------------
  const redact = cfg.redact ?? {};
  const hasRedact = Object.keys(redact).length > 0;
  function hashed(v: unknown): string {
    return env.hash(cfg.redactSalt + String(v)).slice(0, 32);
  }
  /**
   * Per chunk layout, by column: 0 = a feature as it is, 1 = a dropped feature, 2 = a hashed
   * feature, 3 = a segment key (left out when missing). Undefined when every column is 0.
   */
  function modes(c: Chunk): Uint8Array | undefined {
    const keys = c.keys;
    if (!hasRedact && c.nfeat === keys.length) return undefined;
    const m = new Uint8Array(keys.length);
    for (let j = 0; j < keys.length; j++) {
      if (j >= c.nfeat) {
        m[j] = 3;
        continue;
      }
      const r = hasRedact ? redact[keys[j]] : undefined;
      m[j] = r === 'drop' ? 1 : r === 'hash' ? 2 : 0;
    }
    return m;
  }
  function attrName(c: Chunk, j: number): string {
    return (j < c.nfeat ? 'ml.feature.' : 'ml.segment.') + c.keys[j];
  }
  function cellValue(c: Chunk, cell: number): unknown {
    const t = c.tags[cell];
    if (t === T_NUM) return c.vals[cell];
    if (t === T_STR) return c.strs[c.vals[cell]];
    if (t === T_TRUE) return true;
    if (t === T_FALSE) return false;
    return undefined;
  }
  function idOf(c: Chunk, i: number): string {
    const seq = c.idSeq[i];
    return seq >= 0 ? cfg.idPrefix + seq : (c.ids?.[i] ?? '');
  }
  function predValue(c: Chunk, i: number): unknown {
    const t = c.predTag[i];
    if (t === T_NUM) return c.pred[i];
    if (t === T_STR) return c.strs[c.pred[i]];
    return t === T_TRUE;
  }

  // ---- protobuf request ----------------------------------------------------------------------
  // Request bodies are encoded into buffers of their own, kept for the next request once theirs was
  // accepted: a body is neither copied out of a shared buffer nor a fresh 1-2 MB allocation, which V8
  // answers with extra collections (encoding a record: 0.42 -> 0.35 us, bench/README.md).
  const spare: Buffer[] = [];
  const MAX_SPARE = 4;
  // A buffer grown for an unusual body (large embeddings) is not kept: four of them would stay held.
  const MAX_SPARE_BYTES = 4 * 1024 * 1024;
  let bodyBytes = 1 << 16;
  /** The request for a batch, in `buf` (a spare buffer, or a new one sized like the last body). */
  function encodeProtobuf(batch: Batch): Buffer {
    buf = spare.pop() ?? Buffer.allocUnsafe(Math.min(bodyBytes + (bodyBytes >> 3), MAX_SPARE_BYTES));
    dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    pos = 0;
    buf[pos++] = 0x0a; // ExportLogsServiceRequest.resource_logs
    const rl = beginLen();
    ensure(RESOURCE.length + SCOPE.length + 8);
    bytes(RESOURCE);
    buf[pos++] = 0x12; // ResourceLogs.scope_logs
    const sl = beginLen();
    bytes(SCOPE);
    for (const c of batch.chunks) {
      const nf = c.keys.length;
      const keys = c.keys.map((_k, j) => keyBytes(attrName(c, j)));
      const mode = modes(c);
      const ekeys = embKeys(c);
      const tpl = mode === undefined && nf > 0 ? doublesTemplate(keys) : undefined;
      for (let i = 0; i < c.n; i++) {
        ensure(16);
        buf[pos++] = 0x12; // ScopeLogs.log_records
        const lr = beginLen(2);
        timeField(c.ts[i]);
        attrString(K_ID, idOf(c, i));
        attrScalar(K_PRED, predValue(c, i));
        const score = c.score[i];
        if (score === score) attrDouble(K_SCORE, score);
        const lat = c.lat[i];
        if (lat === lat) attrDouble(K_LAT, lat);
        const base = i * nf;
        if (tpl !== undefined && allDoubles(c, base, nf)) {
          // The common row: every feature a non-integer number. Its attributes are the template's
          // bytes with the doubles written in (what attrDouble writes, key by key).
          ensure(tpl.bytes.length);
          buf.set(tpl.bytes, pos);
          const at = tpl.at;
          for (let j = 0; j < nf; j++) dv.setFloat64(pos + at[j], c.vals[base + j], true);
          pos += tpl.bytes.length;
        } else for (let j = 0; j < nf; j++) {
          const cell = base + j;
          const t = c.tags[cell];
          if (mode !== undefined && mode[j] !== 0) {
            const m = mode[j];
            if (m === 1 || (m === 3 && t === T_MISSING)) continue;
            if (m === 2) {
              const v = cellValue(c, cell);
              if (v === undefined) attrMissing(keys[j]);
              else attrString(keys[j], hashed(v));
              continue;
            }
          }
          if (t === T_NUM) attrNumber(keys[j], c.vals[cell]);
          else if (t === T_STR) attrString(keys[j], c.strs[c.vals[cell]]);
          else if (t === T_TRUE) attrBool(keys[j], true);
          else if (t === T_FALSE) attrBool(keys[j], false);
          else attrMissing(keys[j]);
        }
        const e = c.emb;
        if (e !== undefined) {
          for (let k = e.rowStart[i], stop = e.rowStart[i + 1]; k < stop; k++) attrVector(ekeys[e.ent[3 * k]], e.vals, e.ent[3 * k + 1], e.ent[3 * k + 2]);
        }
        ensure(EV_PRED.length);
        bytes(EV_PRED);
        endLen(lr, 2);
      }
    }
    for (const l of batch.labels) {
      ensure(16);
      buf[pos++] = 0x12;
      const lr = beginLen(2);
      timeField(l.ts);
      attrString(K_ID, l.id);
      attrScalar(K_LABEL, l.value);
      ensure(EV_LABEL.length);
      bytes(EV_LABEL);
      endLen(lr, 2);
    }
    endLen(sl);
    endLen(rl);
    bodyBytes = Math.max(pos, 1 << 16);
    return buf.subarray(0, pos);
  }
  /** A body of encodeProtobuf's that nothing reads any more: its buffer goes to the next request. */
  function reuse(body: Uint8Array): void {
    const b = body.buffer;
    if (spare.length < MAX_SPARE && b.byteLength <= MAX_SPARE_BYTES && Buffer.isBuffer(body) && body.byteOffset === 0) spare.push(Buffer.from(b, 0, b.byteLength));
  }

  // ---- OTLP/JSON request -----------------------------------------------------------------------
  type JV = Record<string, unknown> | undefined;
  function jsonValue(v: unknown): JV {
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) return { intValue: String(v) };
      if (Number.isFinite(v)) return { doubleValue: v };
      return { doubleValue: v !== v ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity' };
    }
    if (typeof v === 'string') return { stringValue: v };
    if (typeof v === 'boolean') return { boolValue: v };
    return undefined;
  }
  function jsonDouble(v: number): JV {
    return Number.isFinite(v) ? { doubleValue: v } : { doubleValue: v !== v ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity' };
  }
  function nanos(ms: number): string {
    const m = Math.trunc(ms);
    return m === 0 ? '0' : `${m}000000`;
  }
  function encodeJson(batch: Batch): Uint8Array {
    const records: unknown[] = [];
    for (const c of batch.chunks) {
      const nf = c.keys.length;
      const mode = modes(c);
      for (let i = 0; i < c.n; i++) {
        const attributes: { key: string; value?: JV }[] = [
          { key: 'ml.prediction.id', value: { stringValue: idOf(c, i) } },
          { key: 'ml.prediction.value', value: jsonValue(predValue(c, i)) },
        ];
        if (c.score[i] === c.score[i]) attributes.push({ key: 'ml.prediction.score', value: jsonDouble(c.score[i]) });
        if (c.lat[i] === c.lat[i]) attributes.push({ key: 'ml.prediction.latency_ms', value: jsonDouble(c.lat[i]) });
        for (let j = 0; j < nf; j++) {
          const m = mode === undefined ? 0 : mode[j];
          if (m === 1) continue;
          let v = cellValue(c, i * nf + j);
          if (m === 3 && v === undefined) continue;
          if (m === 2 && v !== undefined) v = hashed(v);
          const value = jsonValue(v);
          attributes.push(value === undefined ? { key: attrName(c, j) } : { key: attrName(c, j), value });
        }
        const e = c.emb;
        if (e !== undefined) {
          for (let k = e.rowStart[i], stop = e.rowStart[i + 1]; k < stop; k++) {
            const off = e.ent[3 * k + 1];
            const values: JV[] = [];
            for (let j = 0; j < e.ent[3 * k + 2]; j++) values.push(jsonDouble(e.vals[off + j]));
            attributes.push({ key: 'ml.embedding.' + e.names[e.ent[3 * k]], value: { arrayValue: { values } } });
          }
        }
        records.push({ timeUnixNano: nanos(c.ts[i]), eventName: 'ml.prediction', attributes });
      }
    }
    for (const l of batch.labels as LabelItem[]) {
      records.push({
        timeUnixNano: nanos(l.ts),
        eventName: 'ml.label',
        attributes: [
          { key: 'ml.prediction.id', value: { stringValue: l.id } },
          { key: 'ml.label.value', value: jsonValue(l.value) },
        ],
      });
    }
    const str = (k: string, v: string) => ({ key: k, value: { stringValue: v } });
    const req = {
      resourceLogs: [
        {
          resource: {
            attributes: [
              str('ml.model.name', cfg.model),
              str('ml.model.version', cfg.version),
              str('telemetry.sdk.name', 'driftwatch'),
              str('telemetry.sdk.language', 'nodejs'),
              str('telemetry.sdk.version', cfg.sdkVersion),
            ],
          },
          scopeLogs: [{ scope: { name: 'driftwatch', version: cfg.sdkVersion }, logRecords: records }],
        },
      ],
    };
    return Buffer.from(JSON.stringify(req));
  }

  function encode(batch: Batch): Uint8Array {
    return cfg.encoding === 'json' ? encodeJson(batch) : encodeProtobuf(batch);
  }

  // ---- HTTP export with retries ------------------------------------------------------------------
  let deadline = Infinity;
  const wakers = new Set<() => void>();
  // Aborts requests in flight when the deadline passes.
  const atDeadline = new AbortController();
  let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  function setDeadline(d: number): void {
    deadline = Math.min(deadline, d);
    if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
    deadlineTimer = setTimeout(() => atDeadline.abort(new Error('shutdown deadline reached')), Math.max(0, deadline - Date.now()));
    deadlineTimer.unref?.(); // in-thread, the pipeline's timers never keep the process alive
    for (const w of wakers) w();
  }
  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, Math.min(ms, deadline - Date.now())));
      t.unref?.();
      wakers.add(done);
    });
  }
  function warn(kind: string, message: string): void {
    env.post({ type: 'warn', kind, message });
  }
  function retryAfterMs(h: string | null): number | undefined {
    if (!h) return undefined;
    const secs = Number(h);
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
    const at = Date.parse(h);
    return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
  }
  function partial(body: Uint8Array, contentType: string | null): { rejected: number; message: string } {
    if (body.length === 0) return { rejected: 0, message: '' };
    try {
      if (contentType !== null && contentType.includes('json')) {
        const p = JSON.parse(Buffer.from(body).toString('utf8'))?.partialSuccess;
        const r = Number(p?.rejectedLogRecords ?? 0);
        return { rejected: Number.isFinite(r) ? r : 0, message: String(p?.errorMessage ?? '') };
      }
      // ExportLogsServiceResponse { partial_success (1) { rejected_log_records (1, int64), error_message (2) } }
      let rejected = 0;
      let message = '';
      let i = 0;
      const readVarint = (): number => {
        let v = 0;
        let mul = 1;
        for (;;) {
          const b = body[i++];
          v += (b & 127) * mul;
          if (b < 128) return v;
          mul *= 128;
        }
      };
      while (i < body.length) {
        const tag = readVarint();
        if (tag === 0x0a) {
          const end = readVarint() + i;
          while (i < end) {
            const t = readVarint();
            if (t === 0x08) rejected = readVarint();
            else if (t === 0x12) {
              const len = readVarint();
              message = Buffer.from(body.subarray(i, i + len)).toString('utf8');
              i += len;
            } else if ((t & 7) === 2) i += readVarint();
            else if ((t & 7) === 0) readVarint();
            else break;
          }
          i = end;
        } else if ((tag & 7) === 2) i += readVarint();
        else if ((tag & 7) === 0) readVarint();
        else break;
      }
      return { rejected, message };
    } catch {
      return { rejected: 0, message: '' };
    }
  }

  async function post(payload: Uint8Array, headers: Record<string, string>): Promise<HttpAnswer> {
    const timeout = Math.max(1, Math.min(cfg.timeoutMs, deadline - Date.now()));
    return env.request(cfg.url, payload, headers, timeout, atDeadline.signal);
  }

  async function send(batch: Batch): Promise<void> {
    let records = batch.labels.length;
    for (const c of batch.chunks) records += c.n;
    const result: BatchResult = { type: 'done', seq: batch.seq, records, exported: 0, failed: records, retries: 0 };
    try {
      if (records === 0) {
        result.failed = 0;
        return;
      }
      let payload = encode(batch);
      // A protobuf body's buffer is reused once the collector has answered 2xx (it has read all of
      // it) or once gzip has read it; a body a failed request may still be writing is left to GC.
      let own = cfg.encoding !== 'json' ? payload : undefined;
      const headers: Record<string, string> = { ...cfg.headers, 'content-type': cfg.encoding === 'json' ? 'application/json' : 'application/x-protobuf' };
      if (cfg.gzip) {
        payload = await env.gzip(payload);
        headers['content-encoding'] = 'gzip';
        // (a gzip that gave back its input's buffer leaves it in use: reused after the 2xx, then)
        if (own !== undefined && payload.buffer !== own.buffer) {
          reuse(own);
          own = undefined;
        }
      }
      const first = Date.now();
      for (let attempt = 0; ; attempt++) {
        let reason: string;
        let wait: number | undefined;
        try {
          const r = await post(payload, headers);
          if (r.status >= 200 && r.status < 300) {
            if (own !== undefined) reuse(own);
            const p = partial(r.body, r.ct);
            const rejected = Math.min(records, Math.max(0, p.rejected));
            if (rejected > 0) warn('partial-success', `the collector rejected ${rejected} record(s): ${p.message.slice(0, 500)}`);
            result.exported = records - rejected;
            result.failed = rejected;
            return;
          }
          const text = Buffer.from(r.body).toString('utf8').slice(0, 300);
          reason = `HTTP ${r.status}${text ? `: ${text}` : ''}`;
          if (!(r.status === 429 || r.status === 502 || r.status === 503 || r.status === 504)) {
            warn(`http-${r.status}`, `the collector answered ${reason}; the batch is dropped (not retryable)`);
            return;
          }
          wait = retryAfterMs(r.retryAfter);
        } catch (e) {
          const err = e as Error & { code?: string };
          reason = err.code ?? err.message;
        }
        const backoff = Math.min(cfg.retryMaxMs, cfg.retryBaseMs * 2 ** Math.min(attempt, 20));
        const delay = wait !== undefined ? Math.min(wait, cfg.retryMaxMs * 4) : backoff / 2 + Math.random() * (backoff / 2);
        const now = Date.now();
        if (now + delay > Math.min(first + cfg.retryDeadlineMs, deadline)) {
          warn('export-failed', `export failed (${reason}) after ${attempt} retr${attempt === 1 ? 'y' : 'ies'}; the batch is dropped`);
          return;
        }
        if (attempt === 0) warn('export-retry', `export failed (${reason}); retrying with backoff`);
        await sleep(delay);
        if (Date.now() >= deadline) {
          warn('export-failed', `export failed (${reason}); shutdown deadline reached, the batch is dropped`);
          return;
        }
        result.retries++;
      }
    } catch (e) {
      warn('encode', `could not export a batch: ${(e as Error).message}`);
    } finally {
      env.post(result);
    }
  }

  return { send, encode, setDeadline };
}
