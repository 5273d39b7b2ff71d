/**
 * One structured JSON logger for the service. Secrets never reach it by design (job data holds references,
 * errors carry no bodies), and redaction is the second line: any field that looks like a credential is
 * censored wherever it appears in the first levels of a log record.
 */
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

const SECRET_FIELDS = ['token', 'password', 'authorization', 'credentials', 'bearer', 'secret', 'cookie'];

/** Paths pino censors: the secret field names at the top level and up to two levels down. */
export const REDACT_PATHS = SECRET_FIELDS.flatMap((field) => [
  field,
  `*.${field}`,
  `*.*.${field}`,
  `headers.${field}`,
  `*.headers.${field}`,
]);

/**
 * A logger writing JSON lines to `destination` (stdout by default), synchronously, so nothing is lost when
 * the process exits right after an error.
 *
 * @param level pino level name.
 * @param bindings Fields on every line (worker name, for instance).
 * @param destination A file descriptor. Default 1.
 * @returns The logger.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}, destination = 1): Logger {
  return pino(
    {
      level,
      base: { service: 'registry-pruner', ...bindings },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: destination, sync: true }),
  );
}
