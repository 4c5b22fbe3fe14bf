// The Prometheus route: rules/prometheus/*.rules.yml are valid (`promtool check rules`) and their
// unit tests pass (`promtool test rules`). Debian's `prometheus` package provides promtool
// (.ci/run installs it); the metric names are the ones the collector (or the SDK's latency
// histogram) exports.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../rules/prometheus/', import.meta.url).pathname;
const files = (suffix: string) => readdirSync(dir).filter((f) => f.endsWith(suffix)).sort().map((f) => join(dir, f));

function promtool(...args: string[]) {
  const r = spawnSync('promtool', args, { encoding: 'utf8', cwd: dir });
  if (r.error) throw new Error(`promtool not runnable (${r.error.message}); .ci/run installs Debian's prometheus package`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('Prometheus alerting rules', () => {
  it('ship rule files and unit tests for them', () => {
    expect(files('.rules.yml').length).toBeGreaterThan(0);
    expect(files('.test.yml').length).toBe(files('.rules.yml').length);
  });

  it('pass promtool check rules', () => {
    const r = promtool('check', 'rules', ...files('.rules.yml'));
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.code, r.out).toBe(0);
  });

  it('pass promtool test rules, with every alert tested', () => {
    const r = promtool('test', 'rules', ...files('.test.yml'));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
    const alerts = files('.rules.yml').flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]));
    const tested = new Set(files('.test.yml').flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1])));
    expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
  });

  it('use only metric names the collector exports', () => {
    const exported = readFileSync(new URL('../../collector/telemetry.ts', import.meta.url), 'utf8');
    const names = new Set([...exported.matchAll(/create(?:Counter|Histogram|ObservableGauge|ObservableCounter|Gauge|UpDownCounter)\(\s*'([a-z_.]+)'/g)].map((m) => m[1].replaceAll('.', '_')));
    expect(names.size).toBeGreaterThan(5);
    const used = files('.rules.yml').flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\b(driftwatch_[a-z_]+)/g)].map((m) => m[1]));
    const base = (n: string) => n.replace(/_(total|bucket|sum|count)$/, '');
    expect(used.filter((n) => !names.has(base(n)))).toEqual([]);
    // Serving latency comes from the SDK's histogram, scraped from the serving application.
    const sdk = readFileSync(new URL('../../agent/monitor.ts', import.meta.url), 'utf8');
    const sdkNames = new Set([...sdk.matchAll(/createHistogram\(\s*'([a-z_.]+)'/g)].map((m) => m[1].replaceAll('.', '_')));
    const usedMl = files('.rules.yml').flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\b(ml_[a-z_]+)(?=[[{])/g)].map((m) => m[1]));
    expect(usedMl.length).toBeGreaterThan(0);
    expect(usedMl.filter((n) => !sdkNames.has(base(n)))).toEqual([]);
  });
});
