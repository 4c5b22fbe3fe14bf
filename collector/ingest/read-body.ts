// OTLP request bodies, read straight from Node's request stream with the size limit applied as the
// bytes arrive. Hono's bodyLimit middleware reads `c.req.raw.body`, which makes @hono/node-server
// build a web ReadableStream over the request: 1.4-1.5 ms of CPU per 1.2 MB body (a 2 000-record
// OTLP request without gzip) against 0.5-0.6 ms read directly (bench/README.md, session 4).
import type { Context } from 'hono';
import type { IncomingMessage } from 'node:http';

export class BodyTooLarge extends Error {}

/** The body's bytes; BodyTooLarge when it is (or says it is) longer than maxBytes. */
export async function readBody(c: Context, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () => new BodyTooLarge(`body larger than ${maxBytes} bytes`);
  const declared = Number(c.req.header('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined || typeof incoming.on !== 'function' || incoming.readableDidRead) {
    // Not served by @hono/node-server (app.request in a test, another runtime): the Fetch API.
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.byteLength > maxBytes) throw tooLarge();
    return body;
  }
  if (incoming.destroyed) throw new Error('the client closed the request before its body ended');
  return new Promise<Uint8Array>((resolve, reject) => {
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
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
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
