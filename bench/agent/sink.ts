// The benchmark's OTLP sink, run as a separate process so that its work (decompressing and
// decoding every request, to count the records that really arrived) is not charged to the
// serving thread being measured. POST /v1/logs answers 200; GET /count returns the tallies.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { ExportLogsServiceRequest, ExportLogsServiceResponse } from '../../otlp/schema.js';

let requests = 0;
let records = 0;
let bytes = 0;
let errors = 0;
const EMPTY = ExportLogsServiceResponse.encode({}).finish();

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ requests, records, bytes, errors }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    requests++;
    let body = Buffer.concat(chunks);
    bytes += body.length;
    const json = (req.headers['content-type'] ?? '').includes('json');
    try {
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      if (json) {
        const r = JSON.parse(body.toString('utf8'));
        for (const rl of r.resourceLogs ?? []) for (const sl of rl.scopeLogs ?? []) records += sl.logRecords?.length ?? 0;
      } else {
        const r = ExportLogsServiceRequest.decode(body) as unknown as { resourceLogs: { scopeLogs: { logRecords: unknown[] }[] }[] };
        for (const rl of r.resourceLogs) for (const sl of rl.scopeLogs) records += sl.logRecords.length;
      }
    } catch {
      errors++;
    }
    if (json) {
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    } else {
      res.setHeader('content-type', 'application/x-protobuf');
      res.end(EMPTY);
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
