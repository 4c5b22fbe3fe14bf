// Scheduled live drift: every `intervalMs` (first run after one interval), baselines are created
// for versions that reached N predictions, then every version with a baseline is computed for each
// window (default 1h and 24h) with a binned method (default jensenshannon: read from the rollups,
// so a 24h window costs ~1 440 rows per feature), which writes drift_results and updates the
// drift gauges through LiveDrift's onResult. Rules and the API compute their own windows on demand
// and share results through LiveDrift's cache. One run at a time; a failure is reported, not thrown.
import type { LiveDrift } from './live.js';
import type { Method } from './report.js';

export interface DriftScheduleOptions {
  windowsMs?: number[];
  method?: Method | 'auto';
  intervalMs?: number;
  onError?: (e: Error, where: { model?: string; version?: string; windowMs?: number }) => void;
}

export class DriftSchedule {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly drift: LiveDrift, private readonly o: DriftScheduleOptions = {}) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.runOnce().finally(() => (this.running = undefined));
    }, this.o.intervalMs ?? 60_000);
    this.timer.unref();
  }

  /** One pass over every version and window. */
  async runOnce(now = Date.now()): Promise<void> {
    try {
      await this.drift.ensureBaselines();
    } catch (e) {
      this.o.onError?.(e as Error, {});
    }
    for (const b of this.drift.versions()) {
      for (const windowMs of this.o.windowsMs ?? [3_600_000, 86_400_000]) {
        if (this.stopped) return;
        try {
          await this.drift.compute(b.model, b.version, windowMs, this.o.method ?? 'jensenshannon', now);
        } catch (e) {
          this.o.onError?.(e as Error, { model: b.model, version: b.version, windowMs });
        }
      }
    }
  }

  private stopped = false;

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
