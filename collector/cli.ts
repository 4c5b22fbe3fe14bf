// `driftwatch collector`: start, log, and drain on SIGTERM/SIGINT.
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { startCollector } from './main.js';
import { RuleFileError } from '../rules/engine/load.js';

/** Resolves -1 while the collector runs (the process stays up); exits on a signal. */
export async function runCollectorCli(): Promise<number> {
  const log = createLogger();
  let collector;
  try {
    collector = await startCollector(loadConfig(), log);
  } catch (e) {
    if (e instanceof ConfigError) console.error(`driftwatch collector: bad configuration: ${e.message}`);
    else if (e instanceof RuleFileError) console.error(`driftwatch collector: bad rule file(s):\n${e.message}`);
    else console.error(`driftwatch collector: could not start: ${(e as Error).message}`);
    return 1;
  }
  const c = collector;
  const stop = (signal: string) => {
    log('collector_stopping', { signal });
    void c.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return -1;
}
