// Joining a body's chunks: into one reused buffer for a decoder that copies what it keeps, into a
// buffer of its own otherwise.
import { describe, expect, it } from 'vitest';
import { joined } from '../../collector/ingest/read-body.js';

const body = (...parts: string[]) => {
  const chunks = parts.map((p) => Buffer.from(p));
  return { chunks, size: chunks.reduce((n, c) => n + c.length, 0) };
};
const text = (b: Uint8Array) => Buffer.from(b).toString();

describe('joined', () => {
  it('returns a single chunk as it is', () => {
    const b = body('only');
    expect(joined(b, true)).toBe(b.chunks[0]);
  });

  it('joins a transient body into the same reused memory each time, and a kept one into its own', () => {
    const first = joined(body('ab', 'cd', 'ef'), true);
    expect(text(first)).toBe('abcdef');
    const kept = joined(body('gh', 'ij'), false);
    const second = joined(body('kl', 'mn'), true);
    expect(text(second)).toBe('klmn');
    expect(second.buffer).toBe(first.buffer); // reused: the first body's bytes are gone
    expect(text(first.subarray(0, 4))).toBe('klmn');
    expect(kept.buffer).not.toBe(first.buffer);
    joined(body('op', 'qr'), true);
    expect(text(kept)).toBe('ghij'); // its own: later bodies leave it alone
  });

  it('gives a body above 8 MB its own buffer, so the one kept stays small', () => {
    const big = { chunks: [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.alloc(4 * 1024 * 1024, 2)], size: 9 * 1024 * 1024 };
    const small = joined(body('x', 'y'), true);
    const out = joined(big, true);
    expect(out.length).toBe(9 * 1024 * 1024);
    expect([out[0], out[9 * 1024 * 1024 - 1]]).toEqual([1, 2]);
    expect(out.buffer).not.toBe(small.buffer);
    expect(text(joined(body('x', 'y'), true))).toBe('xy');
  });
});
