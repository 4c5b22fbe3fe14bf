// The baseline routes under API keys: setting a baseline needs write access to the model, reading
// one read access; drift per segment is a read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeys } from '../../collector/auth.js';
import { insertPredictions } from '../../collector/store/writer.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const KEYS = [
  { name: 'writer', key: 'w-secret-0123456789', scopes: ['read', 'write'], models: ['m'] },
  { name: 'reader', key: 'r-secret-0123456789', scopes: ['read'], models: ['*'] },
  { name: 'other', key: 'o-secret-0123456789', scopes: ['read', 'write'], models: ['other'] },
];

describe('baseline routes and API keys', () => {
  let c: TestCollector;
  const now = Date.now();
  beforeAll(async () => {
    c = await startTestCollector({ apiKeys: parseKeys(JSON.stringify(KEYS), 'test'), baselineRows: 1_000_000 });
    await insertPredictions(c.store, Array.from({ length: 200 }, (_, i) => ({
      model: 'm', version: 'v', ts: now - 600_000 + i * 1000, id: String(i), prediction: '', predictionNum: i % 2, score: NaN, latencyMs: NaN,
      num: { x: i }, cat: {}, segment: { s: i % 2 ? 'a' : 'b' },
    })));
  });
  afterAll(async () => c?.close());

  const call = (path: string, key: string | undefined, init: RequestInit = {}) =>
    fetch(`${c.url}/api/v1/models${path}`, { ...init, headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) } });
  const set = (key: string | undefined) =>
    call('/m/baseline', key, { method: 'PUT', body: JSON.stringify({ version: 'v', from: (now - 600_000) / 1000, to: (now - 500_000) / 1000 }) });

  it('needs write access to set and read access to read', async () => {
    expect((await set(undefined)).status).toBe(401);
    expect((await set('r-secret-0123456789')).status).toBe(403);
    expect((await set('o-secret-0123456789')).status).toBe(403);
    expect((await set('w-secret-0123456789')).status).toBe(200);
    expect((await call('/m/baseline', 'o-secret-0123456789')).status).toBe(403);
    expect((await call('/m/baseline', 'r-secret-0123456789')).status).toBe(200);
    expect((await call('/m/drift?window=20m&method=psi&segment=s', 'o-secret-0123456789')).status).toBe(403);
    const seg = await call('/m/drift?window=20m&method=psi&segment=s', 'r-secret-0123456789');
    expect(seg.status).toBe(200);
    const body = (await seg.json()) as { versions: { segments: { segment: string }[] }[] };
    expect(body.versions[0].segments.map((s) => s.segment)).toEqual(['a', 'b']);
  });
});
