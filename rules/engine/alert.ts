// An alert instance: one rule and one label set (e.g. one feature of one model version).
import { createHash } from 'node:crypto';

export type AlertState = 'pending' | 'firing' | 'inactive';

export interface Alert {
  fingerprint: string;
  rule: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: AlertState;
  value: number;
  activeAt: number;
  firedAt?: number;
  resolvedAt?: number;
  /** When the condition last stopped holding while firing (keep_firing_for). */
  clearedAt?: number;
  lastSentAt?: number;
  /** Whether its firing has been notified (false while a silence holds it back). */
  notified?: boolean;
  /** The silence currently covering it, if any (for the API). */
  silencedBy?: string;
  receivers: string[];
}

/**
 * The alert's identity: a hash of its sorted labels (alertname included). It is the same in every
 * collector evaluating the same rules, so it doubles as the dedup key for receivers.
 */
export function fingerprint(labels: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(labels).sort()) h.update(`${k}\u0000${labels[k]}\u0000`);
  return h.digest('hex').slice(0, 32);
}
