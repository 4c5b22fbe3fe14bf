// API keys. Each key has a name (for logs; the secret is never logged), scopes (read, write) and the
// models it may touch (exact names or globs). Keys come from DRIFTWATCH_API_KEYS (JSON) or the file
// named by DRIFTWATCH_API_KEYS_FILE (JSON or YAML). A presented key is hashed and compared with
// every configured key's hash in constant time, so neither its length nor its prefix leaks. The file
// is re-read on SIGHUP and when it changes (keyring.ts): a revoked key fails from the next request on.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { modelMatches } from '../rules/engine/load.js';

export { modelMatches };

export type Scope = 'read' | 'write';

const KeySchema = z.strictObject({
  name: z.string().min(1),
  key: z.string().min(16, 'a key must be at least 16 characters'),
  scopes: z.array(z.enum(['read', 'write'])).min(1),
  models: z.array(z.string().min(1)).min(1).default(['*']),
});
const KeysSchema = z.array(KeySchema);

export interface ApiKey { name: string; hash: Buffer; scopes: Set<Scope>; models: string[] }
export interface Principal { name: string; scopes: Set<Scope>; models: string[] }

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class AuthConfigError extends Error {}

export function parseKeys(text: string, source: string): ApiKey[] {
  let raw: unknown;
  const yaml = source.endsWith('.yaml') || source.endsWith('.yml');
  try {
    raw = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new AuthConfigError(`${source}: not valid ${yaml ? 'YAML' : 'JSON'}: ${syntaxReason(e as Error, text)}`);
  }
  const r = KeysSchema.safeParse(raw);
  if (!r.success) {
    throw new AuthConfigError(r.error.issues.map((i) => `${source}: [${i.path.join('].')}${i.path.length ? '' : ']'}: ${i.message}`.replace('[].', '').replace('[]', '')).join('; '));
  }
  const names = new Set<string>();
  for (const k of r.data) {
    if (names.has(k.name)) throw new AuthConfigError(`${source}: duplicate key name "${k.name}"`);
    names.add(k.name);
  }
  return r.data.map((k) => ({ name: k.name, hash: sha256(k.key), scopes: new Set(k.scopes), models: k.models }));
}

// The parsers quote the text around a syntax error (V8: `Unexpected token 'x', "..." is not valid
// JSON`; yaml: the line under a caret), and here that text holds secrets: only the reason and the
// position are kept.
function syntaxReason(e: Error, text: string): string {
  const yamlPos = (e as { linePos?: { line: number; col: number }[] }).linePos?.[0];
  if (yamlPos) return `${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')} at line ${yamlPos.line}, column ${yamlPos.col}`;
  const at = /at position (\d+)/.exec(e.message);
  const reason = /is not valid JSON$/.test(e.message)
    ? e.message.replace(/, .*$/s, '') // Unexpected token 'x', <quoted text> is not valid JSON
    : e.message.replace(/ (in|after) JSON at position \d+.*$/s, '').split('\n')[0];
  if (!at) return reason;
  const before = text.slice(0, Number(at[1])).split('\n');
  return `${reason} at line ${before.length}, column ${before[before.length - 1].length + 1}`;
}

export function loadKeys(env: NodeJS.ProcessEnv): ApiKey[] {
  const keys: ApiKey[] = [];
  if (env.DRIFTWATCH_API_KEYS) keys.push(...parseKeys(env.DRIFTWATCH_API_KEYS, 'DRIFTWATCH_API_KEYS'));
  if (env.DRIFTWATCH_API_KEYS_FILE) {
    let text: string;
    try {
      text = readFileSync(env.DRIFTWATCH_API_KEYS_FILE, 'utf8');
    } catch (e) {
      throw new AuthConfigError(`DRIFTWATCH_API_KEYS_FILE: ${(e as Error).message}`);
    }
    keys.push(...parseKeys(text, env.DRIFTWATCH_API_KEYS_FILE));
  }
  return keys;
}

export function findKey(keys: readonly ApiKey[], presented: string): ApiKey | undefined {
  const h = sha256(presented);
  let found: ApiKey | undefined;
  // Every key is compared, whatever matched first: the time taken does not depend on which one did.
  for (const k of keys) if (timingSafeEqual(k.hash, h) && !found) found = k;
  return found;
}

function presentedKey(c: Context): string | undefined {
  const auth = c.req.header('authorization');
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  return c.req.header('x-api-key') ?? undefined;
}

/** Everyone may do everything: the collector runs without keys (loopback only). */
export const OPEN: Principal = { name: 'anonymous', scopes: new Set(['read', 'write']), models: ['*'] };

export function can(p: Principal, scope: Scope, model: string): boolean {
  return p.scopes.has(scope) && modelMatches(p.models, model);
}

/**
 * Sets c.var.principal; 401 without a valid key (when keys are configured). `keys` may be a function:
 * it is called per request, so a reloaded key set (keyring.ts) applies from the next request on.
 */
export function authenticate(source: readonly ApiKey[] | (() => readonly ApiKey[])): MiddlewareHandler<{ Variables: { principal: Principal } }> {
  const current = typeof source === 'function' ? source : () => source;
  return async function auth(c, next) {
    const keys = current();
    if (keys.length === 0) {
      c.set('principal', OPEN);
      return next();
    }
    const presented = presentedKey(c);
    const key = presented === undefined ? undefined : findKey(keys, presented);
    if (!key) {
      throw new HTTPException(401, {
        message: presented === undefined ? 'an API key is required (Authorization: Bearer KEY or X-API-Key)' : 'unknown API key',
      });
    }
    c.set('principal', { name: key.name, scopes: key.scopes, models: key.models });
    return next();
  };
}

/**
 * 403 unless the principal has the scope: for the model a route names, for 'all' models (a key
 * whose models include "*"), or for 'some' model (per-record checks follow, as on ingest).
 */
export function requireScope(scope: Scope, model: 'all' | 'some' | ((c: Context) => string)): MiddlewareHandler<{ Variables: { principal: Principal } }> {
  return async function scoped(c, next) {
    const p = c.get('principal');
    let ok: boolean;
    let what: string;
    if (model === 'some') [ok, what] = [p.scopes.has(scope), 'any model'];
    else if (model === 'all') [ok, what] = [p.scopes.has(scope) && p.models.includes('*'), 'all models'];
    else {
      const m = model(c);
      [ok, what] = [can(p, scope, m), `model "${m}"`];
    }
    if (!ok) throw new HTTPException(403, { message: `key "${p.name}" may not ${scope} ${what}` });
    return next();
  };
}
