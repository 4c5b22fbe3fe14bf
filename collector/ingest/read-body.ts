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
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let ended = false;
    // Past the limit the rest is read and dropped (memory stays bounded), so the connection can
    // still carry the 413.
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else chunks.length = 0;
    });
    incoming.once('end', () => {
      ended = true;
      if (size > maxBytes) reject(tooLarge());
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    incoming.once('error', reject);
    incoming.once('close', () => {
      if (!ended) reject(new Error('the client closed the request before its body ended'));
    });
  });
}
