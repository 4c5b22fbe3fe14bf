// The expansion the query tests rely on, against the plugin's own definitions (pkg/macros in
// grafana/clickhouse-datasource) and Grafana's variable formatting.
import { describe, expect, it } from 'vitest';
import { bucketQuantile } from '../../dashboards/src/latency.js';
import { clickhouseFormat, expandMacros, metricNames, prometheusFormat, replaceVariables } from './grafana.js';

// The time range of the plugin's macro tests.
const range = { fromMs: Date.parse('2014-11-12T11:45:26.371Z'), toMs: Date.parse('2015-11-12T11:45:26.371Z') };

describe('ClickHouse plugin macros', () => {
  it('expands time filters with second and millisecond precision', () => {
    expect(expandMacros('WHERE $__timeFilter(ts)', range, 20_000)).toBe('WHERE ts >= toDateTime(1415792726) AND ts <= toDateTime(1447328726)');
    expect(expandMacros('WHERE $__timeFilter_ms(ts)', range, 20_000)).toBe(
      'WHERE ts >= fromUnixTimestamp64Milli(1415792726371) AND ts <= fromUnixTimestamp64Milli(1447328726371)',
    );
    expect(expandMacros('$__fromTime, $__toTime, $__fromTime_ms', range, 20_000)).toBe('toDateTime(1415792726), toDateTime(1447328726), fromUnixTimestamp64Milli(1415792726371)');
    expect(expandMacros('$__dateFilter(d)', range, 1)).toBe("d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')");
    expect(expandMacros('$__dt(d, t)', range, 1)).toBe(
      "(d >= toDate('2014-11-12') AND d <= toDate('2015-11-12')) AND (t >= toDateTime(1415792726) AND t <= toDateTime(1447328726))",
    );
  });

  it('expands intervals from the query interval, at least one second', () => {
    expect(expandMacros('$__timeInterval(col)', range, 20_000)).toBe('toStartOfInterval(toDateTime(col), INTERVAL 20 second)');
    expect(expandMacros('x / $__interval_s', range, 20_000)).toBe('x / 20');
    expect(expandMacros('x / $__interval_s', range, 500)).toBe('x / 1');
    expect(expandMacros('$__timeInterval_ms(col)', range, 250)).toBe('toStartOfInterval(toDateTime64(col, 3), INTERVAL 250 millisecond)');
  });

  it('takes balanced parentheses as one argument', () => {
    expect(expandMacros('$__timeFilter(toDateTime(ts))', range, 1)).toBe('toDateTime(ts) >= toDateTime(1415792726) AND toDateTime(ts) <= toDateTime(1447328726)');
  });
});

describe('Grafana template variables', () => {
  const vars = { model: 'credit-risk', version: ['v1', 'v2'], one: ['v1'] };
  it('formats as the ClickHouse plugin does: a multi-value quoted and joined, a single value as it is', () => {
    expect(replaceVariables("model = '${model}' AND version IN (${version})", vars, clickhouseFormat)).toBe("model = 'credit-risk' AND version IN ('v1','v2')");
    expect(replaceVariables('version IN ($one)', vars, clickhouseFormat)).toBe("version IN ('v1')");
  });
  it('leaves macros and unknown names for the backend', () => {
    expect(replaceVariables('$__timeFilter(ts) AND $model', vars, clickhouseFormat)).toBe('$__timeFilter(ts) AND credit-risk');
  });
  it('formats regex values for Prometheus', () => {
    expect(replaceVariables('{v=~"${version:regex}"}', vars, prometheusFormat)).toBe('{v=~"(v1|v2)"}');
    expect(replaceVariables('{v=~"$version"}', vars, prometheusFormat)).toBe('{v=~"(v1|v2)"}');
  });
});

describe('metric names in PromQL', () => {
  it('finds metrics, not functions, keywords or labels', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, table) (rate(a_bucket{x="y"}[5m])))')).toEqual(['a_bucket']);
    expect(metricNames('sum(rate(a_total[1m])) / sum(rate(b_total{s!="200"}[1m])) or vector(0)')).toEqual(['a_total', 'b_total']);
    expect(metricNames('up offset 5m')).toEqual(['up']);
  });
});

describe('histogram quantiles in SQL', () => {
  it('interpolate inside the bucket like histogram_quantile, the +Inf bucket answering the highest bound', async () => {
    const { query } = await import('chdb');
    const qs = [0.05, 0.5, 0.99];
    const sql = `SELECT ${qs.map((q, i) => `${bucketQuantile(q)} AS q${i}`).join(', ')}
      FROM (SELECT [0.005, 0.01, 0.05] AS bounds, [10, 30, 50, 10] AS counts, arrayCumSum(counts) AS cum, cum[-1] AS total)`;
    const row = JSON.parse(query(sql, 'JSONEachRow')) as Record<string, number>;
    // p5: rank 5 of the first bucket's 10 in [0, 0.005]; p50: rank 50, 10 into the third bucket's 50
    // in [0.01, 0.05]; p99: in the +Inf bucket.
    expect(row.q0).toBeCloseTo(0.0025, 12);
    expect(row.q1).toBeCloseTo(0.018, 12);
    expect(row.q2).toBe(0.05);
  });
});
