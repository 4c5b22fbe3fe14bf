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

  // Gauges read the latest computed values at scrape time.
  let drift: GaugeValue[] = [];
  let driftDetected: GaugeValue[] = [];
  let alerts: GaugeValue[] = [];
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
    requests,
    deliveries,
    setDrift(statistics: GaugeValue[], detected: GaugeValue[]) {
      drift = statistics;
      driftDetected = detected;
    },
    setAlerts(values: GaugeValue[]) {
      alerts = values;
    },
    async scrape(): Promise<string> {
      const { resourceMetrics } = await reader.collect();
      return serializer.serialize(resourceMetrics);
    },
    shutdown: () => provider.shutdown(),
  };
}

export type Telemetry = ReturnType<typeof createTelemetry>;
