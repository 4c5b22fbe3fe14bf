// Fans notifications out to the collector's log (always) and to each rule's receivers. Deliveries
// run in the background: a slow or failing receiver never stalls evaluation or the other receivers.
import type { Notification } from '../engine/evaluator.js';
import type { Receiver } from '../engine/load.js';
import { sendWebhook } from './webhook.js';

export interface DispatchOptions {
  receivers: Map<string, Receiver>;
  log: (event: string, fields: Record<string, unknown>) => void;
  onOutcome?: (receiver: string, ok: boolean) => void;
}

export function createDispatcher(o: DispatchOptions) {
  const pending = new Set<Promise<void>>();
  const warnedEmpty = new Set<string>();

  function notify(ns: Notification[]): void {
    const byReceiver = new Map<string, Notification[]>();
    for (const n of ns) {
      o.log(`alert_${n.status}`, {
        alert: n.alert.rule,
        labels: n.alert.labels,
        value: n.alert.value,
        annotations: n.alert.annotations,
        fingerprint: n.alert.fingerprint,
      });
      for (const r of n.alert.receivers) byReceiver.set(r, [...(byReceiver.get(r) ?? []), n]);
    }
    for (const [name, list] of byReceiver) {
      const r = o.receivers.get(name);
      if (!r?.webhook) continue;
      if (!r.webhook.url) {
        if (!warnedEmpty.has(name)) o.log('receiver_disabled', { receiver: name, reason: 'webhook url is empty (unset environment variable?)' });
        warnedEmpty.add(name);
        continue;
      }
      const p = sendWebhook({ name, url: r.webhook.url, headers: r.webhook.headers }, list)
        .then(() => o.onOutcome?.(name, true))
        .catch((e: Error) => {
          o.onOutcome?.(name, false);
          o.log('receiver_failed', { receiver: name, error: e.message });
        })
        .finally(() => pending.delete(p));
      pending.add(p);
    }
  }

  return {
    notify,
    /** Waits for deliveries under way (used at shutdown and in tests). */
    async drain(): Promise<void> {
      await Promise.allSettled([...pending]);
    },
  };
}
