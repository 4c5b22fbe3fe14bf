// Request bodies: read from Node's request stream with nothing left holding them once read, and
// joined into one reused buffer when decoded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'hono';
import { BodyTooLarge, joined, readBody, type Body } from '../../collector/ingest/read-body.js';

const body = (...parts: string[]) => {
  const chunks = parts.map((p) => Buffer.from(p));
  return { chunks, size: chunks.reduce((n, c) => n + c.length, 0) };
};
const text = (b: Uint8Array) => Buffer.from(b).toString();

describe('joined', () => {
  it('returns a single chunk as it is', () => {
    const b = body('only');
    expect(joined(b)).toBe(b.chunks[0]);
  });

  it('joins each body into the same reused memory', () => {
    const first = joined(body('ab', 'cd', 'ef'));
    expect(text(first)).toBe('abcdef');
    const second = joined(body('kl', 'mn'));
    expect(text(second)).toBe('klmn');
    expect(second.buffer).toBe(first.buffer);
    expect(text(first.subarray(0, 4))).toBe('klmn'); // the first body's bytes are gone
  });

  it('gives a body above 8 MB its own buffer, so the one kept stays small', () => {
    const big = { chunks: [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.alloc(4 * 1024 * 1024, 2)], size: 9 * 1024 * 1024 };
    const small = joined(body('x', 'y'));
    const out = joined(big);
    expect(out.length).toBe(9 * 1024 * 1024);
    expect([out[0], out[9 * 1024 * 1024 - 1]]).toEqual([1, 2]);
    expect(out.buffer).not.toBe(small.buffer);
    expect(text(joined(body('x', 'y')))).toBe('xy');
  });
});

describe('readBody', () => {
  // Each request is read by readBody; the test sees the request object and what readBody gave.
  let server: Server;
  let url: string;
  const seen: { incoming: IncomingMessage; result: Body | Error }[] = [];
  beforeAll(async () => {
    server = createServer(async (incoming, res) => {
      const c = { req: { header: (h: string) => incoming.headers[h.toLowerCase()] }, env: { incoming } } as unknown as Context;
      let result: Body | Error;
      try {
        result = await readBody(c, 64 * 1024);
      } catch (e) {
        result = e as Error;
      }
      seen.push({ incoming, result });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const send = (pieces: Buffer[]) =>
    new Promise<void>((resolve, reject) => {
      const req = request(url, { method: 'POST' }, (res) => res.resume().on('end', resolve));
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? resolve() : reject(e)));
      for (const p of pieces) req.write(p);
      req.end();
    });

  it('reads a chunked body whole and then lets go of it: no listener of the request is left holding it', async () => {
    await send(Array.from({ length: 6 }, (_, i) => Buffer.alloc(4096, 65 + i)));
    const { incoming, result } = seen.at(-1)!;
    expect(result).not.toBeInstanceOf(Error);
    const b = result as Body;
    expect(b.size).toBe(6 * 4096);
    expect(text(joined(b))).toBe(Array.from({ length: 6 }, (_, i) => String.fromCharCode(65 + i).repeat(4096)).join(''));
    // The request outlives its body (it answers after the insert): listeners holding the chunks would keep them.
    expect(['data', 'end', 'close'].map((e) => incoming.listeners(e).length)).toEqual([0, 0, 0]);
    expect(incoming.listeners('error').map((f) => f.name)).toEqual(['ignore']);
  });

  it('refuses a body past the limit as it arrives and keeps none of it', async () => {
    await send(Array.from({ length: 20 }, () => Buffer.alloc(4096, 66)));
    const { incoming, result } = seen.at(-1)!;
    expect(result).toBeInstanceOf(BodyTooLarge);
    expect(incoming.listeners('data').length).toBe(0);
  });
});
