// Starts a real Prometheus Alertmanager (Debian's prometheus-alertmanager) on a free loopback port
// with a temporary config and storage; its notifications go to a webhook URL given by the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export interface RunningAlertmanager { url: string; output: () => string; stop(): Promise<void> }

export async function startAlertmanager(webhookUrl: string): Promise<RunningAlertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-am-'));
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(config, `route:
  receiver: sink
  group_by: [alertname, model, feature]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: ${webhookUrl}
        send_resolved: true
`);
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let out = '';
    const proc: ChildProcess = spawn('prometheus-alertmanager', [
      `--config.file=${config}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    let exited = false;
    proc.once('exit', () => (exited = true));
    const spawnError = new Promise<Error>((r) => proc.once('error', r));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    while (!exited && Date.now() < deadline) {
      const e = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(r, 100))]);
      if (e) throw new Error(`prometheus-alertmanager cannot start (${e.message}); .ci/run installs it`);
      try {
        if ((await fetch(`${url}/-/ready`)).ok) {
          return {
            url,
            output: () => out,
            async stop() {
              if (!exited) {
                const gone = new Promise<void>((r) => proc.once('exit', () => r()));
                proc.kill('SIGTERM');
                await gone;
              }
              rmSync(dir, { recursive: true, force: true });
            },
          };
        }
      } catch {
        // not listening yet
      }
    }
    proc.kill('SIGKILL');
    lastError = out.slice(-2000);
  }
  throw new Error(`prometheus-alertmanager did not become ready:\n${lastError}`);
}

export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  fingerprint: string;
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
  receivers: { name: string }[];
}

export async function amAlerts(url: string): Promise<AmAlert[]> {
  const res = await fetch(`${url}/api/v2/alerts`);
  if (!res.ok) throw new Error(`GET /api/v2/alerts: ${res.status}`);
  return (await res.json()) as AmAlert[];
}
