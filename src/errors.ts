/**
 * paddock's errors, and the one place they become HTTP statuses and CLI lines.
 *
 * Three kinds: a `UserError` is something the caller can fix (a broken definition, a bad
 * request, a wrong token); a `TransientError` may pass by itself (the remote is unreachable);
 * anything else is a bug, reported as such and never blamed on the caller.
 */

/** Every code paddock answers with, and its HTTP status. */
const HTTP_STATUS = {
  InvalidDefinition: 400,
  InvalidObject: 400,
  InvalidState: 500,
  BadRequest: 400,
  InvalidTemplate: 400,
  DisallowedObject: 400,
  InvalidSize: 400,
  InvalidPublicKey: 400,
  Unauthorized: 401,
  OwnerMismatch: 401,
  Forbidden: 403,
  DomainNotAllowed: 403,
  WrongGroup: 403,
  NotFound: 404,
  UnknownService: 404,
  UnknownContext: 404,
  UnknownGroup: 404,
  UnknownResource: 404,
  NoFreeResource: 404,
  AlreadyReleased: 409,
  StateMismatch: 409,
  Conflict: 409,
  NoPortLeft: 409,
  MassRemovalRefused: 409,
  PayloadTooLarge: 413,
  UriTooLong: 414,
  UnsupportedMediaType: 415,
  InvalidConfig: 400,
  /** This writer disagrees with the repo's settings or GC secret: not the caller's to fix. */
  SettingsMismatch: 503,
  GcSecretMissing: 503,
  GcSecretMismatch: 503,
  /** `paddock verify`: a commit the definitions and its `state/` do not reproduce. */
  NotReproducible: 409,
  RemoteUnavailable: 503,
  RemoteRejected: 503,
  /** A probe: this process cannot do its work yet (`/readyz`). */
  NotReady: 503,
  Internal: 500,
} as const;

export type ErrorCode = keyof typeof HTTP_STATUS;

/** The caller can fix it; the message says what and where, in one line. */
export class UserError extends Error {
  public readonly kind = 'user' as const;
  constructor(public readonly code: ErrorCode, message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** A broken definition: names the file and, where known, the construct path and field. */
export class DefinitionError extends UserError {
  constructor(public readonly file: string, public readonly detail: string, code: 'InvalidDefinition' | 'InvalidObject' = 'InvalidDefinition') {
    super(code, `${file}: ${detail}`);
    this.name = 'DefinitionError';
  }
}

/** May pass by itself (remote unreachable, lock contention): retry later. */
export class TransientError extends Error {
  public readonly kind = 'transient' as const;
  constructor(public readonly code: ErrorCode, message: string, public readonly retryAfterSeconds = 5, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

export interface HttpError {
  readonly status: number;
  readonly body: { readonly error: string; readonly code: string };
  readonly headers: Record<string, string>;
}

/** The HTTP answer for any error. Bugs become 500 without their details, naming `requestId`, under which the log has them. */
export function httpErrorOf(e: unknown, requestId?: string): HttpError {
  if (e instanceof UserError) return { status: HTTP_STATUS[e.code], body: { error: e.message, code: e.code }, headers: {} };
  if (e instanceof TransientError) {
    return {
      status: HTTP_STATUS[e.code],
      body: { error: e.message, code: e.code },
      headers: { 'retry-after': String(Math.max(1, Math.ceil(e.retryAfterSeconds))) },
    };
  }
  return { status: 500, body: { error: `internal error; its cause is in paddock's log${requestId ? ` under request ${requestId}` : ''}`, code: 'Internal' }, headers: {} };
}

/** One line for the terminal and the exit code: 1 for what the user can fix or wait out, 70 for a bug. */
export function cliErrorOf(e: unknown): { line: string; exitCode: number } {
  if (e instanceof UserError || e instanceof TransientError) return { line: `paddock: ${e.message}`, exitCode: 1 };
  const err = e as Error;
  return { line: `paddock: internal error: ${err?.stack ?? String(e)}`, exitCode: 70 };
}

/** The first line of an error's message (a definition's error may go on with a code frame). */
export function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}

/** An error's message folded into one line of at most `max` characters (git spreads one error over several). */
export function oneLine(e: unknown, max = 300): string {
  const text = String((e as Error)?.message ?? e).split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
