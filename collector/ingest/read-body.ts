// OTLP request bodies, read straight from Node's request stream with the size limit applied as the
// bytes arrive. Hono's bodyLimit middleware reads `c.req.raw.body`, which makes @hono/node-server
// build a web ReadableStream over the request: 1.4-1.5 ms of CPU per 1.2 MB body (a 2 000-record
// OTLP request without gzip) against 0.5-0.6 ms read directly (bench/README.md, session 4).
import type { Context } from 'hono';
import type { IncomingMessage } from 'node:http';

export class BodyTooLarge extends Error {}

/** A body as it arrived: its chunks, joined only when it is decoded (see `joined`). */
export interface Body { chunks: Uint8Array[]; size: number }

// Bodies are joined into one reused buffer, not a new one per request: each request's chunks and
// their join were the collector's largest outside-the-heap allocations, and V8 answers a fast growth
// of those with extra collections of the whole heap (bench/README.md, session 5). Bodies above this
// size get their own buffer, so the one kept stays small.
const REUSED_MAX = 8 * 1024 * 1024;
let reused = Buffer.alloc(0); // a Buffer, so protobufjs reads its strings with Node's UTF-8 decoder

/**
 * The body's bytes in one buffer. `transient`: the caller uses them synchronously and keeps no
 * view of them (it copies what it keeps), so they may go into the buffer the next body reuses.
 */
export function joined(body: Body, transient: boolean): Uint8Array {
  if (body.chunks.length === 1) return body.chunks[0];
  let out: Uint8Array;
  if (transient && body.size <= REUSED_MAX) {
    if (reused.length < body.size) reused = Buffer.allocUnsafeSlow(Math.min(REUSED_MAX, Math.max(body.size, 2 * reused.length)));
    out = reused.subarray(0, body.size);
  } else out = Buffer.allocUnsafeSlow(body.size);
  let at = 0;
  for (const c of body.chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The body as it arrives; BodyTooLarge when it is (or says it is) longer than maxBytes. */
export async function readBody(c: Context, maxBytes: number): Promise<Body> {
  const tooLarge = () => new BodyTooLarge(`body larger than ${maxBytes} bytes`);
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined || typeof incoming.on !== 'function' || incoming.readableDidRead) {
    // Not served by @hono/node-server (app.request in a test, another runtime): the Fetch API.
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.byteLength > maxBytes) throw tooLarge();
    return { chunks: [body], size: body.byteLength };
  }
  if (incoming.destroyed) throw new Error('the client closed the request before its body ended');
  return new Promise<Body>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      // Past the limit: answered at once; the rest is read and dropped (memory stays bounded).
      settled = true;
      chunks.length = 0;
      incoming.off('data', onData);
      incoming.resume();
      reject(tooLarge());
    };
    incoming.on('data', onData);
    incoming.once('end', () => {
      if (settled) return;
      settled = true;
      resolve({ chunks, size });
    });
    incoming.once('error', (e) => {
      if (!settled) reject(e);
      settled = true;
    });
    incoming.once('close', () => {
      if (!settled) reject(new Error('the client closed the request before its body ended'));
      settled = true;
    });
  });
}
