// `driftwatch collector`: start, log, and drain on SIGTERM/SIGINT (also when the signal arrives
// while the collector is still starting). With DRIFTWATCH_API_KEYS_FILE, SIGHUP re-reads the keys
// (without it SIGHUP keeps its default: it ends the process, as it always did).
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './log.js';
import { startCollector, type Collector } from './main.js';
import { RuleFileError } from '../rules/engine/load.js';

/** Resolves -1 while the collector runs (the process stays up); exits on a signal. */
export async function runCollectorCli(): Promise<number> {
  const log = createLogger();
  let collector: Collector | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('collector_stopping', { signal });
    if (collector) void collector.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  let hupWhileStarting = false;
  try {
    const config: Config = loadConfig();
    if (config.apiKeysFile) {
      process.on('SIGHUP', () => {
        if (collector) collector.reloadKeys('SIGHUP');
        else hupWhileStarting = true;
      });
    }
    collector = await startCollector(config, log);
  } catch (e) {
    if (e instanceof ConfigError) console.error(`driftwatch collector: bad configuration: ${e.message}`);
    else if (e instanceof RuleFileError) console.error(`driftwatch collector: bad rule file(s):\n${e.message}`);
    else console.error(`driftwatch collector: could not start: ${(e as Error).message}`);
    return 1;
  }
  if (stopping) {
    await collector.close();
    return 0;
  }
  if (hupWhileStarting) collector.reloadKeys('SIGHUP');
  return -1;
}
