// Embeddings end to end: the SDK records vectors (Float32Array and number[], protobuf and OTLP/JSON),
// the collector stores them, the version's first 1000 predictions become its baseline, and the
// drift API reports a shifted embedding as drifted and an unshifted one as not. Plus what the
// collector refuses, by field path: non-numeric elements, a changed dimension, too many elements,
// a vector where a scalar belongs; and what the SDK leaves out (counted as invalid).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMonitor } from '../../agent/index.js';
import { queryRows } from '../../collector/store/client.js';
import { ExportLogsServiceRequest } from '../../otlp/schema.js';
import { startTestCollector, waitFor, type TestCollector } from '../helpers/collector.js';
import { rng } from '../../demo/model.js';

const MIN = 60_000;

interface Column { column: string; type: string; method: string; statistic: number; p_value: number; effect_size: number; drift: boolean; dimension?: number; reference_missing: number; current_missing: number }

describe('embedding drift: SDK -> collector -> drift API', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector({ baselineRows: 1000 });
  });
  afterAll(async () => c?.close());

  it('a shifted embedding drifts, an unshifted one does not', async () => {
    const r = rng(7);
    const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    const now = Date.now();
    for (const encoding of ['protobuf', 'json'] as const) {
      const monitor = createMonitor({ model: `emb-${encoding}`, version: 'v1', endpoint: c.url, encoding, flushIntervalMs: 50 });
      const record = (ts: number, shift: number) => {
        const text = new Float32Array(32);
        for (let j = 0; j < 32; j++) text[j] = normal() * (1 + j / 16) + shift;
        const image = Array.from({ length: 8 }, () => normal() * 2 + 1);
        monitor.record({ features: { x: normal() }, embeddings: { text, image }, prediction: 1, score: r(), timestamp: ts });
      };
      // Baseline: 1000 predictions 50 to 40 minutes ago; current: 1000 in the last 20 minutes, `text` shifted by 0.5.
      for (let i = 0; i < 1000; i++) record(now - 50 * MIN + i * 600, 0);
      for (let i = 0; i < 1000; i++) record(now - 20 * MIN + i * 1000, 0.5);
      await monitor.shutdown();
      expect(monitor.stats()).toMatchObject({ recorded: 2000, exported: 2000, failed: 0, invalid: 0 });
    }
    for (const model of ['emb-protobuf', 'emb-json']) {
      const body = await waitFor(async () => {
        const res = await fetch(`${c.url}/api/v1/models/${model}/drift?window=1h`);
        return res.status === 200 ? ((await res.json()) as { versions: { current_rows: number; columns: Column[]; current: { read: string } }[] }) : undefined;
      }, 20_000);
      const v = body.versions[0];
      expect(v.current_rows).toBe(1000);
      const text = v.columns.find((x) => x.column === 'text')!;
      const image = v.columns.find((x) => x.column === 'image')!;
      expect(text, model).toMatchObject({ type: 'embedding', method: 'centroid', dimension: 32, drift: true, reference_missing: 0, current_missing: 0 });
      expect(text.p_value).toBeLessThan(1e-10);
      expect(text.effect_size).toBeGreaterThan(0.1);
      // sqrt(32) * 0.5 = 2.83 apart, give or take the noise.
      expect(text.statistic).toBeGreaterThan(2.5);
      expect(text.statistic).toBeLessThan(3.2);
      expect(image, model).toMatchObject({ type: 'embedding', method: 'centroid', dimension: 8, drift: false });
      expect(image.p_value).toBeGreaterThan(0.01);
      // Stored as Float32 vectors.
      const [row] = await queryRows<{ d: number; k: string[] }>(c.store.client, `SELECT length(emb['text']) AS d, arraySort(mapKeys(emb)) AS k FROM predictions WHERE model = {m:String} LIMIT 1`, { m: model });
      expect(row).toEqual({ d: 32, k: ['image', 'text'] });
    }
    // The result is in drift_results like any column.
    const saved = await queryRows<{ type: string; method: string; drift: boolean }>(c.store.client, `SELECT type, method, drift FROM drift_results WHERE model = 'emb-json' AND feature = 'text' LIMIT 1`);
    expect(saved[0]).toMatchObject({ type: 'embedding', method: 'centroid' });
  });

  const kv = (key: string, value: unknown) => ({ key, value });
  const rec = (id: string, attrs: { key: string; value: unknown }[]) => ({
    timeUnixNano: String(Date.now() * 1e6),
    eventName: 'ml.prediction',
    attributes: [kv('ml.prediction.id', { stringValue: id }), kv('ml.prediction.value', { intValue: '1' }), ...attrs],
  });
  const vec = (...xs: unknown[]) => ({ arrayValue: { values: xs } });
  const d = (x: number) => ({ doubleValue: x });
  const request = (records: unknown[]) => ({ resourceLogs: [{ resource: { attributes: [kv('ml.model.name', { stringValue: 'emb-bad' }), kv('ml.model.version', { stringValue: 'v1' })] }, scopeLogs: [{ logRecords: records }] }] });
  const P = 'resourceLogs[0].scopeLogs[0].logRecords';

  async function send(records: unknown[], encoding: 'json' | 'protobuf') {
    const req = request(records);
    const body = encoding === 'json' ? JSON.stringify(req) : Buffer.from(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req)).finish());
    const res = await fetch(`${c.url}/v1/logs`, { method: 'POST', body, headers: { 'content-type': encoding === 'json' ? 'application/json' : 'application/x-protobuf' } });
    if (encoding === 'json') return { status: res.status, body: (await res.json()) as { partialSuccess?: { rejectedLogRecords: string; errorMessage: string }; message?: string } };
    const bytes = new Uint8Array(await res.arrayBuffer());
    return { status: res.status, bytes };
  }

  it.each(['json', 'protobuf'] as const)('rejects bad vectors by field path (%s)', async (encoding) => {
    const v = encoding === 'json' ? 'a' : 'b';
    const records = [
      rec(`${v}-ok`, [kv(`ml.embedding.e${v}`, vec(d(1), d(2), { intValue: '3' }))]),
      rec(`${v}-text`, [kv(`ml.embedding.e${v}`, vec(d(1), { stringValue: 'x' }, d(3)))]),
      rec(`${v}-dim`, [kv(`ml.embedding.e${v}`, vec(d(1), d(2), d(3), d(4)))]),
      rec(`${v}-scalar`, [kv(`ml.embedding.e${v}`, d(1))]),
      rec(`${v}-feature`, [kv('ml.feature.f', vec(d(1)))]),
      rec(`${v}-long`, [kv(`ml.embedding.l${v}`, vec(...Array.from({ length: 4097 }, () => d(0))))]),
      rec(`${v}-empty`, [kv(`ml.embedding.m${v}`, vec())]),
    ];
    const res = await send(records, encoding);
    expect(res.status).toBe(200);
    let message: string;
    if (encoding === 'json') {
      const body = (res as { body: { partialSuccess: { rejectedLogRecords: string; errorMessage: string } } }).body;
      expect(body.partialSuccess.rejectedLogRecords).toBe('6');
      message = body.partialSuccess.errorMessage;
    } else {
      const { ExportLogsServiceResponse } = await import('../../otlp/schema.js');
      const answer = ExportLogsServiceResponse.toObject(ExportLogsServiceResponse.decode((res as { bytes: Uint8Array }).bytes), { longs: String });
      expect(answer.partialSuccess.rejectedLogRecords).toBe('6');
      message = answer.partialSuccess.errorMessage as string;
    }
    expect(message).toContain(`${P}[1].attributes["ml.embedding.e${v}"]: arrayValue element 1 must be a number`);
    expect(message).toContain(`${P}[2].attributes["ml.embedding.e${v}"]: dimension 4, but embedding "e${v}" of model "emb-bad" version "v1" has dimension 3`);
    expect(message).toContain(`${P}[3].attributes["ml.embedding.e${v}"]: must be an arrayValue of numbers`);
    expect(message).toContain(`${P}[4].attributes["ml.feature.f"]: array values are not supported here`);
    expect(message).toContain(`${P}[5].attributes["ml.embedding.l${v}"]: arrayValue has 4097 elements, more than 4096`);
    expect(message).toContain(`${P}[6].attributes["ml.embedding.m${v}"]: empty arrayValue`);
    // The dimension holds across requests too.
    const again = await send([rec(`${v}-dim2`, [kv(`ml.embedding.e${v}`, vec(d(1), d(2)))])], encoding);
    expect(again.status).toBe(400);
    const stored = await queryRows<{ id: string; e: number[] }>(c.store.client, `SELECT id, emb['e${v}'] AS e FROM predictions WHERE model = 'emb-bad' AND startsWith(id, '${v}-') ORDER BY id`);
    expect(stored).toEqual([{ id: `${v}-ok`, e: [1, 2, 3] }]);
  });

  it('the SDK leaves out what is not a vector of numbers, counts it, and sends the record', async () => {
    const monitor = createMonitor({ model: 'emb-sdk', version: 'v1', endpoint: c.url, flushIntervalMs: 50 });
    monitor.record({ id: 's-1', features: { x: 1 }, prediction: 1, embeddings: { good: [1, 2], text: ['a', 'b'] as unknown as number[], empty: [], obj: { 0: 1, length: 1 } as unknown as number[], big: new Float64Array(5000) } });
    monitor.record({ id: 's-2', features: { x: 1 }, prediction: 1, embeddings: 'nope' as unknown as Record<string, number[]> });
    monitor.record({ id: 's-3', features: { x: 1 }, prediction: 1, embeddings: { good: new Float32Array([3, 4]), none: undefined as unknown as number[] } });
    await monitor.shutdown();
    expect(monitor.stats()).toMatchObject({ recorded: 3, exported: 3, failed: 0, invalid: 5 });
    const stored = await queryRows<{ id: string; emb: Record<string, number[]> }>(c.store.client, `SELECT id, emb FROM predictions WHERE model = 'emb-sdk' ORDER BY id`);
    expect(stored).toEqual([{ id: 's-1', emb: { good: [1, 2] } }, { id: 's-2', emb: {} }, { id: 's-3', emb: { good: [3, 4] } }]);
  });
});
