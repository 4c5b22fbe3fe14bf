// The demo service: predicts at a steady rate through the real SDK, sends each label after a delay,
// and switches to drifted inputs after the baseline phase.
import { createMonitor, type Monitor } from '../agent/index.js';
import { rng, simulate } from './model.js';

export interface DemoOptions {
  endpoint: string;
  model?: string;
  version?: string;
  ratePerSecond?: number;
  baselineSeconds?: number;
  durationSeconds?: number;
  labelDelaySeconds?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface DemoRun {
  /** Predictions sent so far. */
  sent(): number;
  labels(): number;
  drifting(): boolean;
  monitor: Monitor;
  /** Resolves when the run ends (duration reached or stop()). */
  done: Promise<void>;
  stop(): Promise<void>;
}

export function runDemo(o: DemoOptions): DemoRun {
  const rate = o.ratePerSecond ?? 50;
  const baselineMs = (o.baselineSeconds ?? 30) * 1000;
  const durationMs = (o.durationSeconds ?? 600) * 1000;
  const labelDelayMs = (o.labelDelaySeconds ?? 10) * 1000;
  const log = o.log ?? (() => {});
  const monitor = createMonitor({ model: o.model ?? 'credit-risk', version: o.version ?? 'v1', endpoint: o.endpoint, flushIntervalMs: 500 });
  const r = rng(o.seed ?? 42);
  const start = Date.now();
  let sent = 0;
  let labelled = 0;
  let drift = false;
  const pendingLabels: { at: number; id: string; outcome: number }[] = [];
  let resolveDone!: () => void;
  const done = new Promise<void>((res) => (resolveDone = res));
  const tickMs = 100;
  let last = start;
  let stopped = false;

  const timer = setInterval(() => {
    const now = Date.now();
    if (!drift && now - start >= baselineMs) {
      drift = true;
      log(`[demo] ${new Date(now).toISOString()} drift starts: income is now 80% higher`);
    }
    // Send the predictions due since the last tick, spread over its timestamps.
    const due = Math.floor(((now - start) * rate) / 1000) - sent;
    for (let i = 0; i < due; i++) {
      const p = simulate(r, drift);
      const t0 = performance.now();
      const latencyMs = 2 + r() * 8 + (performance.now() - t0);
      const id = monitor.record({ features: p.features, prediction: p.prediction, score: p.score, latencyMs, segment: { channel: p.features.device === 'web' ? 'web' : 'app' } });
      pendingLabels.push({ at: now + labelDelayMs, id, outcome: p.outcome });
      sent++;
    }
    while (pendingLabels.length > 0 && pendingLabels[0].at <= now) {
      const l = pendingLabels.shift()!;
      monitor.label(l.id, l.outcome);
      labelled++;
    }
    if (now - last >= 10_000) {
      last = now;
      const s = monitor.stats();
      log(`[demo] ${Math.round((now - start) / 1000)}s: ${sent} predictions, ${labelled} labels sent (${s.exported} exported, ${s.dropped} dropped, ${s.failed} failed)${drift ? ', drifting' : ''}`);
    }
    if (now - start >= durationMs) void stop();
  }, tickMs);

  async function stop(): Promise<void> {
    if (stopped) return done;
    stopped = true;
    clearInterval(timer);
    await monitor.shutdown();
    resolveDone();
    return done;
  }

  return { sent: () => sent, labels: () => labelled, drifting: () => drift, monitor, done, stop };
}
