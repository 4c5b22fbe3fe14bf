// With CLICKHOUSE_URL, rows go to the server as ClickHouse's HTTP interface documents for binary
// inserts: `INSERT INTO t (columns) FORMAT RowBinary` in the `query` parameter and the rows, byte
// for byte, as the body (with the writer's settings as URL parameters). A ClickHouse server recent
// enough for this schema cannot run on this machine, so a local HTTP receiver checks the request.
import { describe, expect, it } from 'vitest';
import { openStore } from '../../collector/store/client.js';
import { encodePredictions, TABLES } from '../../collector/store/rowbinary.js';
import { insertBlocks } from '../../collector/store/writer.js';
import { startSink } from '../helpers/http-sink.js';

describe('inserts into a ClickHouse server', () => {
  it('send the RowBinary rows as the body of INSERT ... FORMAT RowBinary, settings as parameters', async () => {
    const sink = await startSink();
    const store = await openStore({ url: `${sink.url}/driftwatch`, dataDir: '' });
    try {
      const rows = [0, 1, 2].map((i) => ({ model: 'm', version: 'v', ts: 1_764_504_000_000 + i, id: `id-${i}`, prediction: '1', predictionNum: 1, score: 0.5, latencyMs: 2, num: { f: i }, cat: { c: 'x' }, segment: {} }));
      const a = encodePredictions(rows.slice(0, 2));
      const b = encodePredictions(rows.slice(2));
      await insertBlocks(store, 'predictions', [a, b], { async_insert: 1, wait_for_async_insert: 1 });
      expect(sink.received).toHaveLength(1);
      const r = sink.received[0];
      const url = new URL(r.url, sink.url);
      expect(r.method).toBe('POST');
      expect(url.searchParams.get('query')).toBe(`INSERT INTO predictions (${TABLES.predictions.columns.map((c) => c[0]).join(', ')}) FORMAT RowBinary`);
      expect(url.searchParams.get('async_insert')).toBe('1');
      expect(url.searchParams.get('wait_for_async_insert')).toBe('1');
      expect(url.searchParams.get('database')).toBe('driftwatch');
      expect(r.body.equals(encodePredictions(rows).data)).toBe(true);
    } finally {
      await store.close();
      await sink.close();
    }
  });
});
