// Promise: names and values with quotes, backslashes, SQL and control characters are stored
// verbatim and never alter a query (every value is a bound parameter or escaped JSON); secrets
// (API keys) never reach the logs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeys } from '../../collector/auth.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const HOSTILE = [
  `o'brien`,
  `back\\slash`,
  `"; DROP TABLE predictions; --`,
  `') OR 1=1 --`,
  `{dw_model:String}`,
  `tab\tnew\nline\u0000nul\u0007bell`,
  `ünïcødé 🚀`,
];
const KEY = 'super-secret-key-0123456789';

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });

describe('injection and secrets', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector({ apiKeys: parseKeys(JSON.stringify([{ name: 'ops', key: KEY, scopes: ['read', 'write'], models: ['*'] }]), 'test') });
  });
  afterAll(async () => c?.close());
  const auth = { authorization: `Bearer ${KEY}` };

  it('stores hostile model, feature, segment and label values verbatim and serves them back', async () => {
    const records = HOSTILE.map((h, i) => ({
      eventName: 'ml.prediction',
      attributes: [
        kv('ml.model.name', { stringValue: h }),
        kv('ml.prediction.id', { stringValue: `${h}#${i}` }),
        kv('ml.prediction.value', { stringValue: h }),
        kv(`ml.feature.${h}`, { stringValue: h }),
        kv(`ml.segment.${h}`, { stringValue: h }),
      ],
    }));
    const res = await fetch(`${c.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] }),
    });
    expect(res.status).toBe(200);
    await c.writer.flush();
    const { models } = (await (await fetch(`${c.url}/api/v1/models`, { headers: auth })).json()) as { models: { name: string; predictions: number }[] };
    expect(models.map((m) => m.name).sort()).toEqual([...HOSTILE].sort());
    expect(models.every((m) => m.predictions === 1)).toBe(true);
    for (const h of HOSTILE) {
      for (const path of ['drift?window=1h', 'performance?window=1h']) {
        const r = await fetch(`${c.url}/api/v1/models/${encodeURIComponent(h)}/${path}`, { headers: auth });
        expect(r.status, `${path} for ${JSON.stringify(h)}`).toBeLessThan(500);
      }
    }
    // The tables are all still there and intact.
    const after = (await (await fetch(`${c.url}/api/v1/models`, { headers: auth })).json()) as { models: unknown[] };
    expect(after.models).toHaveLength(HOSTILE.length);
  });

  it('takes an uploaded reference whose column names hold backquotes and SQL, and keeps the names verbatim', async () => {
    const names = ['a`b', 'x` String, y', '`) ENGINE = Memory; --', ...HOSTILE.filter((h) => !h.includes('\u0000'))];
    const rows = Array.from({ length: 50 }, (_, i) => JSON.stringify(Object.fromEntries(names.map((n, k) => [n, k % 2 ? `c${i % 3}` : i + k / 10]))));
    const up = await fetch(`${c.url}/api/v1/models/hostile-upload/baseline?version=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', ...auth },
      body: rows.join('\n') + '\n',
    });
    expect(up.status, await up.clone().text()).toBe(200);
    const got = (await (await fetch(`${c.url}/api/v1/models/hostile-upload/baseline?version=v1`, { headers: auth })).json()) as { baselines: { features: { feature: string }[] }[] };
    expect(got.baselines[0].features.map((f) => f.feature).sort()).toEqual([...names].sort());
  });

  it('never writes an API key to the log, only its name', async () => {
    await fetch(`${c.url}/api/v1/models`, { headers: { authorization: 'Bearer wrong-key-but-long-enough' } });
    const text = JSON.stringify(c.logs);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain('wrong-key-but-long-enough');
    expect(text).toContain('"api_keys":["ops"]');
  });
});
