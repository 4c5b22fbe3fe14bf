// Every query in every dashboard, run for real: a collector on the embedded store receives the
// demo's traffic through the SDK, computes drift and performance, fires an alert; then each
// ClickHouse query (panels and template variables) is expanded the way Grafana and the ClickHouse
// plugin expand it and run against that store, and must return rows with the columns its panel
// shows. Each PromQL expression must parse (promtool check rules), name only metrics that the
// collector's /metrics or the SDK's latency histogram actually export, and return data from a real
// Prometheus scraping the collector and the application every second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { stringify } from 'yaml';
import { runDemo } from '../../demo/service.js';
import { startSink } from '../helpers/http-sink.js';
import { startTestCollector, waitFor, type TestCollector } from '../helpers/collector.js';
import { serveMetrics, startPrometheus, type Prometheus } from './prometheus.js';
import {
  clickhouseFormat,
  expandMacros,
  expectedColumns,
  intervalMs,
  isClickHouse,
  isPrometheus,
  loadDashboards,
  metricNames,
  panels,
  prometheusFormat,
  replaceVariables,
  type Json,
  type TimeRange,
  type VarValue,
} from './grafana.js';

const MODEL = 'credit-risk';

// A rule that fires on the demo's income drift, so alert state, alert gauges and deliveries exist.
const RULES = (webhook: string) => `
receivers:
  - name: hook
    webhook:
      url: ${webhook}
groups:
  - name: drift
    interval: 1s
    rules:
      - alert: FeatureDriftPSI
        signal: feature_drift
        method: psi
        window: 5m
        condition: "> 0.2"
        for: 2s
        annotations:
          summary: "{{ $labels.feature }} drifted"
        receivers: [hook]
`;

interface Result { meta: { name: string; type: string }[]; data: Record<string, unknown>[]; rows: number }

const NUMERIC = /^(Nullable\()?(U?Int\d+|Float\d+|Decimal|Bool)/;
const TIME = /^(Nullable\()?DateTime/;

describe('dashboard queries against a collector after real traffic', () => {
  let collector: TestCollector;
  let sink: Awaited<ReturnType<typeof startSink>>;
  let collectorMetrics = '';
  let agentMetrics = '';
  let range: TimeRange;
  let prometheus: Prometheus | undefined;
  let app: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  let appMeters: MeterProvider | undefined;
  let promStart = 0;
  const emptyStore = new Map<string, string[]>();

  beforeAll(async () => {
    const start = Date.now();
    // The serving application's own metrics: the SDK records ml.prediction.duration through the
    // global MeterProvider; a Prometheus exporter renders it as the application would expose it.
    // The application also pushes its metrics to the collector over OTLP (into metric_points).
    const reader = new PrometheusExporter({ preventServerStart: true });
    sink = await startSink();
    collector = await startTestCollector({ rulesYaml: RULES(sink.url), baselineRows: 300 });
    const otlp = new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${collector.url}/v1/metrics` }), exportIntervalMillis: 1000 });
    appMeters = new MeterProvider({ readers: [reader, otlp] });
    metrics.setGlobalMeterProvider(appMeters);
    const renderApp = async () => new PrometheusSerializer().serialize((await reader.collect()).resourceMetrics);

    // Before any traffic: a fresh install's dashboards.
    for (const { file, json } of dashboards) emptyStore.set(file, (await checkDashboard(file, json, { fromMs: start - 3_600_000, toMs: start }, false)).failures);
    // A Prometheus scraping the collector and the application every second.
    app = await serveMetrics(renderApp);
    prometheus = await startPrometheus([
      { job: 'driftwatch-collector', url: collector.url },
      { job: 'model-service', url: app.url },
    ]);
    promStart = Date.now();
    // A record the collector rejects, so rejections are counted too.
    const bad = await fetch(`${collector.url}/v1/logs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [
        { eventName: 'ml.prediction', attributes: [{ key: 'ml.prediction.value', value: { intValue: '1' } }] },
        { eventName: 'ml.prediction', attributes: [{ key: 'ml.model.name', value: { stringValue: MODEL } }, { key: 'ml.model.version', value: { stringValue: 'v1' } }, { key: 'ml.prediction.value', value: { intValue: '1' } }] },
      ] }] }] }),
    });
    expect(bad.status).toBe(200);

    const demo = runDemo({ endpoint: collector.url, model: MODEL, ratePerSecond: 100, baselineSeconds: 5, durationSeconds: 20, labelDelaySeconds: 1, seed: 11 });
    await demo.done;

    // Drift over the API (all methods, auto) and performance, whole population and by segment.
    const drift = await fetch(`${collector.url}/api/v1/models/${MODEL}/drift?window=5m`);
    expect(drift.status, await drift.clone().text()).toBe(200);
    // Whole population and by segment, against an explicit baseline: the demo's undrifted seconds.
    const baseline = `baseline_from=${start}&baseline_to=${start + 5000}`;
    for (const q of [`window=5m&${baseline}`, `window=5m&segment=channel&${baseline}`]) {
      const perf = await fetch(`${collector.url}/api/v1/models/${MODEL}/performance?${q}`);
      expect(perf.status, `${q}: ${await perf.clone().text()}`).toBe(200);
    }
    await waitFor(async () => {
      const body = (await (await fetch(`${collector.url}/api/v1/alerts`)).json()) as { alerts: { state: string }[] };
      return body.alerts.some((a) => a.state === 'firing');
    }, 60_000);
    await waitFor(() => sink.received.length > 0, 20_000);

    collectorMetrics = await (await fetch(`${collector.url}/metrics`)).text();
    agentMetrics = await renderApp();
    // Prometheus has scraped the collector while the alert fires and after the deliveries.
    await waitFor(async () => (await promQuery('driftwatch_alerts')).length > 0 && (await promQuery('driftwatch_alert_deliveries_total')).length > 0, 20_000);
    range = { fromMs: start - 10 * 60_000, toMs: Date.now() + 60_000 };
  }, 180_000);

  afterAll(async () => {
    await prometheus?.stop();
    await app?.close();
    await appMeters?.shutdown();
    await collector?.close();
    await sink?.close();
  });

  async function promQuery(expr: string): Promise<unknown[]> {
    const res = await fetch(`${prometheus!.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data: { result: unknown[] }; error?: string };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data.result;
  }

  async function run(sql: string): Promise<Result> {
    const rs = await collector.store.client.query({ query: sql, format: 'JSON' });
    return (await rs.json()) as unknown as Result;
  }

  /**
   * Template variables in order, as Grafana resolves them: each query sees those before it. The
   * default selection is All when offered (every value), else the first value ('' when none).
   */
  async function resolveVariables(d: Json, range: TimeRange, failures: string[], requireRows: boolean): Promise<{ vars: Record<string, VarValue>; ran: number }> {
    const vars: Record<string, VarValue> = {};
    let ran = 0;
    for (const v of d.templating.list as Json[]) {
      if (v.type === 'datasource') continue;
      if (v.type === 'textbox') {
        vars[v.name] = v.query;
        continue;
      }
      if (v.type !== 'query') throw new Error(`variable type ${v.type} not reproduced by the test`);
      if (isPrometheus(v.datasource)) {
        vars[v.name] = v.allValue ?? '.*';
        continue;
      }
      expect(isClickHouse(v.datasource)).toBe(true);
      const sql = expandMacros(replaceVariables(v.query, vars, clickhouseFormat), range, 15_000);
      let values: string[] = [];
      if (sql.includes('$')) failures.push(`variable ${v.name}: unexpanded $ in\n${sql}`);
      else {
        try {
          const r = await run(sql);
          ran++;
          if (requireRows && r.rows === 0) failures.push(`variable ${v.name} has no values:\n${sql}`);
          values = r.data.map((row) => String(Object.values(row)[0]));
        } catch (e) {
          failures.push(`variable ${v.name}: ${(e as Error).message}\n${sql}`);
        }
      }
      vars[v.name] = v.includeAll ? values : (values[0] ?? '');
    }
    return { vars, ran };
  }

  /**
   * Runs every ClickHouse query of a dashboard as Grafana would over `range`. Without
   * `requireRows` (an empty store), queries must still run: Grafana then shows "No data", not an error.
   */
  async function checkDashboard(file: string, json: Json, range: TimeRange, requireRows: boolean): Promise<{ failures: string[]; ran: number }> {
    const failures: string[] = [];
    const resolved = await resolveVariables(json, range, failures, requireRows);
    let ran = resolved.ran;
    for (const p of panels(json)) {
      for (const t of p.targets ?? []) {
        if (!isClickHouse(t.datasource)) continue;
        const sql = expandMacros(replaceVariables(t.rawSql, resolved.vars, clickhouseFormat), range, intervalMs(p.interval, 15_000));
        const where = `${p.title} (${t.refId})`;
        if (sql.includes('$')) {
          failures.push(`${where}: unexpanded $ in\n${sql}`);
          continue;
        }
        let r: Result;
        try {
          r = await run(sql);
        } catch (e) {
          failures.push(`${where}: ${(e as Error).message}\n${sql}`);
          continue;
        }
        ran++;
        if (process.env.DASHBOARDS_DEBUG) console.log(`${file} / ${where}: ${r.rows} rows ${JSON.stringify(r.meta.map((m) => `${m.name}:${m.type}`))}\n${JSON.stringify(r.data.slice(0, 2))}`);
        if (!requireRows) continue;
        const names = r.meta.map((m) => m.name);
        if (r.rows === 0) failures.push(`${where}: no rows\n${sql}`);
        for (const c of expectedColumns(p)) if (!names.includes(c)) failures.push(`${where}: no column ${c} (has ${names.join(', ')})`);
        if (p.type === 'stat') {
          const col = r.meta.find((m) => m.name === expectedColumns(p)[0]);
          if (!col || !NUMERIC.test(col.type)) failures.push(`${where}: stat column is not numeric (${JSON.stringify(r.meta)})`);
        }
        // A panel of numbers shows at least one.
        if ((t.format === 0 || p.type === 'stat') && !r.data.some((row) => r.meta.some((m) => NUMERIC.test(m.type) && row[m.name] !== null && row[m.name] !== 'nan'))) {
          failures.push(`${where}: no numeric value in ${JSON.stringify(r.data.slice(0, 3))}`);
        }
        if (t.format === 0) {
          // Time-series format: time first, then at least one number; strings name the series.
          if (r.meta[0]?.name !== 'time' || !TIME.test(r.meta[0].type)) failures.push(`${where}: first column must be a DateTime named time (${JSON.stringify(r.meta)})`);
          if (!r.meta.slice(1).some((m) => NUMERIC.test(m.type))) failures.push(`${where}: no numeric column (${JSON.stringify(r.meta)})`);
          const times = r.data.map((row) => String(row.time));
          if (times.some((x, i) => i > 0 && x < times[i - 1])) failures.push(`${where}: rows not ordered by time`);
        }
      }
    }
    return { failures, ran };
  }

  const dashboards = loadDashboards();
  const verified = { clickhouse: 0, promtool: 0, prometheus: 0 };
  const unverified: string[] = [];

  for (const { file, json } of dashboards) {
    it(`${file}: on an empty store, every ClickHouse query runs (no data, no error)`, () => {
      const failures = emptyStore.get(file);
      expect(failures, failures?.join('\n\n')).toEqual([]);
    });

    it(`${file}: after traffic, every ClickHouse query returns rows with the columns its panel shows`, async () => {
      const { failures, ran } = await checkDashboard(file, json, range, true);
      expect(failures, failures.join('\n\n')).toEqual([]);
      verified.clickhouse += ran;
    });
  }

  it('every PromQL expression parses and names only exported metrics', () => {
    const exported = new Set<string>();
    for (const line of collectorMetrics.split('\n')) if (/^[a-zA-Z_:]/.test(line)) exported.add(line.split(/[{ ]/)[0]);
    // The SDK's documented latency histogram, as the application's Prometheus exporter names it.
    for (const line of agentMetrics.split('\n')) if (line.startsWith('ml_prediction_duration')) exported.add(line.split(/[{ ]/)[0]);
    expect(exported).toContain('driftwatch_ingest_records_total');
    expect(exported).toContain('ml_prediction_duration_bucket');

    const exprs = promExpressions(dashboards, { __rate_interval: '1m', __interval: '30s', __range: '6h' });
    expect(exprs.length).toBeGreaterThan(20);
    for (const e of exprs) expect(e.expr, e.where).not.toContain('$');

    const dir = mkdtempSync(join(tmpdir(), 'driftwatch-promql-'));
    const file = join(dir, 'dashboards.rules.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboards', rules: exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: e.expr })) }] }));
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    expect(r.error, 'promtool is needed (Debian package prometheus)').toBeUndefined();
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`${exprs.length} rules found`);

    for (const e of exprs) {
      if (process.env.DASHBOARDS_DEBUG) console.log(`${e.where}: ${e.expr} -> ${metricNames(e.expr).join(', ')}`);
      for (const name of metricNames(e.expr)) expect(exported, `${e.where}: ${name} is not exported`).toContain(name);
    }
    verified.promtool += exprs.length;
  });

  it('every PromQL expression returns series from a Prometheus scraping the collector and the application', async () => {
    // Grafana's $__rate_interval for a 1 s scrape interval is at least 4 scrape intervals.
    const exprs = promExpressions(dashboards, { __rate_interval: '5s', __interval: '1s', __range: '1m' });
    const failures: string[] = [];
    for (const e of exprs) {
      if (e.variable) {
        const res = await fetch(`${prometheus!.url}/api/v1/label/${e.variable.label}/values?match[]=${encodeURIComponent(e.variable.metric)}`);
        const body = (await res.json()) as { data: string[] };
        if (body.data.length === 0) failures.push(`${e.where}: no ${e.variable.label} values for ${e.variable.metric}`);
        continue;
      }
      // A selector on one bucket (le="x") can only have data if the histogram has that boundary.
      const le = /(\w+)_bucket\{[^}]*le="([^"]+)"/.exec(e.expr);
      if (le && !`${collectorMetrics}\n${agentMetrics}`.split('\n').some((l) => l.startsWith(`${le[1]}_bucket{`) && l.includes(`le="${le[2]}"`))) {
        unverified.push(`${e.where}: ${le[1]} has no bucket le="${le[2]}" (its boundaries: ${boundaries(le[1]).join(', ')}), so the panel has no data`);
        continue;
      }
      const q = new URLSearchParams({ query: e.expr, start: String(promStart / 1000), end: String(Date.now() / 1000), step: '1' });
      const body = (await (await fetch(`${prometheus!.url}/api/v1/query_range?${q}`)).json()) as { status: string; error?: string; data: { result: { values: [number, string][] }[] } };
      if (body.status !== 'success') failures.push(`${e.where}: ${body.error}\n${e.expr}`);
      else if (!body.data.result.some((r) => r.values.some(([, v]) => v !== 'NaN'))) failures.push(`${e.where}: no series with a value\n${e.expr}`);
    }
    expect(failures, `${failures.join('\n\n')}\n${prometheus!.output.join('')}`).toEqual([]);
    verified.prometheus += exprs.length - unverified.length;
  });

  function boundaries(metric: string): string[] {
    const les = new Set<string>();
    for (const l of `${collectorMetrics}\n${agentMetrics}`.split('\n')) if (l.startsWith(`${metric}_bucket{`)) les.add(/le="([^"]+)"/.exec(l)![1]);
    return [...les];
  }

  afterAll(() => {
    console.log(
      `dashboard queries verified: ${verified.clickhouse} ClickHouse queries run with rows; ${verified.promtool} PromQL expressions checked by promtool; ${verified.prometheus} returned data from Prometheus`,
    );
    for (const u of unverified) console.warn(`not verified: ${u}`);
  });
});

/**
 * Every PromQL expression of the dashboards with its variables filled in: the model and the
 * first version, multi-value Prometheus variables at their All value, Grafana's interval variables
 * as given. A Prometheus label_values() variable contributes its metric.
 */
function promExpressions(dashboards: { file: string; json: Json }[], intervals: Record<string, string>): { where: string; expr: string; variable?: { metric: string; label: string } }[] {
  const exprs: { where: string; expr: string; variable?: { metric: string; label: string } }[] = [];
  for (const { file, json } of dashboards) {
    const vars: Record<string, VarValue> = {};
    for (const v of json.templating.list as Json[]) {
      if (v.type === 'textbox') vars[v.name] = v.query;
      else if (v.type === 'query') vars[v.name] = isPrometheus(v.datasource) ? (v.allValue ?? '.*') : v.name === 'model' ? MODEL : ['v1'];
      if (v.type === 'query' && isPrometheus(v.datasource)) {
        const m = /^label_values\((\w+),\s*(\w+)\)$/.exec(v.query.query);
        if (!m) throw new Error(`${file}: variable ${v.name}: ${v.query.query} is not label_values(metric, label)`);
        exprs.push({ where: `${file}: variable ${v.name}`, expr: m[1], variable: { metric: m[1], label: m[2] } });
      }
    }
    Object.assign(vars, intervals);
    for (const p of panels(json)) {
      for (const t of p.targets ?? []) {
        if (isPrometheus(t.datasource)) exprs.push({ where: `${file}: ${p.title} (${t.refId})`, expr: replaceVariables(t.expr, vars, prometheusFormat) });
      }
    }
  }
  return exprs;
}
