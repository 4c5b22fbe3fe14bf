// The wire-level pieces of the OTLP/protobuf logs decoder: protobufjs' Reader with 64-bit fields
// read as numbers, attribute keys kept by their bytes, and a view of the body being read for its
// doubles. Shared by otlp-logs-protobuf.ts (every record) and record-shape.ts (records of a known shape).
import protobuf from 'protobufjs';
import { keyKind, type KeyKind } from './otlp-logs.js';

export type Reader = protobuf.Reader;
export const { Reader } = protobuf;

// 64-bit fields read as numbers directly: protobufjs' fixed64()/int64() build an object per value,
// three or four per record here (timestamps, integer attributes).
const TWO32 = 4294967296;
/** A fixed64 (unsigned, as OTLP's time fields) as a number (exact below 2^53). */
export function fixed64(r: Reader): number {
  const lo = r.fixed32();
  return r.fixed32() * TWO32 + lo;
}
/** A time field's nanoseconds as epoch milliseconds; 0 (unset) as undefined. */
export const nanosToMs = (n: number) => (n > 0 ? Math.floor(n / 1e6) : undefined);
/** An int64 varint as a number (two's complement for negatives; exact below 2^53 in magnitude). */
export function int64(r: Reader): number {
  const buf = r.buf;
  let lo = 0;
  let hi = 0;
  let shift = 0;
  let b: number;
  // The first 28 bits, then the rest, so no step needs more than 32-bit arithmetic.
  do {
    if (r.pos >= r.len) throw new RangeError(`index out of range: ${r.pos} + 1 > ${r.len}`);
    b = buf[r.pos++];
    if (shift < 28) lo |= (b & 0x7f) << shift;
    else if (shift === 28) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >>> 4;
    } else hi |= (b & 0x7f) << (shift - 32);
    shift += 7;
  } while (b & 0x80 && shift < 70);
  if (b & 0x80) throw new Error('invalid varint encoding');
  lo >>>= 0;
  return hi & 0x80000000 ? -((~hi >>> 0) * TWO32 + (~lo >>> 0) + 1) : (hi >>> 0) * TWO32 + lo;
}

export function end(r: Reader): number {
  return r.uint32() + r.pos;
}

// Attribute keys repeat on every record: a key's string is kept by a hash of its bytes, so the
// common case reads no UTF-8 and allocates nothing (the bytes are compared, never trusted to the hash).
// Records of one request mostly list the same keys in the same order: the key last seen at the
// same position (`slot`) is compared first, which skips the hash and the lookup (decoding a
// 20-feature record: 4.5 -> 3.8 us, bench/README.md).
export interface KnownKey extends Pattern {
  key: string;
  kind: KeyKind;
}
/** Whether the body's bytes from `start` are `k`'s (their length already checked), four at a time. */
/** Bytes to find in a body, and the same as little-endian 32-bit words (the last 0-3 bytes are compared one by one). */
export interface Pattern {
  bytes: Uint8Array;
  words: Int32Array;
}
export function pattern(bytes: Uint8Array): Pattern {
  const words = new Int32Array(bytes.length >> 2);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let w = 0; w < words.length; w++) words[w] = dv.getInt32(4 * w, true);
  return { bytes, words };
}
/** Whether the body's bytes from `start` are `k`'s (the body long enough), four at a time. */
export function sameBytes(k: Pattern, buf: Uint8Array, start: number): boolean {
  const words = k.words;
  for (let w = 0; w < words.length; w++) if (bodyView.getInt32(start + 4 * w, true) !== words[w]) return false;
  const b = k.bytes;
  for (let i = 4 * words.length; i < b.length; i++) if (b[i] !== buf[start + i]) return false;
  return true;
}
function knownKey(bytes: Uint8Array, key: string): KnownKey {
  return { ...pattern(bytes), key, kind: keyKind(key) };
}
const keys = new Map<number, KnownKey>();
export const SLOTS = 128;
export const EVENT_SLOT = SLOTS - 1;
const bySlot: (KnownKey | undefined)[] = new Array(SLOTS).fill(undefined);
const NO_BYTES = new Uint8Array(0);
export function keyString(r: Reader, slot: number): KnownKey {
  const len = r.uint32();
  const start = r.pos;
  const stop = start + len;
  if (stop > r.len) throw new RangeError(`index out of range: ${start} + ${len} > ${r.len}`);
  const buf = r.buf;
  const last = slot < SLOTS ? bySlot[slot] : undefined;
  if (last !== undefined && last.bytes.length === len && sameBytes(last, buf, start)) {
    r.pos = stop;
    return last;
  }
  let h = 0x811c9dc5 ^ len;
  for (let i = start; i < stop; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  const hit = keys.get(h);
  if (hit !== undefined && hit.bytes.length === len && sameBytes(hit, buf, start)) {
    r.pos = stop;
    if (slot < SLOTS) bySlot[slot] = hit;
    return hit;
  }
  const key = Buffer.from(buf.buffer, buf.byteOffset + start, len).toString('utf8');
  r.pos = stop;
  if (hit !== undefined || keys.size >= 10_000) return knownKey(NO_BYTES, key); // not kept: nothing to compare
  const known = knownKey(new Uint8Array(buf.subarray(start, stop)), key); // a copy: the body is not kept
  keys.set(h, known);
  if (slot < SLOTS) bySlot[slot] = known;
  return known;
}

/** The body being read, for its doubles (set for each read, and let go after, so no body outlives its read). */
const NO_BODY: DataView = new DataView(new ArrayBuffer(0));
export let bodyView = NO_BODY;
export function setBody(body: Uint8Array | undefined): void {
  bodyView = body === undefined ? NO_BODY : new DataView(body.buffer, body.byteOffset, body.byteLength);
}
