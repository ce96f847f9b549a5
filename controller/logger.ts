// pino logs: JSON for log collectors, files and pipes; readable lines (pino-pretty) when a person
// watches a terminal. Redaction is the last line of defence: secret values should never be handed
// to a logger in the first place, but if a Secret object or a credential field slips in, it is
// censored. pino redacts before it serializes, so the pretty printer only ever sees censored JSON.
import { createRequire } from 'node:module';
import { pino, type Logger as PinoLogger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';

export type Logger = PinoLogger;
export type LogFormat = 'json' | 'pretty';

export const redactedPaths = [
  'data', '*.data', '*.*.data', 'stringData', '*.stringData',
  'password', '*.password', '*.*.password',
  'token', '*.token', '*.*.token',
  'privateKey', '*.privateKey', '*.*.privateKey',
  'tls.key', '*.tls.key', 'passphrase', '*.passphrase',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'secret', '*.secret', '*.*.secret',
];

/** pretty when `stream` is a terminal, json otherwise; LOG_FORMAT=json|pretty decides instead. */
export function defaultLogFormat(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): LogFormat {
  const wanted = env.LOG_FORMAT;
  if (wanted === 'json' || wanted === 'pretty') return wanted;
  return stream.isTTY ? 'pretty' : 'json';
}

export function createLogger(opts: { level?: string; name?: string; destination?: NodeJS.WritableStream; format?: LogFormat } = {}): Logger {
  const format = opts.format ?? (opts.destination ? 'json' : defaultLogFormat());
  return pino(
    {
      name: opts.name ?? 'outrigger',
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: redactedPaths, censor: '[REDACTED]' },
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // JSON carries level names ("info") for collectors; pino-pretty reads pino's numbers.
      ...(format === 'json' ? { formatters: { level: (label: string) => ({ level: label }) } } : {}),
    },
    format === 'pretty'
      ? prettyStream(opts.destination)
      : (opts.destination as pino.DestinationStream | undefined) ?? pino.destination({ sync: false }),
  );
}

/**
 * pino-pretty in this process (not a worker transport), so lines are written in order with the
 * rest of the output and flushed on exit. Required only when wanted: a controller in a cluster
 * logs JSON and never loads it.
 */
function prettyStream(destination: NodeJS.WritableStream | undefined): pino.DestinationStream {
  const build = createRequire(import.meta.url)('pino-pretty') as (o: PrettyOptions) => pino.DestinationStream;
  return build({
    ...(destination ? { destination, colorize: false } : {}),
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'name',
    // One line per entry with its fields as compact JSON; an `err` goes on an indented line below.
    singleLine: true,
  });
}

/** A logger that drops everything, for unit tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
