// Hostile input, property-based (fast-check): decoders and parsers never crash or hang on any
// input, and answer with their own error type (a clear 4xx over HTTP), never an internal error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BadRequest } from '../../collector/ingest/body.js';
import { decodeLogs, DEFAULT_LIMITS, parseLogsRequest } from '../../collector/ingest/otlp-logs.js';
import { decodeLogsProtobuf } from '../../collector/ingest/otlp-logs-protobuf.js';
import { decodeMetrics, parseMetricsRequest } from '../../collector/ingest/otlp-metrics.js';
import { parseRuleFile, RuleFileError } from '../../rules/engine/load.js';
import { ExportLogsServiceRequest } from '../../otlp/schema.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const only = (...types: (new (...a: never[]) => Error)[]) => (e: unknown) => {
  if (!types.some((t) => e instanceof t)) throw e;
};

// Values shaped like OTLP attributes, valid and not.
const anyValue = fc.oneof(
  fc.record({ stringValue: fc.oneof(fc.string(), fc.integer() as fc.Arbitrary<unknown>) }),
  fc.record({ doubleValue: fc.oneof(fc.double(), fc.constantFrom('NaN', 'Infinity', 'x', '')) }),
  fc.record({ intValue: fc.oneof(fc.integer(), fc.string()) }),
  fc.record({ boolValue: fc.oneof(fc.boolean(), fc.string()) }),
  fc.record({ arrayValue: fc.jsonValue() }),
  fc.jsonValue(),
);
const key = fc.oneof(fc.constantFrom('ml.model.name', 'ml.prediction.value', 'ml.prediction.id', 'ml.label.value', 'ml.prediction.score', 'event.name'), fc.string().map((s) => `ml.feature.${s}`), fc.string());
const record = fc.record(
  {
    eventName: fc.oneof(fc.constantFrom('ml.prediction', 'ml.label'), fc.string(), fc.jsonValue()),
    timeUnixNano: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String), fc.jsonValue()),
    attributes: fc.oneof(fc.array(fc.record({ key: fc.oneof(key, fc.jsonValue()), value: anyValue }), { maxLength: 30 }), fc.jsonValue()),
  },
  { requiredKeys: [] },
);
const request = fc.record({ resourceLogs: fc.array(fc.record({ resource: fc.record({ attributes: fc.array(fc.record({ key, value: anyValue }), { maxLength: 5 }) }), scopeLogs: fc.array(fc.record({ logRecords: fc.array(record, { maxLength: 10 }) }), { maxLength: 3 }) }), { maxLength: 3 }) });

describe('fuzzing the decoders and parsers', () => {
  it('OTLP/JSON logs: any JSON or near-OTLP body decodes or fails with BadRequest', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), request as fc.Arbitrary<unknown>), (body) => {
        try {
          const b = decodeLogs(parseLogsRequest(Buffer.from(JSON.stringify(body) ?? 'null'), 'json'), DEFAULT_LIMITS);
          for (const r of b.rejected) expect(r.reason.length).toBeGreaterThan(0);
        } catch (e) {
          only(BadRequest)(e);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('OTLP protobuf logs: random bytes and mutated real requests decode or fail with BadRequest', () => {
    const valid = ExportLogsServiceRequest.encode(
      ExportLogsServiceRequest.fromObject({
        resourceLogs: [{ resource: { attributes: [{ key: 'ml.model.name', value: { stringValue: 'm' } }] }, scopeLogs: [{ logRecords: [{ eventName: 'ml.prediction', attributes: [{ key: 'ml.prediction.value', value: { doubleValue: 1 } }, { key: 'ml.feature.x', value: { intValue: 3 } }] }] }] }],
      }),
    ).finish();
    const mutated = fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((muts) => {
      const b = Uint8Array.from(valid);
      for (const [i, v] of muts) b[i] = v;
      return b;
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), mutated, fc.uint8Array({ maxLength: 64 }).map((t) => Uint8Array.from([...valid, ...t]))), (bytes) => {
        try {
          decodeLogsProtobuf(bytes, DEFAULT_LIMITS);
        } catch (e) {
          only(BadRequest)(e);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('OTLP/JSON metrics: any body decodes or fails with BadRequest', () => {
    const metric = fc.record({ name: fc.oneof(fc.string(), fc.jsonValue()), gauge: fc.jsonValue(), sum: fc.jsonValue(), histogram: fc.record({ dataPoints: fc.array(fc.record({ bucketCounts: fc.jsonValue(), explicitBounds: fc.jsonValue(), count: fc.jsonValue() }, { requiredKeys: [] })) }) }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.record({ resourceMetrics: fc.array(fc.record({ scopeMetrics: fc.array(fc.record({ metrics: fc.array(metric, { maxLength: 5 }) })) })) }) as fc.Arbitrary<unknown>), (body) => {
        try {
          decodeMetrics(parseMetricsRequest(Buffer.from(JSON.stringify(body) ?? 'null'), 'json'));
        } catch (e) {
          only(BadRequest)(e);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('rule files: any text is either a rule set or a RuleFileError with file:line:col', () => {
    const yamlish = fc.array(fc.oneof(fc.string(), fc.constantFrom('groups:', '  - name: g', '    rules:', '      - alert: A', '        signal: feature_drift', '        condition: "> 1"', '        for: 5m', 'receivers:', '  - name: r', '    webhook: {url: x}', ': :', '- - -', '{{{', '"', "'")), { maxLength: 20 }).map((l) => l.join('\n'));
    fc.assert(
      fc.property(fc.oneof(fc.string(), yamlish), (text) => {
        try {
          parseRuleFile('fuzz.yaml', text, {});
        } catch (e) {
          only(RuleFileError)(e);
          for (const p of (e as RuleFileError).problems) expect(p).toMatch(/^fuzz\.yaml:\d+:\d+: /);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('fuzzing over HTTP (real collector)', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector();
  });
  afterAll(async () => c?.close());

  it('OTLP endpoints and uploads answer every body with 200 or a 4xx, never 5xx', async () => {
    const targets = [
      ['/v1/logs', 'application/json'],
      ['/v1/logs', 'application/x-protobuf'],
      ['/v1/metrics', 'application/json'],
      ['/v1/metrics', 'application/x-protobuf'],
      ['/api/v1/models/fuzz/labels', 'text/csv'],
      ['/api/v1/models/fuzz/labels', 'application/x-ndjson'],
      ['/api/v1/models/fuzz/labels', 'application/vnd.apache.parquet'],
    ] as const;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), fc.oneof(fc.uint8Array({ maxLength: 512 }), fc.string().map((s) => Buffer.from(s)), fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? ''))), async ([path, type], body) => {
        const res = await fetch(`${c.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });
        const text = await res.text();
        expect([200, 400, 413, 415], `${path} ${type} -> ${res.status} ${text}`).toContain(res.status);
      }),
      { numRuns: 150 },
    );
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
  });
});
