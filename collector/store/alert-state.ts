// Alert state persisted in ClickHouse (ReplacingMergeTree by fingerprint), so a restarted collector
// resumes pending/firing alerts instead of paging again or forgetting them.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Alert } from '../../rules/engine/alert.js';
import type { AlertStateStore } from '../../rules/engine/evaluator.js';
import { queryRows } from './client.js';
import { tsText } from './writer.js';

interface Row {
  fingerprint: string; rule: string; labels: Record<string, string>; annotations: Record<string, string>;
  state: string; value: number; active_ms: string; fired_ms: string | null; resolved_ms: string | null; receivers: string[];
}

export function clickhouseAlertStore(client: ClickHouseClient): AlertStateStore {
  return {
    async load(): Promise<Alert[]> {
      const rows = await queryRows<Row>(
        client,
        `SELECT fingerprint, rule, labels, annotations, state, value,
                toUnixTimestamp64Milli(active_at) AS active_ms,
                toUnixTimestamp64Milli(fired_at) AS fired_ms,
                toUnixTimestamp64Milli(resolved_at) AS resolved_ms, receivers
         FROM alert_state FINAL WHERE state != 'inactive'`,
      );
      return rows.map((r) => ({
          fingerprint: r.fingerprint,
          rule: r.rule,
          labels: r.labels,
          annotations: r.annotations,
          state: r.state as Alert['state'],
          value: Number(r.value),
          activeAt: Number(r.active_ms),
          firedAt: r.fired_ms === null ? undefined : Number(r.fired_ms),
          resolvedAt: r.resolved_ms === null ? undefined : Number(r.resolved_ms),
          lastSentAt: r.fired_ms === null ? undefined : Number(r.fired_ms),
          receivers: r.receivers,
        }));
    },
    async save(alerts: Alert[]): Promise<void> {
      const now = Date.now();
      await client.insert({
        table: 'alert_state',
        format: 'JSONEachRow',
        values: alerts.map((a) => ({
          fingerprint: a.fingerprint,
          rule: a.rule,
          labels: a.labels,
          annotations: a.annotations,
          receivers: a.receivers,
          state: a.state,
          value: Number.isFinite(a.value) ? a.value : 0,
          active_at: tsText(a.activeAt),
          fired_at: a.firedAt === undefined ? null : tsText(a.firedAt),
          resolved_at: a.resolvedAt === undefined ? null : tsText(a.resolvedAt),
          updated_at: tsText(now),
        })),
      });
    },
  };
}
