// OTLP metrics -> metric_points rows: gauges, sums and explicit-bucket histograms (the agent's
// `ml.prediction.duration` latency histogram, prediction and error counters, any SDK's metrics).
// Exponential histograms and summaries are rejected by name, not silently dropped.
import { ExportMetricsServiceRequest } from '../../otlp/schema.js';
import { ATTR, type AnyValue, type KeyValue } from '../../otlp/types.js';
import { parseExportRequest, type Encoding } from './body.js';
import type { Rejection } from './records.js';

export interface MetricPointRow {
  metric: string;
  kind: 'gauge' | 'sum' | 'histogram';
  model: string;
  version: string;
  ts: number;
  startTs: number;
  monotonic: boolean;
  temporality: 'delta' | 'cumulative' | 'unspecified';
  value: number;
  count: number;
  sum: number;
  bounds: number[];
  buckets: number[];
  attributes: Record<string, string>;
}

interface NumberPoint { attributes?: KeyValue[]; startTimeUnixNano?: string; timeUnixNano?: string; asDouble?: number | string; asInt?: string | number }
interface HistogramPoint { attributes?: KeyValue[]; startTimeUnixNano?: string; timeUnixNano?: string; count?: string | number; sum?: number; bucketCounts?: (string | number)[]; explicitBounds?: number[] }
interface Metric {
  name?: string;
  gauge?: { dataPoints?: NumberPoint[] };
  sum?: { dataPoints?: NumberPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  histogram?: { dataPoints?: HistogramPoint[]; aggregationTemporality?: number };
  exponentialHistogram?: unknown;
  summary?: unknown;
}
interface MetricsRequest { resourceMetrics?: { resource?: { attributes?: KeyValue[] }; scopeMetrics?: { metrics?: Metric[] }[] }[] }

export interface DecodedMetrics { points: MetricPointRow[]; rejected: Rejection[] }

export function parseMetricsRequest(body: Uint8Array, encoding: Encoding): MetricsRequest {
  return parseExportRequest<MetricsRequest>(body, encoding, ExportMetricsServiceRequest, 'resourceMetrics');
}

function text(v: AnyValue | undefined): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  if (v.stringValue !== undefined) return String(v.stringValue);
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.boolValue !== undefined) return String(v.boolValue);
  return undefined;
}

function attrs(list: KeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) if (kv && typeof kv.key === 'string') {
    const t = text(kv.value);
    if (t !== undefined) out[kv.key] = t;
  }
  return out;
}

const nanosToMs = (v: string | number | undefined) => (v === undefined || v === '' ? NaN : Math.floor(Number(v) / 1e6));
const temporality = (t: number | undefined) => (t === 1 ? 'delta' : t === 2 ? 'cumulative' : 'unspecified');

function num(v: unknown, path: string): number {
  const n = typeof v === 'string' ? (v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : Number(v)) : v;
  if (typeof n !== 'number' || (Number.isNaN(n) && v !== 'NaN')) throw new Error(`${path}: must be a number`);
  return n;
}

export function decodeMetrics(req: MetricsRequest, now = Date.now()): DecodedMetrics {
  const out: DecodedMetrics = { points: [], rejected: [] };
  let res: Record<string, string> = {};
  (req.resourceMetrics ?? []).forEach((rm, ri) => {
    res = attrs(rm?.resource?.attributes);
    (Array.isArray(rm?.scopeMetrics) ? rm.scopeMetrics : []).forEach((sm, si) => {
      (Array.isArray(sm?.metrics) ? sm.metrics : []).forEach((m, mi) => {
        const path = `resourceMetrics[${ri}].scopeMetrics[${si}].metrics[${mi}]`;
        try {
          decodeMetric(m, path);
        } catch (e) {
          out.rejected.push({ path, reason: `malformed metric: ${(e as Error).message}` });
        }
      });
    });
  });
  return out;

  function decodeMetric(m: Metric, path: string): void {
    if (!m || typeof m.name !== 'string' || m.name === '') {
      out.rejected.push({ path: `${path}.name`, reason: 'missing' });
      return;
    }
    if (m.exponentialHistogram !== undefined || m.summary !== undefined) {
      out.rejected.push({ path, reason: `${m.exponentialHistogram !== undefined ? 'exponential histograms' : 'summaries'} are not supported (metric "${m.name}")` });
      return;
    }
    const base = (p: { attributes?: KeyValue[]; startTimeUnixNano?: string; timeUnixNano?: string }) => {
      const a = { ...res, ...attrs(p.attributes) };
      const model = a[ATTR.model] ?? '';
      const version = a[ATTR.version] ?? '';
      delete a[ATTR.model];
      delete a[ATTR.version];
      const ts = nanosToMs(p.timeUnixNano);
      return { model, version, attributes: a, ts: Number.isFinite(ts) ? ts : now, startTs: nanosToMs(p.startTimeUnixNano) || 0 };
    };
    const numberPoints = (kind: 'gauge' | 'sum', points: NumberPoint[] | undefined, temp: number | undefined, monotonic: boolean) =>
      (points ?? []).forEach((p, k) => {
        try {
          const value = p.asDouble !== undefined ? num(p.asDouble, `${path}.${kind}.dataPoints[${k}].asDouble`) : num(p.asInt ?? 0, `${path}.${kind}.dataPoints[${k}].asInt`);
          out.points.push({ metric: m.name!, kind, ...base(p), monotonic, temporality: temporality(temp), value, count: 0, sum: 0, bounds: [], buckets: [] });
        } catch (e) {
          out.rejected.push({ path: `${path}.${kind}.dataPoints[${k}]`, reason: (e as Error).message.replace(/^.*: /, '') });
        }
      });
    if (m.gauge) numberPoints('gauge', m.gauge.dataPoints, undefined, false);
    else if (m.sum) numberPoints('sum', m.sum.dataPoints, m.sum.aggregationTemporality, m.sum.isMonotonic === true);
    else if (m.histogram) {
      (m.histogram.dataPoints ?? []).forEach((p, k) => {
        const where = `${path}.histogram.dataPoints[${k}]`;
        const bounds = (p.explicitBounds ?? []).map(Number);
        const buckets = (p.bucketCounts ?? []).map(Number);
        const count = Number(p.count ?? 0);
        if (![count, ...buckets].every((n) => Number.isSafeInteger(n) && n >= 0) || !bounds.every(Number.isFinite)) {
          out.rejected.push({ path: where, reason: 'count and bucketCounts must be non-negative integers, explicitBounds finite numbers' });
          return;
        }
        if (buckets.length !== 0 && buckets.length !== bounds.length + 1) {
          out.rejected.push({ path: `${where}.bucketCounts`, reason: `has ${buckets.length} counts for ${bounds.length} bounds (needs bounds + 1)` });
          return;
        }
        out.points.push({
          metric: m.name!, kind: 'histogram', ...base(p), monotonic: true, temporality: temporality(m.histogram!.aggregationTemporality),
          value: NaN, count, sum: Number(p.sum ?? NaN), bounds, buckets,
        });
      });
    } else out.rejected.push({ path, reason: `metric "${m.name}" has no gauge, sum or histogram data` });
  }
}
