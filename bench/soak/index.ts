// `npm run soak`: sustained load with periodic rule evaluation. SDK processes send at SOAK_RATE
// predictions/s in all (default 5000) for SOAK_SECONDS (default 600) to an in-process collector whose
// rules evaluate drift every 10 s. Every 10 s it samples the collector's heap and RSS and the ack
// latency of that interval (from the request histogram's deltas). Promises checked at the end:
//   - no dropped records: every prediction the SDK processes recorded is stored, once;
//   - no memory growth: heap in the last third of the run within 20% of the middle third;
//   - stable latency: p99 of the last third within 2x of the middle third's.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCollector } from '../../collector/main.js';
import { queryRows } from '../../collector/store/client.js';
import { runLoad } from '../ingest/load.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 5000);
const LOADERS = 2;
const INTERVAL_MS = 10_000;

const RULES = `groups:
  - name: soak
    interval: 10s
    rules:
      - alert: SoakDrift
        signal: feature_drift
        method: psi
        window: 5m
        condition: "> 10"
        for: 1m
`;

function buckets(text: string): { le: number; count: number }[] {
  const out: { le: number; count: number }[] = [];
  for (const m of text.matchAll(/^driftwatch_ingest_request_duration_bucket\{([^}]*)\} (\S+)$/gm)) {
    if (!m[1].includes('signal="logs"') || !m[1].includes('status="200"')) continue;
    const le = /le="([^"]+)"/.exec(m[1])![1];
    out.push({ le: le === '+Inf' ? Infinity : Number(le), count: Number(m[2]) });
  }
  return out.sort((a, b) => a.le - b.le);
}

function p99(prev: { le: number; count: number }[], cur: { le: number; count: number }[]): number {
  const delta = cur.map((b, i) => ({ le: b.le, count: b.count - (prev[i]?.count ?? 0) }));
  const total = delta.at(-1)?.count ?? 0;
  if (total === 0) return NaN;
  const rank = 0.99 * total;
  let lo = 0;
  let loCount = 0;
  for (const b of delta) {
    if (b.count >= rank) return b.le === Infinity ? lo : lo + ((b.le - lo) * (rank - loCount)) / Math.max(b.count - loCount, 1);
    lo = b.le;
    loCount = b.count;
  }
  return lo;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'dw-soak-'));
  writeFileSync(join(dir, 'rules.yaml'), RULES);
  const collector = await startCollector(
    { port: 0, host: '127.0.0.1', dataDir: join(dir, 'data'), rulesPath: join(dir, 'rules.yaml'), retentionDays: 30, baselineRows: 5000, maxBodyBytes: 64 * 1024 * 1024 },
    () => {},
  );
  try {
    // The SDK processes are this script again, in loader mode.
    const load = fileURLToPath(import.meta.url);
    const children = Array.from({ length: LOADERS }, (_, w) =>
      new Promise<Record<string, number>>((resolve, reject) => {
        const child = fork(load, ['--load', '--endpoint', collector.url, '--seconds', String(SECONDS), '--worker', String(w), '--rate', String(RATE / LOADERS)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], execArgv: [] });
        let out = '';
        child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1)!)) : reject(new Error(`load generator exited ${code}`))));
      }),
    );
    const samples: { t: number; heapMB: number; rssMB: number; p99ms: number }[] = [];
    let prev = buckets(await (await fetch(`${collector.url}/metrics`)).text());
    const start = Date.now();
    const sampler = setInterval(async () => {
      const cur = buckets(await (await fetch(`${collector.url}/metrics`)).text());
      global.gc?.();
      const m = process.memoryUsage();
      samples.push({ t: Math.round((Date.now() - start) / 1000), heapMB: m.heapUsed / 2 ** 20, rssMB: m.rss / 2 ** 20, p99ms: p99(prev, cur) * 1000 });
      prev = cur;
    }, INTERVAL_MS);
    const results = await Promise.all(children);
    clearInterval(sampler);
    await collector.writer.flush();

    const recorded = results.reduce((n, r) => n + r.recorded, 0);
    const dropped = results.reduce((n, r) => n + (r.dropped ?? 0), 0);
    const failed = results.reduce((n, r) => n + (r.failed ?? 0), 0);
    const [{ stored, rows }] = await queryRows<{ stored: string; rows: string }>(collector.store.client, `SELECT uniqExact(id) AS stored, count() AS rows FROM predictions FINAL WHERE model = 'bench-ingest'`);
    console.table(samples.map((s) => ({ 't (s)': s.t, 'heap MB': s.heapMB.toFixed(0), 'RSS MB': s.rssMB.toFixed(0), 'p99 ack ms': Number.isFinite(s.p99ms) ? s.p99ms.toFixed(0) : '-' })));
    const third = Math.max(1, Math.floor(samples.length / 3));
    const middle = samples.slice(third, 2 * third);
    const last = samples.slice(-third);
    const heapMid = mean(middle.map((s) => s.heapMB));
    const heapLast = mean(last.map((s) => s.heapMB));
    const p99Mid = mean(middle.map((s) => s.p99ms).filter(Number.isFinite));
    const p99Last = mean(last.map((s) => s.p99ms).filter(Number.isFinite));
    console.log(`${SECONDS}s at ${RATE} predictions/s offered: recorded ${recorded}, stored ${stored} (rows ${rows}), SDK-dropped ${dropped}, failed ${failed}`);
    const checks = [
      [`no dropped records (stored ${stored} = recorded ${recorded}, nothing dropped or failed)`, Number(stored) === recorded && dropped === 0 && failed === 0],
      [`no duplicates (rows ${rows} = distinct ids ${stored})`, Number(rows) === Number(stored)],
      [`heap stable (last third ${heapLast.toFixed(0)} MB vs middle ${heapMid.toFixed(0)} MB, within 20%)`, heapLast <= heapMid * 1.2],
      [`p99 ack stable (last third ${p99Last.toFixed(0)} ms vs middle ${p99Mid.toFixed(0)} ms, within 2x)`, !(p99Last > p99Mid * 2)],
    ] as const;
    for (const [what, ok] of checks) console.log(`${ok ? 'OK  ' : 'FAIL'} ${what}`);
    if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
  } finally {
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--load')) await runLoad(process.argv.slice(2));
else await main();
