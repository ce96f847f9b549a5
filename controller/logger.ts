// pino JSON logs. Redaction is the last line of defence: secret values should never be handed to a
// logger in the first place, but if a Secret object or a credential field slips in, it is censored.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export const redactedPaths = [
  'data', '*.data', '*.*.data', 'stringData', '*.stringData',
  'password', '*.password', '*.*.password',
  'token', '*.token', '*.*.token',
  'privateKey', '*.privateKey', '*.*.privateKey',
  'tls.key', '*.tls.key', 'passphrase', '*.passphrase',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'secret', '*.secret', '*.*.secret',
];

export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: opts.name ?? 'outrigger',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: redactedPaths, censor: '[REDACTED]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    (opts.destination as pino.DestinationStream | undefined) ?? pino.destination({ sync: false }),
  );
}

/** A logger that drops everything, for unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
