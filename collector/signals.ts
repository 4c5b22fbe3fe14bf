// Signal values for alert rules, read from the collector's computations. One sample per alert
// identity: feature_drift yields one per (model, version, feature).
import type { Rule } from '../rules/engine/load.js';
import type { Sample, SignalSource } from '../rules/engine/evaluator.js';
import type { LiveDrift } from './drift/live.js';

/** Model patterns: exact names, or globs with * (e.g. "fraud-*"). */
export function modelMatches(patterns: string[], model: string): boolean {
  return patterns.some((p) => {
    if (!p.includes('*')) return p === model;
    const re = new RegExp('^' + p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
    return re.test(model);
  });
}

export function createSignalSource(drift: LiveDrift): SignalSource {
  return {
    async query(rule: Rule, now: number): Promise<Sample[]> {
      switch (rule.signal) {
        case 'feature_drift': {
          await drift.ensureBaselines();
          const out: Sample[] = [];
          for (const b of drift.versions()) {
            if (!modelMatches(rule.models, b.model)) continue;
            const r = await drift.compute(b.model, b.version, rule.windowMs, rule.method, now);
            if (!r) continue;
            for (const c of r.report.columns) {
              if (rule.features && !rule.features.includes(c.column)) continue;
              out.push({ labels: { model: b.model, version: b.version, feature: c.column, method: c.method }, value: c.statistic });
            }
          }
          return out;
        }
      }
    },
  };
}
