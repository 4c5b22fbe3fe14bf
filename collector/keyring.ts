// The collector's current API keys, reloadable without a restart. When the keys come from
// DRIFTWATCH_API_KEYS_FILE, the file is re-read on SIGHUP (cli.ts) and when it changes (polled:
// fs.watchFile stats the path, so an editor's write-then-rename is seen like an in-place write). The
// new set applies from the next request on: a key removed from the file gets 401s.
//
// A reload never weakens the collector by accident:
// - a file that cannot be read or parsed keeps the previous keys (`api_keys_reload_failed`, with the
//   file and the reason, never a secret: parse errors give a position, not the text around it);
// - a reload to no key at all is refused the same way: beyond loopback the collector needs a key
//   (as at start), and on loopback an empty set would switch authentication off, letting in
//   everyone, the revoked keys included. Running open takes a restart without keys.
import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { AuthConfigError, parseKeys, type ApiKey } from './auth.js';
import { isLoopback } from './config.js';
import type { Logger } from './log.js';

export interface KeyRingOptions {
  /** The reloadable file (DRIFTWATCH_API_KEYS_FILE); without it the keys never change. */
  file?: string;
  /** Keys kept across reloads (DRIFTWATCH_API_KEYS). */
  fixed?: readonly ApiKey[];
  /** The listen address: beyond loopback a reload must leave at least one key. */
  host: string;
  log: Logger;
  /** How often the file is polled for changes (default 1000 ms). */
  pollMs?: number;
}

export type ReloadResult = 'reloaded' | 'unchanged' | 'failed' | 'refused';

const digest = (text: string) => createHash('sha256').update(text).digest('hex');

export class KeyRing {
  private keys: readonly ApiKey[];
  /** Digest of the file's text behind the current keys. */
  private loaded: string | undefined;
  private lastFailed = false;
  private watching = false;
  // Called on any change of the file's stat (mtime, ctime, size, inode, ...), including the file
  // disappearing (all zeros) and reappearing; a rename over the path changes the inode.
  private readonly onChange = () => void this.reload('file_changed');

  constructor(initial: readonly ApiKey[], private readonly o: KeyRingOptions) {
    this.keys = initial;
    if (o.file) {
      try {
        this.loaded = digest(readFileSync(o.file, 'utf8'));
      } catch {
        /* read at start by the configuration; a later reload says what is wrong */
      }
    }
  }

  /** The keys now (what the auth middleware checks each request against). */
  readonly current = (): readonly ApiKey[] => this.keys;

  get reloadable(): boolean {
    return this.o.file !== undefined;
  }

  /**
   * Re-reads the file. On SIGHUP the set is rebuilt and logged even when the file is unchanged; on a
   * file change whose content is what is loaded (a `touch`) nothing happens, unless the last
   * attempt failed (then the recovery is logged).
   */
  reload(trigger: 'SIGHUP' | 'file_changed' | string = 'SIGHUP'): ReloadResult {
    const file = this.o.file;
    if (!file) return 'unchanged';
    const fail = (reason: string, refused = false): ReloadResult => {
      this.lastFailed = true;
      this.o.log('api_keys_reload_failed', { file, trigger, reason, kept: this.keys.map((k) => k.name) });
      return refused ? 'refused' : 'failed';
    };
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      return fail((e as Error).message);
    }
    const hash = digest(text);
    if (trigger === 'file_changed' && hash === this.loaded && !this.lastFailed) return 'unchanged';
    let fromFile: ApiKey[];
    try {
      fromFile = parseKeys(text, file);
    } catch (e) {
      if (e instanceof AuthConfigError) return fail(e.message.startsWith(`${file}: `) ? e.message.slice(file.length + 2) : e.message);
      throw e;
    }
    const next = [...(this.o.fixed ?? []), ...fromFile];
    const names = new Set<string>();
    for (const k of next) {
      if (names.has(k.name)) return fail(`key name "${k.name}" is also in DRIFTWATCH_API_KEYS`);
      names.add(k.name);
    }
    if (next.length === 0 && this.keys.length > 0) {
      return fail(
        isLoopback(this.o.host)
          ? 'the file has no keys: that would switch authentication off and open the collector to anyone on this machine, the revoked keys included; keeping the previous keys (restart without keys to run open, or replace the keys instead)'
          : `the file has no keys and the collector listens on ${this.o.host}, which is not loopback: at least one key is required there; keeping the previous keys`,
        true,
      );
    }
    const before = new Set(this.keys.map((k) => k.name));
    const wasOpen = this.keys.length === 0;
    this.keys = next;
    this.loaded = hash;
    this.lastFailed = false;
    this.o.log('api_keys_reloaded', {
      file,
      trigger,
      count: next.length,
      keys: next.map((k) => k.name),
      added: next.filter((k) => !before.has(k.name)).map((k) => k.name),
      removed: [...before].filter((n) => !names.has(n)),
      ...(wasOpen && next.length > 0 ? { auth: 'enabled' } : {}),
    });
    return 'reloaded';
  }

  /** Polls the file for changes (not keeping the process alive). */
  watch(): void {
    if (!this.o.file || this.watching) return;
    this.watching = true;
    watchFile(this.o.file, { interval: this.o.pollMs ?? 1000, persistent: false }, this.onChange);
  }

  close(): void {
    if (!this.o.file || !this.watching) return;
    this.watching = false;
    unwatchFile(this.o.file, this.onChange);
  }
}
