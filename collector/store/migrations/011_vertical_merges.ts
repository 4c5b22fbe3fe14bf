// Version 11: predictions merges column by column (the vertical merge algorithm), whatever the merge's
// size. ClickHouse merges a part's key columns first and then each other column on its own only from
// 131 072 rows and 11 non-key columns; predictions has 8, so every merge read and wrote whole rows,
// the 20-entry feature maps included: 3.0-3.3 us of CPU per row merged, against 1.2-1.8 vertically
// (8 parts of 27 000 rows, OPTIMIZE ... FINAL; bench/README.md). Background merges were the largest
// engine cost of sustained ingest. The result of a merge is the same either way.
export const name = 'vertical_merges';
export const statements: string[] = [
  `ALTER TABLE predictions MODIFY SETTING vertical_merge_algorithm_min_rows_to_activate = 1, vertical_merge_algorithm_min_columns_to_activate = 1`,
];
