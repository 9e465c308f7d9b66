// JSON logs to stdout, one line per entry (no transports: the bundle stays
// self-contained and the container runtime collects stdout).
import { pino, type Logger } from 'pino';
import type { LogLevel } from './process-settings';

export function createLogger(name: string, level: LogLevel): Logger {
  return pino({
    name,
    level,
    base: { controller: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
