import { describe, expect, it } from 'vitest';
import { forCluster, MIGRATIONS } from '../../collector/store/migrations/index.js';

describe('migrations on a cluster', () => {
  it('adds ON CLUSTER and Replicated engines, keeping engine arguments', () => {
    const s = forCluster("-- note\nCREATE TABLE IF NOT EXISTS t\n(a UInt8)\nENGINE = ReplacingMergeTree(v)\nORDER BY a", 'prod');
    expect(s).toBe("-- note\nCREATE TABLE IF NOT EXISTS t ON CLUSTER 'prod'\n(a UInt8)\nENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', v)\nORDER BY a");
    expect(forCluster('ALTER TABLE x ADD COLUMN IF NOT EXISTS y UInt8', 'c')).toBe("ALTER TABLE x ON CLUSTER 'c' ADD COLUMN IF NOT EXISTS y UInt8");
    expect(forCluster('CREATE TABLE IF NOT EXISTS m (a UInt8) ENGINE = MergeTree ORDER BY a', 'c')).toContain("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}') ORDER BY a");
    expect(() => forCluster('CREATE TABLE IF NOT EXISTS m (a UInt8)', "x'; DROP")).toThrow(/cluster name/);
  });

  it('transforms every shipped statement that creates or alters something, and nothing else', () => {
    for (const m of MIGRATIONS) {
      for (const s of m.statements) {
        const t = forCluster(s, 'c');
        if (/^\s*(--[^\n]*\n\s*)*(CREATE|ALTER)/.test(s)) expect(t, `${m.name}: ${s.slice(0, 80)}`).toContain("ON CLUSTER 'c'");
        // Undoing the two changes gives back the original statement: nothing else was touched.
        const undone = t.replace(/ ON CLUSTER 'c'/g, '').replace(/Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(, )?/g, '$1(').replace(/MergeTree\(\)/g, 'MergeTree');
        expect(undone).toBe(s);
        expect(forCluster(s, undefined)).toBe(s);
      }
    }
  });
});
