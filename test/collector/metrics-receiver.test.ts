// POST /v1/metrics: the official OpenTelemetry metrics SDK exports to a real collector (protobuf and
// JSON exporters), and the data points land in metric_points as sent.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MeterProvider, PeriodicExportingMetricReader, AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { queryRows } from '../../collector/store/client.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

describe('POST /v1/metrics', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector();
  });
  afterAll(async () => c?.close());

  for (const [name, Exporter] of [['protobuf', ProtoExporter], ['json', JsonExporter]] as const) {
    it(`stores histograms and counters from the OTel SDK (${name})`, async () => {
      const model = `metrics-${name}`;
      const reader = new PeriodicExportingMetricReader({
        exporter: new Exporter({ url: `${c.url}/v1/metrics`, temporalityPreference: AggregationTemporality.DELTA }),
        exportIntervalMillis: 60_000,
      });
      const provider = new MeterProvider({
        resource: resourceFromAttributes({ 'service.name': 'svc', 'ml.model.name': model, 'ml.model.version': 'v9' }),
        readers: [reader],
      });
      const meter = provider.getMeter('test');
      const h = meter.createHistogram('ml.prediction.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.01, 0.1, 1] } });
      const n = meter.createCounter('ml.predictions');
      for (const v of [0.005, 0.05, 0.05, 0.5, 5]) h.record(v, { route: '/score' });
      n.add(7);
      await provider.forceFlush();
      await provider.shutdown();
      await c.writer.flush();

      const rows = await queryRows<{ metric: string; kind: string; version: string; value: number; count: string; sum: number; bounds: number[]; buckets: string[]; attributes: Record<string, string>; temporality: string }>(
        c.store.client,
        `SELECT metric, kind, version, value, count, sum, bounds, buckets, attributes, temporality FROM metric_points WHERE model = {m:String} ORDER BY metric`,
        { m: model },
      );
      expect(rows.map((r) => [r.metric, r.kind])).toEqual([['ml.prediction.duration', 'histogram'], ['ml.predictions', 'sum']]);
      const [hist, counter] = rows;
      expect(hist).toMatchObject({ version: 'v9', bounds: [0.01, 0.1, 1], temporality: 'delta' });
      expect(hist.buckets.map(Number)).toEqual([1, 2, 1, 1]);
      expect(Number(hist.count)).toBe(5);
      expect(hist.sum).toBeCloseTo(5.605, 9);
      expect(hist.attributes).toMatchObject({ route: '/score', 'service.name': 'svc' });
      expect(hist.attributes['ml.model.name']).toBeUndefined();
      expect(counter.value).toBe(7);
    });
  }

  it('rejects unsupported metric types by name and keeps the rest', async () => {
    const body = {
      resourceMetrics: [{ scopeMetrics: [{ metrics: [
        { name: 'ok', gauge: { dataPoints: [{ asDouble: 1.5, timeUnixNano: '1' }] } },
        { name: 'exp', exponentialHistogram: { dataPoints: [] } },
        { name: 'bad', histogram: { dataPoints: [{ bucketCounts: ['1'], explicitBounds: [1, 2] }] } },
      ] }] }],
    };
    const res = await fetch(`${c.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { partialSuccess: { rejectedDataPoints: string; errorMessage: string } };
    expect(answer.partialSuccess.rejectedDataPoints).toBe('2');
    expect(answer.partialSuccess.errorMessage).toContain('metrics[1]: exponential histograms are not supported (metric "exp")');
    expect(answer.partialSuccess.errorMessage).toContain('metrics[2].histogram.dataPoints[0].bucketCounts: has 1 counts for 2 bounds (needs bounds + 1)');
  });
});
