// Generic webhook: one JSON POST per notification batch, retried with backoff on network errors
// and 5xx/429. Payload (documented in the README):
// { "version": "1", "status": "firing"|"resolved", "receiver": name,
//   "alerts": [{ "status", "name", "labels", "annotations", "value", "activeAt", "firedAt", "resolvedAt", "fingerprint" }] }
import type { Notification } from '../engine/evaluator.js';

export interface WebhookTarget { name: string; url: string; headers: Record<string, string> }

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export function webhookPayload(receiver: string, ns: Notification[]) {
  return {
    version: '1',
    status: ns.some((n) => n.status === 'firing') ? 'firing' : 'resolved',
    receiver,
    alerts: ns.map(({ status, alert: a }) => ({
      status,
      name: a.rule,
      labels: a.labels,
      annotations: a.annotations,
      value: a.value,
      activeAt: iso(a.activeAt),
      firedAt: iso(a.firedAt),
      resolvedAt: iso(a.resolvedAt),
      fingerprint: a.fingerprint,
    })),
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export async function sendWebhook(t: WebhookTarget, ns: Notification[], attempts = 5, baseDelayMs = 500): Promise<void> {
  const body = JSON.stringify(webhookPayload(t.name, ns));
  let last = '';
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await sleep(baseDelayMs * 2 ** (i - 1) * (0.5 + Math.random()));
    try {
      const res = await fetch(t.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...t.headers },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
      if (res.status < 500 && res.status !== 429) break; // the receiver refused it: retrying will not help
    } catch (e) {
      last = (e as Error).message;
    }
  }
  throw new Error(`webhook ${t.name}: ${last}`);
}
