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
// size get their own buffer, so the one kept (for the life of the process) stays small.
const REUSED_MAX = 8 * 1024 * 1024;
let reused = Buffer.alloc(0); // a Buffer, so protobufjs reads its strings with Node's UTF-8 decoder

/**
 * The body's bytes in one buffer: the reused one, which the next body overwrites. Callers join,
 * decompress and decode in one synchronous step, and the decoders copy what they keep (strings,
 * interned keys, vectors; protobufjs' bytes fields become base64 strings): nothing refers to these
 * bytes once the step ends. A single chunk is the request's own and is returned as it is.
 */
export function joined(body: Body): Uint8Array {
  if (body.chunks.length === 1) return body.chunks[0];
  let out: Uint8Array;
  if (body.size <= REUSED_MAX) {
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
    let chunks: Buffer[] = [];
    let size = 0;
    // Once settled, the listeners go: they share one closure with `chunks` and `resolve` (and so the
    // body), and the request object outlives the body by its whole insert. An error after that
    // point has a listener that holds nothing.
    const settle = (outcome: () => void) => {
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose).on('error', ignore);
      outcome();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      // Past the limit: answered at once; the rest is read and dropped (memory stays bounded).
      chunks = [];
      settle(() => reject(tooLarge()));
      incoming.resume();
    };
    const onEnd = () => settle(() => resolve({ chunks, size }));
    const onError = (e: Error) => settle(() => reject(e));
    const onClose = () => settle(() => reject(new Error('the client closed the request before its body ended')));
    incoming.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

const ignore = () => {};
