// Wiring: config -> store -> migrations -> drift -> rules -> HTTP server. `startCollector` is what
// `driftwatch collector` runs and what the end-to-end tests start in-process.
import { serve, type ServerType } from '@hono/node-server';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { Evaluator } from '../rules/engine/evaluator.js';
import { loadRules, type RuleSet } from '../rules/engine/load.js';
import { createDispatcher } from '../rules/receivers/dispatch.js';
import { createSilences } from './api/silences.js';
import type { Config } from './config.js';
import { LiveDrift, type LiveDriftResult } from './drift/live.js';
import { DriftSchedule } from './drift/schedule.js';
import { PerformanceEngine } from './performance/engine.js';
import { PerformanceGauges } from './performance/gauges.js';
import { DEFAULT_LIMITS } from './ingest/otlp-logs.js';
import { CardinalityGuard } from './ingest/cardinality.js';
import { EmbeddingDims } from './ingest/embeddings.js';
import { createLogger, type Logger } from './log.js';
import { createApp } from './server.js';
import { clickhouseAlertStore } from './store/alert-state.js';
import { openStore, type Store } from './store/client.js';
import { migrate } from './store/migrations/index.js';
import { Writer } from './store/writer.js';
import { Spool } from './store/spool.js';
import { join } from 'node:path';
import { createSignalSource } from './signals.js';
import { KeyRing, type ReloadResult } from './keyring.js';
import { createTelemetry, type GaugeValue } from './telemetry.js';

export interface Collector {
  url: string;
  store: Store;
  writer: Writer;
  evaluator: Evaluator;
  drift: LiveDrift;
  performance: PerformanceEngine;
  /** The API keys in force; reloadable when they come from a file. */
  keys: KeyRing;
  /** Re-reads DRIFTWATCH_API_KEYS_FILE (what SIGHUP does); 'unchanged' without a file. */
  reloadKeys(trigger?: string): ReloadResult;
  close(): Promise<void>;
}

export async function startCollector(config: Config, log: Logger = createLogger()): Promise<Collector> {
  const telemetry = createTelemetry();
  let ready = false;

  const rules: RuleSet = config.rulesPath && existsSync(config.rulesPath)
    ? loadRules(config.rulesPath)
    : { groups: [], receivers: new Map(), silences: [], files: [] };

  const store = await openStore({ url: config.clickhouseUrl, dataDir: config.dataDir });
  const applied = await migrate(store.client, { retentionDays: config.retentionDays, cluster: config.cluster });

  // Latest drift per (model, version, window, method, feature), exported as gauges.
  const latest = new Map<string, { stat: GaugeValue; detected: GaugeValue }>();
  const onDrift = (r: LiveDriftResult) => {
    for (const c of r.report.columns) {
      const attributes = { model: r.model, version: r.version, feature: c.column, method: c.method, window: `${Math.round(r.windowMs / 1000)}s` };
      latest.set(JSON.stringify(attributes), { stat: { attributes, value: c.statistic }, detected: { attributes, value: c.drift ? 1 : 0 } });
    }
    telemetry.setDrift([...latest.values()].map((v) => v.stat), [...latest.values()].map((v) => v.detected));
  };
  const drift = new LiveDrift(store.client, { baselineRows: config.baselineRows, onResult: onDrift });
  await drift.loadBaselines();
  // Every version with a baseline over 1h and 24h, each minute (from the rollups): drift_results and gauges stay current.
  const driftSchedule = new DriftSchedule(drift, { onError: (e, where) => log('drift_failed', { ...where, error: e.message }) });
  // Realized and estimated performance; every computation updates the performance gauges.
  const performanceGauges = new PerformanceGauges();
  const performance = new PerformanceEngine(store.client, {
    onResult: (r) => telemetry.setPerformance(performanceGauges.update(r)),
    onError: (e, v) => log('performance_failed', { ...v, error: e.message }),
  });

  const dispatcher = createDispatcher({
    receivers: rules.receivers,
    log,
    onOutcome: (receiver, outcome, n) => telemetry.deliveries.add(n, { receiver, outcome }),
  });
  const silences = await createSilences(store.client, rules.silences, { log });
  const evaluator = new Evaluator(rules, {
    source: createSignalSource(drift, store.client, performance),
    silenced: silences.match,
    notify: (ns) => {
      dispatcher.notify(ns);
      publishAlerts();
    },
    store: clickhouseAlertStore(store.client),
    log,
  });
  await evaluator.restore();
  const publishAlerts = () => {
    const counts = new Map<string, GaugeValue>();
    for (const a of evaluator.active()) {
      const k = `${a.rule}\u0000${a.state}`;
      const g = counts.get(k) ?? { attributes: { alertname: a.rule, state: a.state }, value: 0 };
      g.value++;
      counts.set(k, g);
    }
    telemetry.setAlerts([...counts.values()]);
  };

  const guard = new CardinalityGuard({ maxModels: config.maxModels ?? 1000, maxFeaturesPerModel: config.maxFeaturesPerModel ?? 2000 });
  await guard.load(store.client);
  const embeddingDims = new EmbeddingDims();
  await embeddingDims.load(store.client);
  const spool = new Spool(config.spoolDir ?? join(config.dataDir, 'spool'), config.spoolMaxBytes ?? 1024 ** 3);
  const writer = new Writer(store, {
    spool,
    log,
    maxInFlight: store.kind === 'embedded' ? 1 : 3,
    // A server merges concurrent small inserts itself; waiting keeps "acknowledged = stored".
    insertSettings: store.kind === 'server' ? { async_insert: 1, wait_for_async_insert: 1 } : undefined,
    onInsert: (table, rows, ms) => telemetry.inserts.record(ms / 1000, { table }),
    onDrop: (table, rows, reason) => telemetry.records.add(rows, { kind: table, outcome: 'dropped', reason: 'invalid_for_store' }),
  });
  telemetry.observeWriter(() => ({ queuedRows: writer.queuedRows, spoolBytes: spool.bytes, spoolBatches: spool.length, spoolCorrupt: spool.corruptFiles, degraded: writer.degraded }));

  const keys = new KeyRing(config.apiKeys ?? [], { file: config.apiKeysFile, fixed: config.envApiKeys, host: config.host, log });

  const app = createApp({
    client: store.client,
    evaluator,
    drift,
    silences,
    performance,
    telemetry,
    keys: keys.current,
    uploads: { store, tmpDir: config.dataDir, maxBytes: config.maxUploadBytes ?? 256 * 1024 ** 2, embeddingDims, onLabels: (n) => telemetry.records.add(n, { kind: 'label', outcome: 'accepted' }) },
    ready: () => ready,
    storeReady: () => ready && !writer.degraded,
    logs: {
      limits: { ...DEFAULT_LIMITS, maxAgeMs: config.retentionDays * 86_400_000, embeddingDims },
      guard,
      maxBodyBytes: config.maxBodyBytes,
      store: (batch) => writer.write(batch),
      onRequest(signal, status, counts, rejected, seconds) {
        telemetry.requests.add(1, { signal, status: String(status) });
        if (seconds !== undefined) telemetry.requestDuration.record(seconds, { signal, status: String(status) });
        const outcome = status === 200 ? 'accepted' : 'failed';
        if (counts?.predictions !== undefined) telemetry.records.add(counts.predictions, { kind: 'prediction', outcome });
        if (counts?.labels !== undefined) telemetry.records.add(counts.labels, { kind: 'label', outcome });
        if (counts?.metrics !== undefined) telemetry.records.add(counts.metrics, { kind: 'metric_point', outcome });
        // Rejections by reason, with the path's indices folded away so the label stays bounded.
        for (const r of rejected ?? []) {
          telemetry.records.add(1, { kind: signal, outcome: 'rejected', reason: r.reason.replace(/\d+|"[^"]*"/g, '…').slice(0, 80) });
        }
      },
    },
  });

  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  ready = true;
  evaluator.start();
  performance.start(); // every model version over the last hour, each minute
  driftSchedule.start();
  keys.watch();
  if (keys.current().length === 0) {
    log('auth_disabled', { warning: `NO API KEYS CONFIGURED: anyone who can reach ${url} may read and write every model. Listening on loopback only; set DRIFTWATCH_API_KEYS to open it up.` });
  }
  log('collector_started', {
    url,
    store: store.kind === 'embedded' ? `embedded chDB at ${config.dataDir}` : 'ClickHouse server',
    migrations_applied: applied,
    rule_files: rules.files,
    api_keys: keys.current().map((k) => k.name),
    ...(keys.reloadable ? { api_keys_file: config.apiKeysFile } : {}),
    rules: rules.groups.reduce((n, g) => n + g.rules.length, 0),
  });

  let closing: Promise<void> | undefined;
  return {
    url,
    store,
    writer,
    evaluator,
    drift,
    performance,
    keys,
    reloadKeys: (trigger = 'SIGHUP') => keys.reload(trigger),
    close() {
      closing ??= (async () => {
        ready = false;
        keys.close();
        await new Promise<void>((r) => server.close(() => r()));
        await evaluator.stop();
        await performance.stop();
        await driftSchedule.stop();
        silences.stop();
        await writer.close();
        await dispatcher.drain();
        await telemetry.shutdown();
        await store.close();
      })();
      return closing;
    },
  };
}
