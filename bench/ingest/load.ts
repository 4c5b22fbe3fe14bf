// A load generator for bench/ingest and bench/soak: the real SDK recording 20-feature predictions
// at --rate per second (or as fast as it can) for --seconds, then shutting down. Prints its stats as
// one JSON line. Run as a script, or through runLoad() by a process that forks itself.
import { fileURLToPath } from 'node:url';
import { createMonitor } from '../../agent/index.js';

export async function runLoad(argv: string[]): Promise<void> {
  const arg = (name: string, def: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : def;
  };
  const endpoint = arg('endpoint', 'http://127.0.0.1:4318');
  const seconds = Number(arg('seconds', '10'));
  const rate = Number(arg('rate', '0'));
  const worker = arg('worker', '0');
  // SDK defaults apart from the flush interval; --batch overrides the records per export request.
  const batch = arg('batch', '');
  const inflight = arg('inflight', '');
  // --gzip true|false overrides the SDK's default (no gzip to a loopback collector such as this one).
  const gzip = arg('gzip', '');
  const monitor = createMonitor({ model: 'bench-ingest', version: 'v1', endpoint, flushIntervalMs: 100, ...(gzip ? { gzip: gzip !== 'false' } : {}), ...(batch ? { maxBatchSize: Number(batch) } : {}), ...(inflight ? { maxConcurrentExports: Number(inflight) } : {}) });
  const features: Record<string, number> = {};
  const names = Array.from({ length: 20 }, (_, k) => `f${k}`);
  let n = 0;
  const start = Date.now();
  const deadline = start + seconds * 1000;
  while (Date.now() < deadline) {
    // Record in slices, yielding to the event loop so export keeps up (a serving process would too).
    const sliceEnd = Date.now() + 20;
    while (Date.now() < sliceEnd) {
      if (rate > 0 && n >= ((Date.now() - start) / 1000) * rate) break;
      for (let k = 0; k < 20; k++) features[names[k]] = Math.random() * (k + 1);
      monitor.record({ id: `w${worker}-${n}`, features, prediction: n & 1, score: Math.random(), latencyMs: 2 });
      n++;
    }
    await new Promise((r) => setTimeout(r, rate > 0 ? 5 : 0));
  }
  await monitor.shutdown();
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ ...monitor.stats(), calls: n, cpuMs: (cpu.user + cpu.system) / 1000 }));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runLoad(process.argv.slice(2));
