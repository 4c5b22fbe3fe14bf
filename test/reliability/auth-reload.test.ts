// Promise: API keys are revocable without a restart. With DRIFTWATCH_API_KEYS_FILE the collector
// re-reads the file when it changes (in place or replaced by a rename, as editors do) and on SIGHUP;
// a removed key gets 401 from then on, an added one works; a file that does not parse, or that would
// leave no key, keeps the previous keys and says why in the log, never quoting a secret.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseKeys } from '../../collector/auth.js';
import { KeyRing } from '../../collector/keyring.js';
import { waitFor } from '../helpers/collector.js';
import { spawnCollector, type ChildCollector } from '../helpers/process.js';

const SECRET = {
  a: 'alpha-secret-0123456789',
  b: 'bravo-secret-0123456789',
  c: 'charlie-secret-0123456789',
  d: 'delta-secret-0123456789',
  broken: 'broken-secret-0123456789',
};
type Name = keyof typeof SECRET;
const entry = (name: Name) => ({ name, key: SECRET[name], scopes: ['read', 'write'], models: ['*'] });
const keysJson = (...names: Name[]) => JSON.stringify(names.map(entry), null, 2);

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });
const logsBody = (id: string) => JSON.stringify({
  resourceLogs: [{ resource: { attributes: [kv('ml.model.name', { stringValue: 'reload' })] }, scopeLogs: [{ logRecords: [
    { eventName: 'ml.prediction', attributes: [kv('ml.prediction.id', { stringValue: id }), kv('ml.prediction.value', { intValue: 1 })] },
  ] }] }],
});

describe('API key reload in a running collector (child process)', () => {
  let dir: string;
  let file: string;
  let c: ChildCollector;
  let n = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dw-keys-'));
    file = join(dir, 'keys.json');
    writeFileSync(file, keysJson('a', 'b'));
    c = await spawnCollector({ DRIFTWATCH_DATA_DIR: join(dir, 'data'), DRIFTWATCH_API_KEYS_FILE: file });
  });
  afterAll(async () => {
    if (c && c.child.exitCode === null) {
      c.child.kill('SIGTERM');
      await c.exited;
    }
  });

  /** Status of an ingest and of a read with this key. */
  const statuses = async (name: Name) => {
    const headers = { authorization: `Bearer ${SECRET[name]}`, 'content-type': 'application/json' };
    const write = await fetch(`${c.url}/v1/logs`, { method: 'POST', headers, body: logsBody(`${name}-${n++}`) });
    await write.arrayBuffer();
    const read = await fetch(`${c.url}/api/v1/models`, { headers });
    await read.arrayBuffer();
    return [write.status, read.status];
  };
  const events = (event: string) =>
    c.output.join('').split('\n').filter((l) => l.includes(`"event":"${event}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
  /** Atomic replace, as editors and config management do: write a temporary file, rename it over. */
  const replace = (text: string) => {
    const tmp = join(dir, `.keys.json.${n++}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  };

  it('starts with the keys of the file', async () => {
    expect(await statuses('a')).toEqual([200, 200]);
    expect(await statuses('b')).toEqual([200, 200]);
    expect(await statuses('c')).toEqual([401, 401]);
    expect(events('collector_started')[0]).toMatchObject({ api_keys: ['a', 'b'], api_keys_file: file });
  });

  it('revokes a key removed from the file and admits an added one, without a restart (file replaced by rename)', async () => {
    const pid = c.child.pid;
    replace(keysJson('b', 'c'));
    // Polled about every second: the revocation lands within a few.
    const t0 = Date.now();
    await waitFor(async () => (await statuses('a'))[0] === 401, 10_000, 100);
    const revokedAfterMs = Date.now() - t0;
    expect(await statuses('a')).toEqual([401, 401]);
    expect(await statuses('c')).toEqual([200, 200]);
    expect(await statuses('b')).toEqual([200, 200]);
    expect(c.child.pid).toBe(pid);
    expect(c.child.exitCode).toBeNull();
    expect(events('api_keys_reloaded').at(-1)).toMatchObject({ file, trigger: 'file_changed', count: 2, keys: ['b', 'c'], added: ['c'], removed: ['a'] });
    console.log(`auth-reload: key revoked ${revokedAfterMs} ms after the file was replaced`);
  });

  it('keeps the previous keys when the file does not parse, and logs why without the secrets', async () => {
    const failedBefore = events('api_keys_reload_failed').length;
    // Written in place this time (truncate + write), a secret right where the parse fails.
    writeFileSync(file, `[{"name": "broken", "key": "${SECRET.broken}", scopes: ["write"]}]`);
    await waitFor(() => events('api_keys_reload_failed').length > failedBefore, 10_000, 100);
    const failed = events('api_keys_reload_failed').at(-1)!;
    expect(failed).toMatchObject({ file, trigger: 'file_changed', kept: ['b', 'c'] });
    expect(failed.reason).toMatch(/^not valid JSON: Expected double-quoted property name at line 1, column \d+$/);
    expect(await statuses('b')).toEqual([200, 200]);
    expect(await statuses('c')).toEqual([200, 200]);
    expect(await statuses('a')).toEqual([401, 401]);
    expect(await statuses('broken')).toEqual([401, 401]);

    // Not valid as keys either (a short key): same, and the reason names the field, not the value.
    replace(JSON.stringify([{ name: 'short', key: 'tiny-secret', scopes: ['read'] }]));
    await waitFor(() => events('api_keys_reload_failed').length > failedBefore + 1, 10_000, 100);
    expect(events('api_keys_reload_failed').at(-1)!.reason).toBe('[0].key: a key must be at least 16 characters');
    expect(await statuses('b')).toEqual([200, 200]);
    for (const s of [...Object.values(SECRET), 'tiny-secret']) expect(c.output.join(''), s).not.toContain(s);
  });

  it('refuses a reload to no key at all (authentication would switch off), keeping the previous keys', async () => {
    const failedBefore = events('api_keys_reload_failed').length;
    replace('[]');
    await waitFor(() => events('api_keys_reload_failed').length > failedBefore, 10_000, 100);
    expect(String(events('api_keys_reload_failed').at(-1)!.reason)).toMatch(/no keys: that would switch authentication off/);
    expect(await statuses('b')).toEqual([200, 200]);
    const anonymous = await fetch(`${c.url}/api/v1/models`);
    expect(anonymous.status).toBe(401);
  });

  it('re-reads the file on SIGHUP, and SIGHUP does not stop the collector', async () => {
    const reloadedBefore = events('api_keys_reloaded').length;
    writeFileSync(file, keysJson('d'));
    c.child.kill('SIGHUP');
    // Well within the 1 s poll: whichever of SIGHUP and the poll comes first, d is in and b is out.
    await waitFor(async () => (await statuses('d'))[0] === 200, 5_000, 50);
    expect(await statuses('b')).toEqual([401, 401]);
    await waitFor(() => events('api_keys_reloaded').slice(reloadedBefore).some((e) => e.trigger === 'SIGHUP'), 5_000, 50);
    const last = events('api_keys_reloaded').at(-1)!;
    expect(last).toMatchObject({ keys: ['d'], count: 1 });

    // A SIGHUP with the file unchanged rebuilds the same set and says so.
    const n0 = events('api_keys_reloaded').length;
    c.child.kill('SIGHUP');
    await waitFor(() => events('api_keys_reloaded').length > n0, 5_000, 50);
    expect(events('api_keys_reloaded').at(-1)).toMatchObject({ trigger: 'SIGHUP', keys: ['d'], added: [], removed: [] });
    expect(await statuses('d')).toEqual([200, 200]);
    expect(c.child.exitCode).toBeNull();
    for (const s of Object.values(SECRET)) expect(c.output.join(''), s).not.toContain(s);
  });
});

describe('KeyRing rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dw-keyring-'));
  const logs: Record<string, unknown>[] = [];
  const log = (event: string, fields: Record<string, unknown> = {}) => logs.push({ event, ...fields });

  it('beyond loopback, refuses a reload to an empty key set and keeps the old keys', () => {
    const file = join(dir, 'keys.json');
    writeFileSync(file, keysJson('a'));
    const ring = new KeyRing(parseKeys(keysJson('a'), file), { file, host: '0.0.0.0', log });
    writeFileSync(file, '[]');
    expect(ring.reload('SIGHUP')).toBe('refused');
    expect(ring.current().map((k) => k.name)).toEqual(['a']);
    expect(logs.at(-1)).toMatchObject({ event: 'api_keys_reload_failed', file, kept: ['a'] });
    expect(String(logs.at(-1)!.reason)).toMatch(/listens on 0\.0\.0\.0, which is not loopback: at least one key is required/);
    writeFileSync(file, keysJson('b'));
    expect(ring.reload('SIGHUP')).toBe('reloaded');
    expect(ring.current().map((k) => k.name)).toEqual(['b']);
  });

  it('keeps the DRIFTWATCH_API_KEYS keys across reloads and refuses a file that reuses their names', () => {
    const file = join(dir, 'keys2.json');
    writeFileSync(file, keysJson('b'));
    const fixed = parseKeys(keysJson('a'), 'DRIFTWATCH_API_KEYS');
    const ring = new KeyRing([...fixed, ...parseKeys(keysJson('b'), file)], { file, fixed, host: '127.0.0.1', log });
    writeFileSync(file, keysJson('c'));
    expect(ring.reload()).toBe('reloaded');
    expect(ring.current().map((k) => k.name)).toEqual(['a', 'c']);
    writeFileSync(file, keysJson('a', 'd'));
    expect(ring.reload()).toBe('failed');
    expect(logs.at(-1)!.reason).toBe('key name "a" is also in DRIFTWATCH_API_KEYS');
    // Only the file's keys gone: the fixed key still authenticates, so this is no "empty set".
    writeFileSync(file, '[]');
    expect(ring.reload()).toBe('reloaded');
    expect(ring.current().map((k) => k.name)).toEqual(['a']);
  });

  it('gives the position of a YAML error, not the line holding the secret', () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, `- name: a\n  key: ${SECRET.a}\n  scopes: [read]\n`);
    const ring = new KeyRing(parseKeys(`- name: a\n  key: ${SECRET.a}\n  scopes: [read]\n`, file), { file, host: '127.0.0.1', log });
    writeFileSync(file, `- name: b\n  key: ${SECRET.b}: oops\n  scopes: [read]\n`);
    expect(ring.reload()).toBe('failed');
    expect(logs.at(-1)!.reason).toMatch(/at line 2, column \d+$/);
    writeFileSync(file, `- name: b\n  key: "${SECRET.b}\n`);
    expect(ring.reload()).toBe('failed');
    expect(ring.current().map((k) => k.name)).toEqual(['a']);
    expect(JSON.stringify(logs)).not.toContain(SECRET.b);
    expect(JSON.stringify(logs)).not.toContain(SECRET.a);
  });

  it('drops the text V8 quotes around a JSON error', () => {
    const file = join(dir, 'keys4.json');
    writeFileSync(file, keysJson('a'));
    const ring = new KeyRing(parseKeys(keysJson('a'), file), { file, host: '127.0.0.1', log });
    // V8 says: Unexpected token ' ', "[{"name":"...ecret-01"... is not valid JSON
    writeFileSync(file, `[{"name":"b","key":tru ${SECRET.b}}]`);
    expect(ring.reload()).toBe('failed');
    expect(logs.at(-1)!.reason).toBe("not valid JSON: Unexpected token ' '");
    writeFileSync(file, `- name: b\n  key: ${SECRET.b}\n`);
    expect(ring.reload()).toBe('failed');
    expect(logs.at(-1)!.reason).toBe('not valid JSON: No number after minus sign at line 1, column 2');
    expect(JSON.stringify(logs)).not.toContain(SECRET.b.slice(0, 8));
  });

  it('ignores a change that leaves the content as loaded (a touch), but logs a recovery', () => {
    const file = join(dir, 'keys3.json');
    writeFileSync(file, keysJson('a'));
    const ring = new KeyRing(parseKeys(keysJson('a'), file), { file, host: '127.0.0.1', log });
    const n0 = logs.length;
    expect(ring.reload('file_changed')).toBe('unchanged');
    expect(logs.length).toBe(n0);
    writeFileSync(file, '[{');
    expect(ring.reload('file_changed')).toBe('failed');
    writeFileSync(file, keysJson('a'));
    expect(ring.reload('file_changed')).toBe('reloaded');
    expect(logs.at(-1)).toMatchObject({ event: 'api_keys_reloaded', keys: ['a'], added: [], removed: [] });
  });
});
