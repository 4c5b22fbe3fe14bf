// One dimension per embedding name and model version, across requests: a request's new dimension is
// claimed while it runs (concurrent requests must agree), accepted once its rows are stored, and
// released when it is refused (a refused request fixes nothing). The receiver drives this per request.
import { describe, expect, it } from 'vitest';
import { EmbeddingDims } from '../../collector/ingest/embeddings.js';

const stored = (dim: number) => [{ model: 'm', version: 'v', emb: { e: new Float32Array(dim) } }];

describe('embedding dimensions across requests', () => {
  it('a dimension claimed by a request in flight holds for concurrent requests, and goes with it when refused', () => {
    const dims = new EmbeddingDims();
    const a = dims.request();
    expect(a.get('m', 'v', 'e')).toBeUndefined();
    a.set('m', 'v', 'e', 3);
    // b arrives while a runs: it sees 3, so a record of dimension 4 in it is refused by the decoder.
    const b = dims.request();
    expect(b.get('m', 'v', 'e')).toBe(3);
    expect(dims.get('m', 'v', 'e')).toBeUndefined(); // nothing accepted yet
    a.done(); // refused (e.g. its key may not write the model)
    expect(dims.request().get('m', 'v', 'e')).toBeUndefined();
    b.done();
  });

  it('a stored request fixes the dimension; a claim shared by two requests lasts until both are answered', () => {
    const dims = new EmbeddingDims();
    const a = dims.request();
    const b = dims.request();
    a.set('m', 'v', 'e', 5);
    b.set('m', 'v', 'e', 5);
    a.done(); // refused
    expect(dims.request().get('m', 'v', 'e')).toBe(5); // b still holds it
    b.done(stored(5));
    expect(dims.get('m', 'v', 'e')).toBe(5);
    const c = dims.request();
    expect(c.get('m', 'v', 'e')).toBe(5);
    c.done();
    expect(dims.get('m', 'v', 'e')).toBe(5);
  });

  it('done() counts once, and a request with no new name does nothing per row', () => {
    const dims = new EmbeddingDims();
    const a = dims.request();
    a.set('m', 'v', 'e', 2);
    a.done(stored(2));
    a.done(); // the receiver's finally: no second release
    const b = dims.request();
    b.set('m', 'v', 'e', 2); // already accepted: no claim
    b.done(stored(7)); // would change nothing anyway: the first accepted stays
    expect(dims.get('m', 'v', 'e')).toBe(2);
  });
});
