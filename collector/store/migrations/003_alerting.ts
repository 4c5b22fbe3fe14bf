// Version 3: alerting. Whether a firing alert has been notified (a silence can hold it back), and
// the silences created through the API.
export const name = "alerting";
export const statements: string[] = [
  `ALTER TABLE alert_state ADD COLUMN IF NOT EXISTS notified Bool DEFAULT true`,
  `-- Silences created through /api/v1/silences (rule-file silences live in the files). A deleted
-- silence is a newer row with deleted = true; readers use FINAL.
CREATE TABLE IF NOT EXISTS silences
(
    id String,
    matchers String,
    starts_at DateTime64(3, 'UTC'),
    ends_at DateTime64(3, 'UTC'),
    comment String,
    created_by String,
    deleted Bool DEFAULT false,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY id
TTL toDateTime(ends_at) + INTERVAL 30 DAY`,
];
