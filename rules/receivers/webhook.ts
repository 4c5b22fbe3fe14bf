// Generic webhook: one JSON POST per notification batch. Payload (documented in the README):
// { "version": "1", "status": "firing"|"resolved", "receiver": name,
//   "alerts": [{ "status", "name", "labels", "annotations", "value", "activeAt", "firedAt", "resolvedAt", "fingerprint" }] }
// With `hmac_secret`, the request is signed: X-Driftwatch-Timestamp: <unix seconds> and
// X-Driftwatch-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>.
import { createHmac } from 'node:crypto';
import type { Notification } from '../engine/evaluator.js';
import type { HttpRequest } from './http.js';

export interface WebhookTarget { name: string; url: string; headers: Record<string, string>; hmacSecret?: string }

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
      resolvedAt: status === 'resolved' ? iso(a.resolvedAt) : null,
      fingerprint: a.fingerprint,
    })),
  };
}

export function signBody(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookHeaders(secret: string, body: string, now: number): Record<string, string> {
  const ts = String(Math.floor(now / 1000));
  return { 'x-driftwatch-timestamp': ts, 'x-driftwatch-signature': signBody(secret, ts, body) };
}

/** The request; with a secret, each attempt is signed with its own timestamp (retries stay fresh). */
export function webhookRequest(t: WebhookTarget, ns: Notification[]): HttpRequest {
  const body = JSON.stringify(webhookPayload(t.name, ns));
  const secret = t.hmacSecret;
  return { url: t.url, headers: { ...t.headers }, body, ...(secret ? { headersAt: (now: number) => webhookHeaders(secret, body, now) } : {}) };
}
