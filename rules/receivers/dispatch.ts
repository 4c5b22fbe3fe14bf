// Fans notifications out to the collector's log (always) and to each rule's receivers.
//
// - Each receiver has its own queue, worked through in order (a resolve never overtakes its
//   trigger), in the background: a slow or failing receiver never stalls evaluation or the others.
// - The queue is bounded (`maxQueue` requests); beyond it the oldest waiting request is dropped
//   and counted, so a receiver that is down for hours cannot grow the heap without limit.
// - Every notification's outcome is counted: success, failure (after the retries) or dropped.
// - Repeats of firing alerts go to Alertmanager receivers once per resend_interval (Alertmanager
//   expects them: it times alerts out at endsAt), and to other receivers only when they set a
//   repeat_interval; by default PagerDuty, Slack and webhooks get the firing and the resolve once.
import type { Notification } from '../engine/evaluator.js';
import type { Receiver } from '../engine/load.js';
import { alertmanagerRequest } from './alertmanager.js';
import { DeliveryError, postWithRetry, type HttpRequest, type RetryOptions } from './http.js';
import { pagerdutyRequest } from './pagerduty.js';
import { slackRequests } from './slack.js';
import { webhookRequest } from './webhook.js';

export type DeliveryOutcome = 'success' | 'failure' | 'dropped';

export interface DispatchOptions {
  receivers: Map<string, Receiver>;
  log: (event: string, fields: Record<string, unknown>) => void;
  /** Called once per notification and receiver with its outcome (the deliveries counter). */
  onOutcome?: (receiver: string, outcome: DeliveryOutcome, count: number) => void;
  /** Retry timing (tests shorten it); attempts come from each receiver's max_attempts. */
  retry?: Omit<RetryOptions, 'attempts'>;
  /** Requests waiting per receiver before the oldest is dropped. */
  maxQueue?: number;
  /** Alertmanager generatorURL (the collector's URL). */
  generatorURL?: string;
}

interface Job { request: HttpRequest; notifications: Notification[] }

/** Whether a receiver has what it needs (an unset ${VAR} leaves it empty: the receiver is off). */
function target(r: Receiver): string {
  return r.webhook?.url ?? r.alertmanager?.url ?? r.pagerduty?.routingKey ?? r.slack?.webhookUrl ?? '';
}

export function createDispatcher(o: DispatchOptions) {
  const queues = new Map<string, { jobs: Job[]; running?: Promise<void> }>();
  const warnedEmpty = new Set<string>();
  /** Receivers with repeats: when each firing alert was last sent (by receiver and fingerprint). */
  const lastSent = new Map<string, number>();
  const maxQueue = o.maxQueue ?? 1000;

  function requestsFor(r: Receiver, list: Notification[]): Job[] {
    switch (r.kind) {
      case 'alertmanager':
        return [{ request: alertmanagerRequest({ ...r.alertmanager!, generatorURL: o.generatorURL }, list), notifications: list }];
      case 'pagerduty':
        return list.map((n) => ({ request: pagerdutyRequest(r.pagerduty!, n), notifications: [n] }));
      case 'slack':
        return slackRequests(r.slack!.webhookUrl, list);
      case 'webhook':
        return [{ request: webhookRequest({ name: r.name, ...r.webhook! }, list), notifications: list }];
    }
  }

  function enqueue(r: Receiver, jobs: Job[]): void {
    let q = queues.get(r.name);
    if (!q) queues.set(r.name, (q = { jobs: [] }));
    q.jobs.push(...jobs);
    while (q.jobs.length > maxQueue) {
      const dropped = q.jobs.shift()!;
      o.onOutcome?.(r.name, 'dropped', dropped.notifications.length);
      o.log('receiver_dropped', { receiver: r.name, alerts: dropped.notifications.length, reason: `more than ${maxQueue} requests waiting` });
    }
    if (!q.running) {
      const qq = q;
      qq.running = work(r, qq).finally(() => (qq.running = undefined));
    }
  }

  async function work(r: Receiver, q: { jobs: Job[] }): Promise<void> {
    for (let job = q.jobs.shift(); job; job = q.jobs.shift()) {
      try {
        await postWithRetry(job.request, { attempts: r.maxAttempts, ...o.retry });
        o.onOutcome?.(r.name, 'success', job.notifications.length);
      } catch (e) {
        o.onOutcome?.(r.name, 'failure', job.notifications.length);
        o.log('receiver_failed', {
          receiver: r.name,
          kind: r.kind,
          alerts: job.notifications.map((n) => `${n.status}:${n.alert.fingerprint}`),
          error: (e as Error).message,
          ...(e instanceof DeliveryError && e.status ? { status: e.status } : {}),
        });
      }
    }
  }

  function notify(ns: Notification[]): void {
    const byReceiver = new Map<string, Notification[]>();
    for (const n of ns) {
      if (!n.repeat) {
        o.log(`alert_${n.status}`, {
          alert: n.alert.rule,
          labels: n.alert.labels,
          value: n.alert.value,
          annotations: n.alert.annotations,
          fingerprint: n.alert.fingerprint,
        });
      }
      for (const r of n.alert.receivers) byReceiver.set(r, [...(byReceiver.get(r) ?? []), n]);
    }
    for (const [name, all] of byReceiver) {
      const r = o.receivers.get(name);
      if (!r) continue;
      if (!target(r)) {
        if (!warnedEmpty.has(name)) o.log('receiver_disabled', { receiver: name, reason: `${r.kind} url/key is empty (unset environment variable?)` });
        warnedEmpty.add(name);
        continue;
      }
      // Repeats only where the receiver asks for them, at most once per interval and alert.
      const every = r.repeatIntervalMs;
      const list = every === undefined
        ? all.filter((n) => !n.repeat)
        : all.filter((n) => {
          const key = `${name}\u0000${n.alert.fingerprint}`;
          if (n.status === 'resolved') {
            lastSent.delete(key);
            return true;
          }
          const last = lastSent.get(key);
          if (n.repeat && last !== undefined && n.at - last < every) return false;
          lastSent.set(key, n.at);
          return true;
        });
      if (list.length === 0) continue;
      // Requests are built now: the alert objects keep changing after this call.
      enqueue(r, requestsFor(r, list));
    }
  }

  return {
    notify,
    /**
     * Waits until every queue is empty (at shutdown and in tests), at most `timeoutMs`: a receiver
     * that is down must not hold a stopping collector for its whole retry schedule. Returns the
     * number of requests still waiting or under way when it gave up (0 = all done).
     */
    async drain(timeoutMs = 15_000): Promise<number> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const running = [...queues.values()].map((q) => q.running).filter((p): p is Promise<void> => p !== undefined);
        if (running.length === 0) return 0;
        const left = deadline - Date.now();
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          Promise.allSettled(running).then(() => false),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(true), Math.max(0, left)))),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          const waiting = [...queues.values()].reduce((n, q) => n + q.jobs.length + (q.running ? 1 : 0), 0);
          o.log('receivers_drain_timeout', { waiting, timeout_ms: timeoutMs });
          return waiting;
        }
      }
    },
  };
}
