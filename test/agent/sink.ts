// A programmable OTLP/HTTP receiver for the agent tests: a real loopback HTTP server whose answer
// (status, headers, body, delay) is decided per request, and which decodes what it receives.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeLogs, parseLogsRequest } from '../../collector/ingest/otlp-logs.js';
import type { DecodedBatch } from '../../collector/ingest/records.js';

export interface SinkRequest { headers: IncomingHttpHeaders; body: Buffer; decoded?: DecodedBatch }
export interface SinkAnswer { status?: number; headers?: Record<string, string>; body?: string | Uint8Array; delayMs?: number; hang?: boolean }

export interface OtlpSink {
  url: string;
  port: number;
  requests: SinkRequest[];
  /** Rows decoded from every request that was answered 2xx. */
  accepted(): DecodedBatch;
  close(): Promise<void>;
}

export async function startOtlpSink(answer: (r: SinkRequest, n: number) => SinkAnswer = () => ({}), port = 0): Promise<OtlpSink> {
  const requests: SinkRequest[] = [];
  const ok: DecodedBatch[] = [];
  const hanging = new Set<import('node:http').ServerResponse>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const r: SinkRequest = { headers: req.headers, body };
      try {
        const raw = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
        const enc = String(req.headers['content-type']).includes('json') ? 'json' : 'protobuf';
        r.decoded = decodeLogs(parseLogsRequest(raw, enc));
      } catch {
        /* left undecoded */
      }
      requests.push(r);
      const a = answer(r, requests.length);
      if (a.hang) {
        hanging.add(res);
        return;
      }
      const send = () => {
        const status = a.status ?? 200;
        if (status >= 200 && status < 300 && r.decoded) ok.push(r.decoded);
        res.writeHead(status, { 'content-type': 'application/json', ...(a.headers ?? {}) });
        res.end(a.body ?? '{}');
      };
      if (a.delayMs) setTimeout(send, a.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    requests,
    accepted: () => ({
      predictions: ok.flatMap((b) => b.predictions),
      labels: ok.flatMap((b) => b.labels),
      rejected: ok.flatMap((b) => b.rejected),
    }),
    close: () =>
      new Promise<void>((r) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A loopback port with nothing listening on it (yet). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

