// The collector's own metrics and the models' drift gauges, served in Prometheus text format via
// @opentelemetry/exporter-prometheus (as a reader whose output /metrics serialises on demand).
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { Attributes } from '@opentelemetry/api';

export interface GaugeValue { attributes: Attributes; value: number }

export function createTelemetry() {
  const reader = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('driftwatch-collector');
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);

  const records = meter.createCounter('driftwatch.ingest.records', {
    description: 'Telemetry records received, by kind (prediction, label) and outcome (accepted, rejected)',
  });
  const requests = meter.createCounter('driftwatch.ingest.requests', {
    description: 'OTLP/HTTP requests, by signal and HTTP status code',
  });
  const deliveries = meter.createCounter('driftwatch.alert.deliveries', {
    description: 'Alert notifications delivered to receivers, by receiver and outcome',
  });

  const requestDuration = meter.createHistogram('driftwatch.ingest.request.duration', {
    description: 'Time from an OTLP request arriving to its acknowledgement, by signal and status',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10] },
  });
  const inserts = meter.createHistogram('driftwatch.store.insert.duration', {
    description: 'ClickHouse insert latency by table',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] },
  });
  let writerState: () => { queuedRows: number; spoolBytes: number; spoolBatches: number; spoolCorrupt: number; degraded: boolean } = () => ({
    queuedRows: 0, spoolBytes: 0, spoolBatches: 0, spoolCorrupt: 0, degraded: false,
  });
  meter.createObservableGauge('driftwatch.ingest.queue.rows', { description: 'Rows waiting for their ClickHouse insert' })
    .addCallback((r) => r.observe(writerState().queuedRows));
  meter.createObservableGauge('driftwatch.spool.bytes', { description: 'Bytes in the disk spool (batches waiting for ClickHouse)', unit: 'By' })
    .addCallback((r) => r.observe(writerState().spoolBytes));
  meter.createObservableGauge('driftwatch.spool.batches', { description: 'Batches in the disk spool' })
    .addCallback((r) => r.observe(writerState().spoolBatches));
  meter.createObservableCounter('driftwatch.spool.corrupt', { description: 'Spool files that could not be read back (truncated, bad header), moved to the spool\'s corrupt/ folder' })
    .addCallback((r) => r.observe(writerState().spoolCorrupt));
  meter.createObservableGauge('driftwatch.store.up', { description: '1 when ClickHouse takes inserts directly, 0 while spooling' })
    .addCallback((r) => r.observe(writerState().degraded ? 0 : 1));

  // Gauges read the latest computed values at scrape time.
  let drift: GaugeValue[] = [];
  let driftDetected: GaugeValue[] = [];
  let alerts: GaugeValue[] = [];
  let performance: { metric: GaugeValue[]; drop: GaugeValue[]; coverage: GaugeValue[] } = { metric: [], drop: [], coverage: [] };
  meter
    .createObservableGauge('driftwatch.performance.metric', { description: 'Latest performance metric per model, version, window, segment, metric and kind (realized from labels, estimated by CBPE)' })
    .addCallback((r) => performance.metric.forEach((g) => r.observe(g.value, g.attributes)));
  meter
    .createObservableGauge('driftwatch.performance.drop', { description: 'Degradation of the metric from its baseline window (positive = worse)' })
    .addCallback((r) => performance.drop.forEach((g) => r.observe(g.value, g.attributes)));
  meter
    .createObservableGauge('driftwatch.performance.label.coverage', { description: 'Labelled predictions / predictions in the window' })
    .addCallback((r) => performance.coverage.forEach((g) => r.observe(g.value, g.attributes)));
  meter
    .createObservableGauge('driftwatch.drift.statistic', { description: 'Latest drift statistic per model, version, feature and method' })
    .addCallback((r) => drift.forEach((g) => r.observe(g.value, g.attributes)));
  meter
    .createObservableGauge('driftwatch.drift.detected', { description: '1 when the latest drift verdict for the feature is drift, else 0' })
    .addCallback((r) => driftDetected.forEach((g) => r.observe(g.value, g.attributes)));
  meter
    .createObservableGauge('driftwatch.alerts', { description: 'Active alerts by rule and state' })
    .addCallback((r) => alerts.forEach((g) => r.observe(g.value, g.attributes)));

  return {
    records,
    inserts,
    requestDuration,
    observeWriter(fn: typeof writerState) {
      writerState = fn;
    },
    requests,
    deliveries,
    setDrift(statistics: GaugeValue[], detected: GaugeValue[]) {
      drift = statistics;
      driftDetected = detected;
    },
    setAlerts(values: GaugeValue[]) {
      alerts = values;
    },
    setPerformance(values: { metric: GaugeValue[]; drop: GaugeValue[]; coverage: GaugeValue[] }) {
      performance = values;
    },
    async scrape(): Promise<string> {
      const { resourceMetrics } = await reader.collect();
      return serializer.serialize(resourceMetrics);
    },
    shutdown: () => provider.shutdown(),
  };
}

export type Telemetry = ReturnType<typeof createTelemetry>;
