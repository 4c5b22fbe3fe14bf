// The OTLP/HTTP logs receiver against a real collector on the embedded store: bad input gets a
// clear answer and nothing valid in the same request is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { request } from 'node:http';
import { ExportLogsServiceRequest, ExportLogsServiceResponse, Status } from '../../otlp/schema.js';
import { queryRows } from '../../collector/store/client.js';
import { startTestCollector, type TestCollector } from '../helpers/collector.js';

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const pred = (id: string, extra: unknown[] = []) => ({
  eventName: 'ml.prediction',
  attributes: [kv('ml.prediction.id', { stringValue: id }), kv('ml.prediction.value', { doubleValue: 1 }), kv('ml.feature.x', { doubleValue: 0.5 }), ...extra],
});
const req = (records: unknown[], model = 'rx') => ({
  resourceLogs: [{ resource: { attributes: model ? [kv('ml.model.name', { stringValue: model })] : [] }, scopeLogs: [{ logRecords: records }] }],
});

describe('POST /v1/logs', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector({ maxBodyBytes: 256 * 1024 });
  });
  afterAll(async () => {
    await c?.close();
  });

  const post = (body: BodyInit, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${c.url}/v1/logs`, { method: 'POST', body, headers });
  const stored = async (model: string) =>
    (await queryRows<{ id: string }>(c.store.client, 'SELECT id FROM predictions FINAL WHERE model = {m:String} ORDER BY id', { m: model })).map((r) => r.id);

  it('answers 400 with the reason for a body that is not JSON', async () => {
    const res = await post('{"resourceLogs": [');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: number; message: string };
    expect(body.code).toBe(3);
    expect(body.message).toMatch(/^body is not valid JSON/);
  });

  it('keeps the valid records of a request and names each rejected field (JSON)', async () => {
    const records = [
      pred('ok-1'),
      pred('bad-type', [kv('ml.prediction.score', { stringValue: 'high' })]),
      { eventName: 'ml.prediction', attributes: [kv('ml.prediction.id', { stringValue: 'no-output' })] },
      pred('ok-2'),
    ];
    const res = await post(JSON.stringify(req(records)));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as { partialSuccess: { rejectedLogRecords: string; errorMessage: string } };
    expect(body.partialSuccess.rejectedLogRecords).toBe('2');
    expect(body.partialSuccess.errorMessage).toContain('logRecords[1].attributes["ml.prediction.score"]: must be a number');
    expect(body.partialSuccess.errorMessage).toContain('logRecords[2].attributes["ml.prediction.value"]: missing');
    expect(await stored('rx')).toEqual(['ok-1', 'ok-2']);
  });

  it('answers 400 naming the field when no record is usable (missing model name)', async () => {
    const res = await post(JSON.stringify(req([pred('x')], '')));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { message: string };
    expect(body.message).toContain('logRecords[0].attributes["ml.model.name"]: missing');
  });

  it('speaks protobuf (and gzip) with protobuf answers, partial success included', async () => {
    const records = [pred('pb-1'), pred('pb-bad', [kv('ml.feature.v', { arrayValue: { values: [] } })])];
    const bytes = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req(records, 'pb'))).finish();
    const res = await post(gzipSync(bytes), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    const answer = ExportLogsServiceResponse.toObject(ExportLogsServiceResponse.decode(new Uint8Array(await res.arrayBuffer())), { longs: String });
    expect(answer.partialSuccess.rejectedLogRecords).toBe('1');
    expect(answer.partialSuccess.errorMessage).toContain('attributes["ml.feature.v"]: array values are not supported here');
    expect(await stored('pb')).toEqual(['pb-1']);

    const broken = await post(Buffer.from([0x0a, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' });
    expect(broken.status).toBe(400);
    const status = Status.toObject(Status.decode(new Uint8Array(await broken.arrayBuffer())));
    expect(status.message).toMatch(/not a valid ExportLogsServiceRequest/);
  });

  it('refuses unknown content types and oversize bodies', async () => {
    expect((await post('x', { 'content-type': 'text/plain' })).status).toBe(415);
    const big = JSON.stringify(req(Array.from({ length: 3000 }, (_, i) => pred(`big-${i}`))));
    expect(big.length).toBeGreaterThan(256 * 1024);
    const res = await post(big);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toBe('body larger than 262144 bytes');
    expect(await stored('rx')).not.toContain('big-0');
  });

  it('answers 413 as soon as a chunked body passes the limit, without waiting for its end', async () => {
    // A client that sends 300 KB and then neither ends its body nor closes: the 413 still comes.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${c.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        req.destroy();
      });
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
      req.write(Buffer.alloc(300 * 1024, 0x20));
    });
    expect(status).toBe(413);
  }, 10_000);

  it('limits a chunked body (no Content-Length) as it arrives, and reads one within the limit', async () => {
    // A body streamed in 16 KB pieces: sent with Transfer-Encoding: chunked, its size known only at its end.
    const chunked = (text: string) => {
      const bytes = Buffer.from(text);
      let at = 0;
      return new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (at >= bytes.length) return ctl.close();
          ctl.enqueue(bytes.subarray(at, (at += 16 * 1024)));
        },
      });
    };
    const send = (text: string) =>
      fetch(`${c.url}/v1/logs`, { method: 'POST', body: chunked(text), headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    const big = await send(JSON.stringify(req(Array.from({ length: 3000 }, (_, i) => pred(`chunked-big-${i}`)))));
    expect(big.status).toBe(413);
    expect(((await big.json()) as { message: string }).message).toBe('body larger than 262144 bytes');
    const small = await send(JSON.stringify(req(Array.from({ length: 300 }, (_, i) => pred(`chunked-${String(i).padStart(3, '0')}`)))));
    expect(small.status).toBe(200);
    expect((await stored('rx')).filter((id) => id.startsWith('chunked-'))).toEqual(Array.from({ length: 300 }, (_, i) => `chunked-${String(i).padStart(3, '0')}`));
  });

  it('decodes bodies that arrive interleaved, in pieces, each into its own rows (the join buffer is reused)', async () => {
    // Eight protobuf bodies of 64-220 KB, each streamed in 7 KB pieces with pauses, all at once:
    // their pieces interleave, and each body is joined into the one reused buffer when it ends.
    const bodies = Array.from({ length: 8 }, (_, b) =>
      Buffer.from(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(req(Array.from({ length: 200 + 200 * (b % 4) }, (_, i) =>
        pred(`mix-${b}-${String(i).padStart(4, '0')}`, [kv('ml.feature.b', { doubleValue: b * 1000 + i }), kv('ml.feature.pad', { stringValue: `p${b}`.repeat(60) })]))))).finish()));
    const streamed = (bytes: Buffer) => {
      let at = 0;
      return new ReadableStream<Uint8Array>({
        async pull(ctl) {
          if (at >= bytes.length) return ctl.close();
          await new Promise((r) => setTimeout(r, 1));
          ctl.enqueue(bytes.subarray(at, (at += 7 * 1024)));
        },
      });
    };
    const answers = await Promise.all(bodies.map((body) =>
      fetch(`${c.url}/v1/logs`, { method: 'POST', body: streamed(body), headers: { 'content-type': 'application/x-protobuf' }, duplex: 'half' } as RequestInit)));
    expect(answers.map((a) => a.status)).toEqual(bodies.map(() => 200));
    const rows = await queryRows<{ id: string; b: number; pad: string }>(c.store.client,
      "SELECT id, num['b'] AS b, cat['pad'] AS pad FROM predictions FINAL WHERE model = 'rx' AND startsWith(id, 'mix-') ORDER BY id");
    expect(rows.length).toBe(bodies.reduce((n, _, b) => n + 200 + 200 * (b % 4), 0));
    for (const r of rows) {
      const [, b, i] = r.id.split('-').map(Number);
      expect([r.b, r.pad]).toEqual([b * 1000 + i, `p${b}`.repeat(60)]);
    }
  });
});
