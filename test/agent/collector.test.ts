// The SDK against a real collector (in-process, embedded ClickHouse): a collector that comes up
// late gets what was buffered; and records built with the official OpenTelemetry Logs SDK
// (@opentelemetry/sdk-logs + the OTLP/HTTP exporters, protobuf and JSON) are stored exactly like
// the SDK's own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { OTLPLogExporter as ProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as JsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { createMonitor, type Monitor } from '../../agent/index.js';
import { queryRows } from '../../collector/store/client.js';
import { startTestCollector, waitFor, type TestCollector } from '../helpers/collector.js';
import { freePort } from './sink.js';

interface Stored { id: string; ts: string; prediction: string; prediction_num: number; score: number; latency_ms: number; num: Record<string, number>; cat: Record<string, string>; segment: Record<string, string> }

// Recent (within the collector's retention), on a whole second.
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
const rows = Array.from({ length: 40 }, (_, i) => ({
  id: `p-${String(i).padStart(3, '0')}`,
  ts: T0 + i * 1000,
  features: { age: 20 + i, income: 1234.5 + i * 10.25, country: ['DE', 'FR', 'US'][i % 3], vip: i % 4 === 0 },
  prediction: i % 2,
  score: Math.round((i / 40) * 1000) / 1000,
  latencyMs: 1.5 + i,
  segment: { channel: i % 2 ? 'web' : 'app' },
}));
const labels = rows.slice(0, 10).map((r, i) => ({ id: r.id, value: i % 3 === 0 ? 'fraud' : 'ok', ts: r.ts + 60_000 }));

describe('SDK -> real collector', () => {
  let port: number;
  let monitor: Monitor;
  let collector: TestCollector | undefined;
  let recordedWhileDown = 0;

  beforeAll(async () => {
    port = await freePort();
    // The collector is not up yet: records wait in the buffer (a small one, so some overflow).
    monitor = createMonitor({ model: 'late-collector', version: 'v1', endpoint: `http://127.0.0.1:${port}`, maxBufferBytes: 32 * 1024, maxBatchSize: 100, retryBaseMs: 20, retryMaxMs: 200, flushIntervalMs: 50 });
    for (let i = 0; i < 2000; i++) monitor.record({ id: `late-${i}`, features: { x: i, c: 'k' }, prediction: 1 });
    recordedWhileDown = monitor.stats().recorded;
    await new Promise((r) => setTimeout(r, 100)); // a few failed attempts
    collector = await startTestCollector({ port });
  });
  afterAll(async () => {
    await monitor?.shutdown();
    await collector?.close();
  });

  const query = (model: string) =>
    queryRows<Stored>(
      collector!.store.client,
      `SELECT id, toString(ts) AS ts, prediction, prediction_num, score, latency_ms, num, cat, segment
       FROM predictions FINAL WHERE model = {m:String} ORDER BY id`,
      { m: model },
    );
  const queryLabels = (model: string) =>
    queryRows<{ id: string; ts: string; label: string }>(collector!.store.client, 'SELECT id, toString(ts) AS ts, label FROM labels FINAL WHERE model = {m:String} ORDER BY id', { m: model });

  it('a collector that starts late receives what was buffered; the overflow was counted', async () => {
    const st0 = monitor.stats();
    expect(st0.dropped).toBeGreaterThan(0);
    expect(recordedWhileDown + st0.dropped).toBe(2000);
    await monitor.flush();
    const st = monitor.stats();
    expect(st).toMatchObject({ exported: recordedWhileDown, failed: 0, queuedBytes: 0 });
    const stored = await waitFor(async () => {
      const r = await queryRows<{ n: string }>(collector!.store.client, "SELECT count() AS n FROM predictions FINAL WHERE model = 'late-collector'");
      return Number(r[0].n) === recordedWhileDown ? r : undefined;
    }, 20_000);
    expect(stored).toBeTruthy();
  });

  it('records from the official OTel Logs SDK (protobuf and JSON) are stored exactly like the SDK\'s own', async () => {
    // Driftwatch's SDK.
    const m = createMonitor({ model: 'interop-dw', version: 'v9', endpoint: collector!.url });
    for (const r of rows) m.record({ id: r.id, timestamp: r.ts, features: r.features, prediction: r.prediction, score: r.score, latencyMs: r.latencyMs, segment: r.segment });
    for (const l of labels) m.label(l.id, l.value, l.ts);
    await m.shutdown();
    expect(m.stats()).toMatchObject({ exported: rows.length + labels.length, failed: 0 });

    // The OpenTelemetry Logs SDK, following the README's telemetry conventions.
    for (const [model, exporter] of [
      ['interop-otel-proto', new ProtoExporter({ url: `${collector!.url}/v1/logs`, compression: CompressionAlgorithm.GZIP })],
      ['interop-otel-json', new JsonExporter({ url: `${collector!.url}/v1/logs` })],
    ] as const) {
      const provider = new LoggerProvider({
        resource: resourceFromAttributes({ 'ml.model.name': model, 'ml.model.version': 'v9', 'service.name': 'scorer' }),
        processors: [new BatchLogRecordProcessor({ exporter })],
      });
      const logger = provider.getLogger('my-model-server');
      for (const r of rows) {
        const attributes: Record<string, string | number | boolean> = {
          'ml.prediction.id': r.id,
          'ml.prediction.value': r.prediction,
          'ml.prediction.score': r.score,
          'ml.prediction.latency_ms': r.latencyMs,
        };
        for (const [k, v] of Object.entries(r.features)) attributes[`ml.feature.${k}`] = v;
        for (const [k, v] of Object.entries(r.segment)) attributes[`ml.segment.${k}`] = v;
        logger.emit({ eventName: 'ml.prediction', timestamp: r.ts, attributes });
      }
      for (const l of labels) logger.emit({ eventName: 'ml.label', timestamp: l.ts, attributes: { 'ml.prediction.id': l.id, 'ml.label.value': l.value } });
      await provider.shutdown();
    }

    const ours = await waitFor(async () => {
      const r = await query('interop-dw');
      return r.length === rows.length ? r : undefined;
    }, 20_000);
    for (const model of ['interop-otel-proto', 'interop-otel-json']) {
      const theirs = await waitFor(async () => {
        const r = await query(model);
        return r.length === rows.length ? r : undefined;
      }, 20_000);
      expect(theirs).toEqual(ours);
      const theirLabels = await waitFor(async () => {
        const r = await queryLabels(model);
        return r.length === labels.length ? r : undefined;
      }, 20_000);
      expect(theirLabels).toEqual(await queryLabels('interop-dw'));
    }
    // And what is stored is what was sent.
    const r7 = ours.find((r) => r.id === 'p-007')!;
    expect(r7).toMatchObject({ prediction: '1', prediction_num: 1, score: 0.175, latency_ms: 8.5, num: { age: 27, income: 1306.25 }, cat: { country: 'FR', vip: 'false' }, segment: { channel: 'web' } });
    expect(r7.ts).toBe(new Date(T0 + 7000).toISOString().replace('T', ' ').replace('Z', ''));
    const models = (await (await fetch(`${collector!.url}/api/v1/models`)).json()) as { models: { name: string; versions: string[]; predictions: number; labels: number }[] };
    for (const name of ['interop-dw', 'interop-otel-proto', 'interop-otel-json']) {
      expect(models.models.find((x) => x.name === name)).toMatchObject({ versions: ['v9'], predictions: rows.length, labels: labels.length });
    }
  });

  it("metrics: 'otlp' pushes the SDK's own metrics to the collector without touching the global provider", async () => {
    const m = createMonitor({ model: 'self-metrics', version: 'v2', endpoint: collector!.url, metrics: 'otlp', metricsIntervalMs: 200 });
    // The private provider starts in the background (its packages load on demand): wait for its first export.
    await waitFor(async () => (await queryRows(collector!.store.client, "SELECT 1 FROM metric_points WHERE model = 'self-metrics' LIMIT 1")).length > 0, 20_000);
    for (let i = 0; i < 25; i++) m.record({ features: { x: i }, prediction: 1, latencyMs: 40 });
    await m.flush();
    await m.shutdown(); // the private provider's last export
    const rows = await waitFor(async () => {
      const r = await queryRows<{ metric: string; kind: string; value: number; count: string; sum: number; attributes: Record<string, string> }>(
        collector!.store.client,
        `SELECT metric, kind, value, count, sum, attributes FROM metric_points WHERE model = 'self-metrics' AND version = 'v2' ORDER BY metric, ts`,
      );
      return r.some((x) => x.metric === 'driftwatch.agent.records' && x.attributes.outcome === 'exported' && x.value === 25) && r.some((x) => x.metric === 'ml.prediction.duration' && Number(x.count) === 25) ? r : undefined;
    }, 20_000);
    const hist = rows.filter((x) => x.metric === 'ml.prediction.duration').at(-1)!;
    expect(hist.sum).toBeCloseTo(1.0, 6); // 25 x 40 ms
    expect(new Set(rows.map((r) => r.metric))).toEqual(new Set(['driftwatch.agent.queue.size', 'driftwatch.agent.records', 'driftwatch.agent.retries', 'ml.prediction.duration']));
    const { metrics } = await import('@opentelemetry/api');
    expect(metrics.getMeterProvider().constructor.name).toBe('NoopMeterProvider');
  });
});
