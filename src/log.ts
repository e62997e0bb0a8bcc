/**
 * paddock's one logger: pino, JSON lines on stderr (`--log-format json`, the default when
 * stderr is not a terminal) or pino-pretty's single text lines (`text`). The sidecar, the
 * watcher and the CLI all write through it.
 *
 * Secrets never reach a line: a GC token rides in the URL path (`/gc/<token>`), an API token
 * or a Boskos password in the Authorization header, a git password in a repo URL. Every message
 * (a hook on the logger), every error (its serializer) and the request URL are passed through
 * `redact` before they are written, and the headers are not logged at all.
 *
 * Owns: the log format, level and redaction. Must not touch: anything it logs about.
 */
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import { UserError } from './errors.ts';

export type { Logger };
export type LogFormat = 'json' | 'text';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'text'];

const REDACTED = '[redacted]';

/**
 * `text` with the secrets it may carry replaced: the token of a `/gc/<token>` path (not a route
 * pattern such as `/gc/:token`), a `token=` / `password=` query value, and the password of a
 * `scheme://user:password@host` URL.
 */
export function redact(text: string): string {
  return text
    .replace(/\/gc\/(?!:)[^/?#\s"']+/g, `/gc/${REDACTED}`)
    .replace(/([?&](?:token|password|secret)=)[^&#\s"']+/gi, `$1${REDACTED}`)
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/[^/:@\s"']+):[^/@\s"']+@/gi, `$1:${REDACTED}@`);
}

/** An error as logged: its type, code and redacted message and stack. */
function errorSerializer(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: redact(String(err)) };
  const e = err as Error & { code?: unknown; cause?: unknown };
  return {
    type: e.name,
    ...(e.code !== undefined ? { code: e.code } : {}),
    message: redact(e.message),
    ...(e.stack ? { stack: redact(e.stack) } : {}),
    ...(e.cause !== undefined ? { cause: errorSerializer(e.cause) } : {}),
  };
}

let format: LogFormat = process.stderr.isTTY ? 'text' : 'json';
let prettyLine: ((line: string) => string) | undefined;
/** pino-pretty's formatter, loaded on the first text line (JSON runs never load it). */
function pretty(line: string): string {
  if (!prettyLine) {
    const { prettyFactory } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
    prettyLine = prettyFactory({ colorize: false, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,component', messageFormat: '{if component}{component}: {end}{msg}' });
  }
  return prettyLine(line);
}

/** The process's logger. Its level and format are set once at start by `configureLogging`. */
export const logger: Logger = pino({
  level: process.env.PADDOCK_LOG_LEVEL ?? 'warn',
  base: undefined,
  serializers: { err: errorSerializer, error: errorSerializer },
  formatters: { level: (label) => ({ level: label }) },
  timestamp: pino.stdTimeFunctions.isoTime,
  // Messages carry errors too (a watcher's "commit failed: <git's words>"): redacted like them.
  hooks: {
    logMethod(args, method, level) {
      method.apply(this, args.map((a) => (typeof a === 'string' ? redact(a) : a)) as Parameters<typeof method>);
      // A warning or an error goes out at once, with what waited before it: a process killed
      // in this turn (a signal, the OOM killer) still leaves the lines that explain it.
      if (level >= WARN) flushLogs();
    },
  },
}, {
  write(line: string) {
    if (format === 'text') process.stderr.write(pretty(line));
    else pend(line);
  },
});

/** pino's number for `warn`. */
const WARN = 40;

/**
 * JSON lines at info and below wait for the end of the event loop's turn and go out in one
 * write: a write to a pipe (a container's log, a test's capture) is a blocking system call in
 * Node, and a sidecar answering 200 requests in a turn would otherwise make 200 of them (8% of
 * its main thread in a burst, measured with the profiler). A turn's lines are written before
 * the next turn starts, when they pass 64 KiB, with the next warning or error, before the CLI
 * prints its error line, and at exit.
 */
const pending: string[] = [];
let pendingBytes = 0;
let flushQueued = false;

function pend(line: string): void {
  pending.push(line);
  pendingBytes += line.length;
  if (pendingBytes > 65_536) flushLogs();
  else if (!flushQueued) {
    flushQueued = true;
    setImmediate(flushLogs).unref();
  }
}

/** Writes the JSON lines waiting for the end of the turn, now. */
export function flushLogs(): void {
  flushQueued = false;
  if (!pending.length) return;
  const text = pending.join('');
  pending.length = 0;
  pendingBytes = 0;
  process.stderr.write(text);
}

process.on('exit', flushLogs);

export interface LogSettings {
  /** `--log-format` (else PADDOCK_LOG_FORMAT, else text on a terminal and json elsewhere). */
  readonly format?: string;
  /** The level when PADDOCK_LOG_LEVEL is not set: info for the long-running commands. */
  readonly defaultLevel?: string;
}

/** Sets the process's log format and level; a format it does not know is refused with its name. */
export function configureLogging(s: LogSettings): void {
  const wanted = s.format ?? process.env.PADDOCK_LOG_FORMAT;
  if (wanted !== undefined) {
    if (!LOG_FORMATS.includes(wanted as LogFormat)) {
      throw new UserError('InvalidConfig', `log format "${wanted}" is not one of ${LOG_FORMATS.join(', ')} (--log-format or PADDOCK_LOG_FORMAT)`);
    }
    format = wanted as LogFormat;
  }
  const level = process.env.PADDOCK_LOG_LEVEL ?? s.defaultLevel;
  if (level !== undefined) {
    if (!logger.levels.values[level] && level !== 'silent') {
      throw new UserError('InvalidConfig', `log level "${level}" is not one of ${Object.keys(logger.levels.values).join(', ')}, silent (PADDOCK_LOG_LEVEL)`);
    }
    logger.level = level;
  }
}

/**
 * A process's output with each JSON log record replaced by its message (what the text format
 * shows after the time and level): how tests and benches read paddock's lines.
 */
export function messagesOf(output: string): string {
  return output.split('\n').map((line) => {
    if (!line.startsWith('{')) return line;
    try {
      const record = JSON.parse(line) as { msg?: unknown };
      return typeof record.msg === 'string' ? record.msg : line;
    } catch {
      return line;
    }
  }).join('\n');
}
