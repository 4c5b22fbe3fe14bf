// `driftwatch demo` / `npm run demo`
import { runDemo } from './service.js';
import { startServiceTelemetry } from './otel.js';

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

export async function runDemoCli(args: string[]): Promise<number> {
  const endpoint = process.env.DRIFTWATCH_ENDPOINT || 'http://127.0.0.1:4318';
  const num = (name: string, def: number) => {
    const v = flag(args, name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: not a number: ${v}`);
    return n;
  };
  const opts = {
    endpoint,
    model: flag(args, 'model') ?? 'credit-risk',
    version: flag(args, 'version') ?? 'v1',
    ratePerSecond: num('rate', 50),
    baselineSeconds: num('baseline-seconds', 30),
    durationSeconds: num('duration', 600),
    labelDelaySeconds: num('label-delay', 10),
    log: (l: string) => console.log(l),
  };
  console.log(
    `[demo] sending ${opts.ratePerSecond} predictions/s of model ${opts.model} ${opts.version} to ${endpoint}; ` +
      `baseline for ${opts.baselineSeconds}s, then income drifts; stops after ${opts.durationSeconds}s (Ctrl-C to stop sooner)`,
  );
  // The service's own OpenTelemetry first, so the SDK's latency histogram goes through it.
  const otel = startServiceTelemetry(endpoint, opts.model, opts.version);
  const run = runDemo(opts);
  const stop = () => void run.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // An interval keeps the process alive; the SDK's own timers are unref'd.
  const keepAlive = setInterval(() => {}, 1000);
  await run.done;
  await otel.shutdown().catch(() => {});
  clearInterval(keepAlive);
  const s = run.monitor.stats();
  console.log(`[demo] done: ${run.sent()} predictions, ${run.labels()} labels; exported ${s.exported}, dropped ${s.dropped}, failed ${s.failed}`);
  return 0;
}
