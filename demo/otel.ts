// The demo service's own OpenTelemetry setup, as a real service would have one: the NodeSDK with a
// metric reader that pushes to the collector's /v1/metrics. The Driftwatch SDK finds this global
// MeterProvider and records its `ml.prediction.duration` histogram through it, so the demo also
// feeds the latency panels. Traces and logs are off: the demo has none to send.
import { NodeSDK } from '@opentelemetry/sdk-node';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';

export function startServiceTelemetry(endpoint: string, model: string, version: string): NodeSDK {
  process.env.OTEL_TRACES_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  const sdk = new NodeSDK({
    serviceName: 'driftwatch-demo',
    resource: resourceFromAttributes({ 'ml.model.name': model, 'ml.model.version': version }),
    metricReaders: [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/metrics` }),
        exportIntervalMillis: 10_000,
      }),
    ],
  });
  sdk.start();
  return sdk;
}
