// Promise: a cardinality bomb (a new model or feature name per record) is stopped at the limits,
// reported by name, and other models keep ingesting; the limits survive a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const req = (model: string, records: { id: string; features: string[] }[]) => JSON.stringify({
  resourceLogs: [{ resource: { attributes: [kv('ml.model.name', { stringValue: model })] }, scopeLogs: [{ logRecords: records.map((r) => ({
    eventName: 'ml.prediction',
    attributes: [kv('ml.prediction.id', { stringValue: r.id }), kv('ml.prediction.value', { intValue: 1 }), ...r.features.map((f) => kv(`ml.feature.${f}`, { doubleValue: 1 }))],
  })) }] }],
});

describe('cardinality bombs', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector({ maxModels: 3, maxFeaturesPerModel: 50 });
  });
  afterAll(async () => c?.close());
  const post = async (body: string) => {
    const res = await fetch(`${c.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, body: (await res.json()) as { partialSuccess?: { rejectedLogRecords: string; errorMessage: string }; message?: string } };
  };

  it('stops new feature names beyond the per-model limit, and nothing else', async () => {
    // 2000 records, each inventing a new feature name.
    const bomb = Array.from({ length: 2000 }, (_, i) => ({ id: `b${i}`, features: ['stable', `bomb_${i}`] }));
    const r = await post(req('bombed', bomb));
    expect(r.status).toBe(200);
    expect(Number(r.body.partialSuccess?.rejectedLogRecords)).toBe(2000 - 49); // "stable" + 49 bombs fit in 50
    expect(r.body.partialSuccess?.errorMessage).toContain('would exceed the model\'s limit of 50 distinct features');
    // Known names still go through for the bombed model; another model is unaffected.
    expect((await post(req('bombed', [{ id: 'ok', features: ['stable', 'bomb_0'] }]))).status).toBe(200);
    const other = await post(req('healthy', [{ id: 'h', features: Array.from({ length: 40 }, (_, k) => `f${k}`) }]));
    expect(other.status).toBe(200);
    expect(other.body.partialSuccess).toBeUndefined();
  });

  it('stops new model names beyond the limit', async () => {
    expect((await post(req('third', [{ id: 't', features: ['x'] }]))).status).toBe(200);
    const r = await post(req('fourth', [{ id: 'f', features: ['x'] }]));
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('too many models (limit 3)');
    const metrics = await (await fetch(`${c.url}/metrics`)).text();
    expect(metrics).toMatch(/driftwatch_ingest_records_total\{[^}]*outcome="rejected"[^}]*reason="too many models \(limit …\)"[^}]*\} 1/);
  });
});
