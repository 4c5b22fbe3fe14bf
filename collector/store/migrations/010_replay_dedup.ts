// Version 10: a replayed insert that ClickHouse already committed is not counted again.
// The writer replays spooled rows with an insert_deduplication_token that names exactly those rows
// (the spool files of the group, the table, the offset and the row count). When a collector dies
// between such an insert and the fsync of its progress note, the restarted one repeats the insert
// with the same token: ClickHouse drops it from the raw table and, block by block, from every rollup
// the views feed. Non-replicated MergeTree tables only remember tokens with a window, set here (the
// Replicated engines of ON CLUSTER deployments keep their own, replicated_deduplication_window).
// Inserts without a token (the writer's live path) are not deduplicated on the embedded engine, as
// before; on a server, ClickHouse's default insert deduplication applies to identical sync inserts.
export const name = 'replay_dedup';
const TABLES = ['predictions', 'labels', 'metric_points', 'feature_minutes', 'category_minutes', 'prediction_minutes', 'drift_minutes', 'embedding_minutes'];
export const statements: string[] = TABLES.map((t) => `ALTER TABLE ${t} MODIFY SETTING non_replicated_deduplication_window = 1000`);
