// The dashboards this folder ships, by file name under dashboards/json/. The JSON files are
// generated from these definitions and committed; test/dashboards/ checks they are current
// (`npx vitest run test/dashboards -u` rewrites them) and runs every query they hold.
import type { Json } from './grafana.js';
import { collector } from './collector.js';
import { drift } from './drift.js';
import { fleet } from './fleet.js';
import { latency } from './latency.js';
import { performance } from './performance.js';

export const DASHBOARDS: Record<string, Json> = {
  'fleet-overview.json': fleet,
  'model-drift.json': drift,
  'performance.json': performance,
  'latency-slo.json': latency,
  'collector-health.json': collector,
};

export function render(d: Json): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
