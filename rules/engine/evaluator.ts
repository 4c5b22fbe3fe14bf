// The alerting state machine, with Prometheus' semantics: a series whose condition holds becomes
// pending; once it has held for `for` it fires; when it stops holding (for longer than
// keep_firing_for) it resolves. Each transition to firing or resolved is notified exactly once.
import { compare, type Group, type Rule, type RuleSet } from './load.js';
import { fingerprint, type Alert } from './alert.js';
import { renderTemplate } from './template.js';

export interface Sample { labels: Record<string, string>; value: number }

/** Where signal values come from (drift results, metrics, ...). */
export interface SignalSource {
  query(rule: Rule, now: number): Promise<Sample[]>;
}

export interface Notification {
  status: 'firing' | 'resolved';
  alert: Alert;
  /** When it was produced (the evaluation time). */
  at: number;
  /** The rule's group interval (Alertmanager's endsAt is derived from it). */
  intervalMs: number;
  /**
   * A re-send of an alert already notified as firing. Only receivers whose protocol expects them
   * (Alertmanager, which times alerts out at endsAt) deliver repeats; the others page once.
   */
  repeat?: boolean;
}

export interface AlertStateStore {
  load(): Promise<Alert[]>;
  save(alerts: Alert[]): Promise<void>;
}

export interface EvaluatorOptions {
  source: SignalSource;
  notify: (n: Notification[]) => void;
  store?: AlertStateStore;
  log?: (event: string, fields: Record<string, unknown>) => void;
  /**
   * The active silence matching these labels, if any. A silenced alert keeps its state but is not
   * notified; when the silence ends while it still fires, the firing is notified then. A resolve is
   * notified whenever the firing was, silenced or not, so no incident is left open.
   */
  silenced?: (labels: Record<string, string>, now: number) => { id: string } | undefined;
  /** How long a resolved alert stays visible (Prometheus keeps 15m). */
  resolvedRetentionMs?: number;
}

export class Evaluator {
  private alerts = new Map<string, Alert>();
  private timers: NodeJS.Timeout[] = [];
  private running = new Set<Promise<void>>();

  constructor(private rules: RuleSet, private readonly o: EvaluatorOptions) {}

  /**
   * Resumes the alerts stored before a restart. A firing alert whose rule no longer exists is
   * resolved now (notified if its firing was), so no incident stays open for a deleted rule.
   */
  async restore(now = Date.now()): Promise<void> {
    if (!this.o.store) return;
    const names = new Set(this.rules.groups.flatMap((g) => g.rules.map((r) => r.alert)));
    const gone: Alert[] = [];
    for (const a of await this.o.store.load()) {
      if (a.state === 'inactive') continue;
      if (names.has(a.rule)) {
        this.alerts.set(a.fingerprint, a);
        continue;
      }
      this.o.log?.('alert_rule_removed', { alert: a.rule, labels: a.labels, fingerprint: a.fingerprint, state: a.state });
      if (a.state === 'firing') a.resolvedAt = now;
      const notify = a.state === 'firing' && a.notified;
      a.state = 'inactive';
      gone.push(a);
      if (notify) this.o.notify([{ status: 'resolved', alert: a, at: now, intervalMs: 0 }]);
    }
    if (gone.length > 0) await this.o.store.save(gone);
  }

  /** Active (pending or firing) alerts, firing first. */
  active(): Alert[] {
    return [...this.alerts.values()]
      .filter((a) => a.state !== 'inactive')
      .sort((a, b) => (a.state === b.state ? a.activeAt - b.activeAt : a.state === 'firing' ? -1 : 1));
  }

  all(): Alert[] {
    return [...this.alerts.values()];
  }

  start(): void {
    for (const g of this.rules.groups) {
      let busy = false;
      const tick = () => {
        // Like Prometheus, an evaluation still running when the next is due makes that one skip,
        // so two evaluations of a group never interleave.
        if (busy) {
          this.o.log?.('group_evaluation_skipped', { group: g.name, reason: 'the previous evaluation is still running' });
          return;
        }
        busy = true;
        const p = this.evaluateGroup(g, Date.now()).finally(() => {
          busy = false;
          this.running.delete(p);
        });
        this.running.add(p);
      };
      const t = setInterval(tick, g.intervalMs);
      t.unref();
      this.timers.push(t);
      tick();
    }
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.allSettled([...this.running]);
  }

  async evaluateGroup(g: Group, now: number): Promise<void> {
    for (const rule of g.rules) {
      let samples: Sample[];
      try {
        samples = await this.o.source.query(rule, now);
      } catch (e) {
        // Like Prometheus: a failed evaluation leaves every alert of the rule as it was.
        this.o.log?.('rule_evaluation_failed', { rule: rule.alert, group: g.name, error: (e as Error).message });
        continue;
      }
      await this.apply(rule, samples, now);
    }
  }

  /** Advances the state of one rule's alerts given this evaluation's samples. */
  async apply(rule: Rule, samples: Sample[], now: number): Promise<Notification[]> {
    const out: Notification[] = [];
    const changed: Alert[] = [];
    const seen = new Set<string>();
    for (const s of samples) {
      if (!Number.isFinite(s.value) || !compare(rule.condition, s.value)) continue;
      const labels = { ...s.labels, ...rule.labels, alertname: rule.alert, severity: rule.severity };
      const fp = fingerprint(labels);
      seen.add(fp);
      const annotations = Object.fromEntries(
        Object.entries(rule.annotations).map(([k, v]) => [k, renderTemplate(v, labels, s.value)]),
      );
      let a = this.alerts.get(fp);
      if (!a || a.state === 'inactive') {
        a = { fingerprint: fp, rule: rule.alert, labels, annotations, state: 'pending', value: s.value, activeAt: now, receivers: rule.receivers };
        this.alerts.set(fp, a);
        changed.push(a);
      }
      a.value = s.value;
      a.annotations = annotations;
      a.clearedAt = undefined;
      if (a.state === 'pending' && now - a.activeAt >= rule.forMs) {
        a.state = 'firing';
        a.firedAt = now;
        a.notified = false;
        if (!changed.includes(a)) changed.push(a);
      }
    }
    for (const a of this.alerts.values()) {
      if (a.rule !== rule.alert || a.labels.alertname !== rule.alert || seen.has(a.fingerprint)) continue;
      if (a.state === 'pending') {
        this.alerts.delete(a.fingerprint);
        a.state = 'inactive';
        changed.push(a);
      } else if (a.state === 'firing') {
        a.receivers = rule.receivers; // a restored alert follows the rule as it is now
        a.clearedAt ??= now;
        if (now - a.clearedAt >= rule.keepFiringForMs) {
          a.state = 'inactive';
          a.resolvedAt = now;
          if (a.notified) out.push({ status: 'resolved', alert: a, at: now, intervalMs: rule.intervalMs });
          else this.o.log?.('alert_resolved_unnotified', { alert: a.rule, labels: a.labels, fingerprint: a.fingerprint, reason: 'its firing was silenced' });
          changed.push(a);
        }
      } else if (a.resolvedAt !== undefined && now - a.resolvedAt > (this.o.resolvedRetentionMs ?? 15 * 60_000)) {
        this.alerts.delete(a.fingerprint);
      }
    }
    // Firing alerts (including those kept firing by keep_firing_for): notify the first firing once
    // no silence covers it; afterwards offer repeats (delivered only where the protocol wants them).
    for (const a of this.alerts.values()) {
      if (a.rule !== rule.alert || a.labels.alertname !== rule.alert || a.state !== 'firing') continue;
      a.receivers = rule.receivers;
      const silence = this.o.silenced?.(a.labels, now);
      a.silencedBy = silence?.id;
      if (silence) {
        if (!a.notified && a.firedAt === now) this.o.log?.('alert_silenced', { alert: a.rule, labels: a.labels, fingerprint: a.fingerprint, silence: silence.id });
        continue;
      }
      if (!a.notified) {
        a.notified = true;
        a.lastSentAt = now;
        out.push({ status: 'firing', alert: a, at: now, intervalMs: rule.intervalMs });
        if (!changed.includes(a)) changed.push(a);
      } else {
        out.push({ status: 'firing', alert: a, at: now, intervalMs: rule.intervalMs, repeat: true });
      }
    }
    if (changed.length > 0 && this.o.store) {
      try {
        await this.o.store.save(changed);
      } catch (e) {
        this.o.log?.('alert_state_save_failed', { rule: rule.alert, error: (e as Error).message });
      }
    }
    if (out.length > 0) this.o.notify(out);
    return out;
  }
}
