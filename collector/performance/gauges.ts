// The latest performance per (model, version, window, segment, metric, kind) as Prometheus gauge
// values: driftwatch_performance_metric, driftwatch_performance_drop (positive = worse than the
// baseline) and driftwatch_performance_label_coverage.
import type { GaugeValue } from '../telemetry.js';
import type { VersionPerformance } from './engine.js';

export interface PerformanceGaugeValues { metric: GaugeValue[]; drop: GaugeValue[]; coverage: GaugeValue[] }

export class PerformanceGauges {
  private metric = new Map<string, GaugeValue>();
  private drop = new Map<string, GaugeValue>();
  private coverage = new Map<string, GaugeValue>();

  update(r: VersionPerformance): PerformanceGaugeValues {
    const window = `${Math.round(r.window_ms / 1000)}s`;
    for (const s of r.segments) {
      const segment = s.segment === null ? '' : `${r.segment_key}=${s.segment}`;
      const base = { model: r.model, version: r.version, window, segment };
      this.coverage.set(JSON.stringify(base), { attributes: base, value: s.coverage });
      const put = (kind: string, list: { metric: string; value: number | null; drop: number | null }[]) => {
        for (const m of list) {
          const attributes = { ...base, metric: m.metric, kind };
          const k = JSON.stringify(attributes);
          if (m.value === null) this.metric.delete(k);
          else this.metric.set(k, { attributes, value: m.value });
          if (m.drop === null) this.drop.delete(k);
          else this.drop.set(k, { attributes, value: m.drop });
        }
      };
      put('realized', s.metrics);
      put('estimated', s.estimated ?? []);
    }
    return { metric: [...this.metric.values()], drop: [...this.drop.values()], coverage: [...this.coverage.values()] };
  }
}
