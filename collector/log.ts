// Structured logs: one JSON object per line on stdout.
export type Logger = (event: string, fields?: Record<string, unknown>) => void;

export function createLogger(write: (line: string) => void = (l) => process.stdout.write(l + '\n')): Logger {
  return (event, fields = {}) => {
    write(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
  };
}
