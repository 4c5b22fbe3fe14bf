// API keys against a real collector: scopes and models are enforced on ingest and on reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../collector/config.js';
import { findKey, parseKeys } from '../../collector/auth.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';
import { ExportLogsServiceRequest, ExportLogsServiceResponse, Status } from '../../otlp/schema.js';

const KEYS = [
  { name: 'team-a', key: 'a-secret-0123456789', scopes: ['read', 'write'], models: ['model-a'] },
  { name: 'team-b', key: 'b-secret-0123456789', scopes: ['read', 'write'], models: ['model-b*'] },
  { name: 'reader', key: 'r-secret-0123456789', scopes: ['read'], models: ['*'] },
];

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const logs = (model: string, id: string) => JSON.stringify({
  resourceLogs: [{ resource: { attributes: [kv('ml.model.name', { stringValue: model })] }, scopeLogs: [{ logRecords: [
    { eventName: 'ml.prediction', attributes: [kv('ml.prediction.id', { stringValue: id }), kv('ml.prediction.value', { intValue: 1 })] },
  ] }] }],
});

describe('API keys', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector({ apiKeys: parseKeys(JSON.stringify(KEYS), 'test') });
  });
  afterAll(async () => c?.close());

  const call = (path: string, key?: string, init: RequestInit = {}) =>
    fetch(`${c.url}${path}`, { ...init, headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.headers as Record<string, string>) } });
  const post = (key: string | undefined, body: string) => call('/v1/logs', key, { method: 'POST', body });

  it('refuses requests without a key or with an unknown one', async () => {
    expect((await post(undefined, logs('model-a', '1'))).status).toBe(401);
    expect((await post('nope-nope-nope-nope', logs('model-a', '1'))).status).toBe(401);
    expect((await call('/api/v1/models')).status).toBe(401);
    expect((await call('/metrics')).status).toBe(401);
    expect((await call('/healthz')).status).toBe(200); // probes stay open
  });

  it('lets a key write only its models', async () => {
    expect((await post('a-secret-0123456789', logs('model-a', 'a1'))).status).toBe(200);
    expect((await post('b-secret-0123456789', logs('model-b2', 'b1'))).status).toBe(200);
    const denied = await post('a-secret-0123456789', logs('model-b2', 'x'));
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { message: string }).message).toContain('prediction of model "model-b2": this API key may not write that model');
    const readOnly = await call('/v1/logs', 'r-secret-0123456789', { method: 'POST', body: logs('model-a', 'r1'), headers: { 'x-api-key': 'r-secret-0123456789' } });
    expect(readOnly.status).toBe(403);
    // Mixed request: the allowed record is stored, the other rejected by name.
    const mixed = JSON.parse(logs('model-a', 'a2'));
    mixed.resourceLogs.push(JSON.parse(logs('model-b2', 'b-by-a')).resourceLogs[0]);
    const res = await post('a-secret-0123456789', JSON.stringify(mixed));
    expect(res.status).toBe(200);
    expect(((await res.json()) as { partialSuccess: { rejectedLogRecords: string } }).partialSuccess.rejectedLogRecords).toBe('1');
    // The same in protobuf, whose predictions are decoded straight into the store's rows.
    const proto = (body: unknown) => call('/v1/logs', 'a-secret-0123456789', { method: 'POST', body: Buffer.from(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(body as Record<string, unknown>)).finish()), headers: { 'content-type': 'application/x-protobuf' } });
    const mixedProto = JSON.parse(logs('model-a', 'a3'));
    mixedProto.resourceLogs.push(JSON.parse(logs('model-b2', 'b-by-a-proto')).resourceLogs[0]);
    const pres = await proto(mixedProto);
    expect(pres.status).toBe(200);
    const partial = ExportLogsServiceResponse.decode(new Uint8Array(await pres.arrayBuffer())).partialSuccess;
    expect([Number(partial?.rejectedLogRecords), partial?.errorMessage]).toEqual([1, 'prediction of model "model-b2": this API key may not write that model']);
    expect((await proto(JSON.parse(logs('model-b2', 'x-proto')))).status).toBe(403);
    // A refused label and a refused prediction: the same message in both encodings (predictions first).
    const both = JSON.parse(logs('model-b2', 'y'));
    both.resourceLogs[0].scopeLogs[0].logRecords.unshift({ eventName: 'ml.label', attributes: [kv('ml.prediction.id', { stringValue: 'y' }), kv('ml.label.value', { intValue: 1 })] });
    const viaJson = await post('a-secret-0123456789', JSON.stringify(both));
    const viaProto = await proto(both);
    expect([viaJson.status, viaProto.status]).toEqual([403, 403]);
    const jsonMessage = ((await viaJson.json()) as { message: string }).message;
    expect(Status.decode(new Uint8Array(await viaProto.arrayBuffer())).message).toBe(jsonMessage);
    expect(jsonMessage).toBe('this API key may not write: prediction of model "model-b2": this API key may not write that model; label of model "model-b2": this API key may not write that model');
  });

  it('lets a key read only its models', async () => {
    await c.writer.flush();
    const list = async (key: string) => ((await (await call('/api/v1/models', key)).json()) as { models: { name: string; predictions: number }[] }).models;
    expect((await list('a-secret-0123456789')).map((m) => [m.name, m.predictions])).toEqual([['model-a', 3]]);
    expect((await list('b-secret-0123456789')).map((m) => m.name)).toEqual(['model-b2']);
    expect((await list('r-secret-0123456789')).map((m) => m.name)).toEqual(['model-a', 'model-b2']);
    const forbidden = await call('/api/v1/models/model-b2/drift', 'a-secret-0123456789');
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as { error: string }).error).toBe('key "team-a" may not read model "model-b2"');
    expect((await call('/metrics', 'a-secret-0123456789')).status).toBe(403);
    expect((await call('/metrics', 'r-secret-0123456789')).status).toBe(200);
  });

  it('a refused record fixes no embedding dimension for the model it named', async () => {
    const withEmbedding = (model: string, id: string, dim: number) => {
      const body = JSON.parse(logs(model, id));
      body.resourceLogs[0].scopeLogs[0].logRecords[0].attributes.push(
        kv('ml.embedding.e', { arrayValue: { values: Array.from({ length: dim }, (_, i) => ({ doubleValue: i / 10 })) } }),
      );
      return JSON.stringify(body);
    };
    // team-a may not write model-b-emb: refused after decoding, so its dimension (3) is not kept...
    expect((await post('a-secret-0123456789', withEmbedding('model-b-emb', 'x1', 3))).status).toBe(403);
    // ...and the owner's first vector sets it (5); after that, another dimension is refused by name.
    expect((await post('b-secret-0123456789', withEmbedding('model-b-emb', 'b1', 5))).status).toBe(200);
    const other = await post('b-secret-0123456789', withEmbedding('model-b-emb', 'b2', 3));
    expect(other.status).toBe(400);
    expect(((await other.json()) as { message: string }).message).toContain('dimension 3, but embedding "e" of model "model-b-emb" version "unversioned" has dimension 5');
  });

  it('compares keys by hash, finds the right one, and never accepts a prefix', () => {
    const keys = parseKeys(JSON.stringify(KEYS), 'test');
    expect(findKey(keys, 'b-secret-0123456789')?.name).toBe('team-b');
    expect(findKey(keys, 'b-secret-012345678')).toBeUndefined();
    expect(findKey(keys, 'b-secret-01234567890')).toBeUndefined();
  });

  it('validates key configuration and refuses to listen beyond loopback without keys', () => {
    expect(() => loadConfig({ DRIFTWATCH_HOST: '0.0.0.0' })).toThrow(ConfigError);
    expect(() => loadConfig({ DRIFTWATCH_HOST: '0.0.0.0' })).toThrow(/no API keys are configured/);
    expect(loadConfig({ DRIFTWATCH_HOST: '0.0.0.0', DRIFTWATCH_API_KEYS: JSON.stringify(KEYS) }).apiKeys).toHaveLength(3);
    expect(() => loadConfig({ DRIFTWATCH_API_KEYS: '[{"name":"x","key":"short","scopes":["read"]}]' })).toThrow(/at least 16 characters/);
    expect(() => loadConfig({ DRIFTWATCH_API_KEYS: '{not json' })).toThrow(/DRIFTWATCH_API_KEYS: not valid JSON/);
    expect(() => loadConfig({ DRIFTWATCH_PORT: 'eighty' })).toThrow(/DRIFTWATCH_PORT/);
  });
});

describe('configuration file', () => {
  it('reads settings from DRIFTWATCH_CONFIG, lets the environment win, and names bad ones', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'dw-config-'));
    const file = join(dir, 'driftwatch.yaml');
    writeFileSync(file, `DRIFTWATCH_PORT: 9999\nDRIFTWATCH_RETENTION_DAYS: 7\nDRIFTWATCH_API_KEYS:\n  - {name: k, key: "0123456789abcdef", scopes: [read]}\n`);
    const c = loadConfig({ DRIFTWATCH_CONFIG: file, DRIFTWATCH_PORT: '1234' });
    expect(c.port).toBe(1234);
    expect(c.retentionDays).toBe(7);
    expect(c.apiKeys?.map((k) => k.name)).toEqual(['k']);
    writeFileSync(file, 'DRIFTWATCH_RETENTION_DAYS: zero\n');
    expect(() => loadConfig({ DRIFTWATCH_CONFIG: file })).toThrow(`DRIFTWATCH_RETENTION_DAYS (in ${file}):`);
    writeFileSync(file, 'DRIFTWATCH_PROT: 1\n');
    expect(() => loadConfig({ DRIFTWATCH_CONFIG: file })).toThrow('unknown setting "DRIFTWATCH_PROT"');
  });
});
