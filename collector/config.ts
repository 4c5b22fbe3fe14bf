// Collector configuration from the environment and, optionally, a file (DRIFTWATCH_CONFIG: YAML or
// JSON whose keys are the same variable names; the environment wins). Validated at start: a bad
// value fails fast with the variable's name, where it came from, and the reason.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AuthConfigError, loadKeys, type ApiKey } from './auth.js';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

const EnvSchema = z.object({
  DRIFTWATCH_PORT: int(4318, 0).refine((p) => p <= 65535, 'must be a port number'),
  DRIFTWATCH_HOST: z.string().min(1).default('127.0.0.1'),
  DRIFTWATCH_DATA_DIR: z.string().min(1).default('./data'),
  DRIFTWATCH_RULES: z.string().default('rules/examples'),
  CLICKHOUSE_URL: z.string().url().optional(),
  DRIFTWATCH_RETENTION_DAYS: int(30, 1),
  /** Rows of a new model version that become its drift baseline. */
  DRIFTWATCH_BASELINE_ROWS: int(1000, 10),
  DRIFTWATCH_MAX_BODY_BYTES: int(32 * 1024 * 1024, 1024),
  /** Where batches wait while ClickHouse is unavailable; default <data dir>/spool. */
  DRIFTWATCH_SPOOL_DIR: z.string().min(1).optional(),
  DRIFTWATCH_SPOOL_MAX_BYTES: int(1024 * 1024 * 1024, 1024),
  DRIFTWATCH_MAX_UPLOAD_BYTES: int(256 * 1024 * 1024, 1024),
  DRIFTWATCH_MAX_MODELS: int(1000, 1),
  DRIFTWATCH_MAX_FEATURES_PER_MODEL: int(2000, 1),
  /** Cluster name for ON CLUSTER DDL and Replicated engines (a ClickHouse server only). */
  DRIFTWATCH_CLICKHOUSE_CLUSTER: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only').optional(),
});

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  rulesPath: string;
  clickhouseUrl?: string;
  retentionDays: number;
  baselineRows: number;
  maxBodyBytes: number;
  spoolDir?: string;
  spoolMaxBytes?: number;
  maxUploadBytes?: number;
  maxModels?: number;
  maxFeaturesPerModel?: number;
  cluster?: string;
  /** Empty: no authentication, and then only a loopback address may be used. */
  apiKeys?: ApiKey[];
  /**
   * DRIFTWATCH_API_KEYS_FILE: re-read on SIGHUP and when it changes. The key set is then
   * `envApiKeys` plus the file's keys.
   */
  apiKeysFile?: string;
  /** The keys of DRIFTWATCH_API_KEYS, which a reload of the file keeps. */
  envApiKeys?: ApiKey[];
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Only these addresses may be listened on without API keys. */
export const isLoopback = (host: string) => LOOPBACK.test(host);

export class ConfigError extends Error {}

function configFile(path: string): Record<string, string> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ConfigError(`DRIFTWATCH_CONFIG: ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`DRIFTWATCH_CONFIG: ${path}: must be a mapping of setting names to values`);
  const known = new Set([...Object.keys(EnvSchema.shape), 'DRIFTWATCH_API_KEYS', 'DRIFTWATCH_API_KEYS_FILE']);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!known.has(k)) throw new ConfigError(`DRIFTWATCH_CONFIG: ${path}: unknown setting "${k}"`);
    out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

export function loadConfig(processEnv: NodeJS.ProcessEnv = process.env): Config {
  const fromFile = processEnv.DRIFTWATCH_CONFIG ? configFile(processEnv.DRIFTWATCH_CONFIG) : {};
  const fromEnv = Object.fromEntries(Object.entries(processEnv).filter(([, v]) => v !== undefined && v !== ''));
  const env: NodeJS.ProcessEnv = { ...fromFile, ...fromEnv };
  const r = EnvSchema.safeParse(env);
  if (!r.success) {
    throw new ConfigError(
      r.error.issues
        .map((i) => {
          const name = i.path.join('.');
          const where = name in fromEnv ? '' : name in fromFile ? ` (in ${processEnv.DRIFTWATCH_CONFIG})` : '';
          return `${name}${where}: ${i.message}`;
        })
        .join('; '),
    );
  }
  const e = r.data;
  let apiKeys: ApiKey[];
  let envApiKeys: ApiKey[];
  try {
    apiKeys = loadKeys(env);
    envApiKeys = loadKeys({ DRIFTWATCH_API_KEYS: env.DRIFTWATCH_API_KEYS });
  } catch (err) {
    if (err instanceof AuthConfigError) throw new ConfigError(err.message);
    throw err;
  }
  if (e.DRIFTWATCH_CLICKHOUSE_CLUSTER && !e.CLICKHOUSE_URL) {
    throw new ConfigError('DRIFTWATCH_CLICKHOUSE_CLUSTER: needs CLICKHOUSE_URL (the embedded engine is a single node)');
  }
  if (apiKeys.length === 0 && !isLoopback(e.DRIFTWATCH_HOST)) {
    throw new ConfigError(
      `DRIFTWATCH_HOST: "${e.DRIFTWATCH_HOST}" is not a loopback address and no API keys are configured; ` +
        'set DRIFTWATCH_API_KEYS or DRIFTWATCH_API_KEYS_FILE before listening beyond this machine',
    );
  }
  return {
    apiKeys,
    apiKeysFile: env.DRIFTWATCH_API_KEYS_FILE,
    envApiKeys,
    port: e.DRIFTWATCH_PORT,
    host: e.DRIFTWATCH_HOST,
    dataDir: e.DRIFTWATCH_DATA_DIR,
    rulesPath: e.DRIFTWATCH_RULES,
    clickhouseUrl: e.CLICKHOUSE_URL,
    retentionDays: e.DRIFTWATCH_RETENTION_DAYS,
    baselineRows: e.DRIFTWATCH_BASELINE_ROWS,
    maxBodyBytes: e.DRIFTWATCH_MAX_BODY_BYTES,
    spoolDir: e.DRIFTWATCH_SPOOL_DIR,
    spoolMaxBytes: e.DRIFTWATCH_SPOOL_MAX_BYTES,
    maxUploadBytes: e.DRIFTWATCH_MAX_UPLOAD_BYTES,
    maxModels: e.DRIFTWATCH_MAX_MODELS,
    maxFeaturesPerModel: e.DRIFTWATCH_MAX_FEATURES_PER_MODEL,
    cluster: e.DRIFTWATCH_CLICKHOUSE_CLUSTER,
  };
}
