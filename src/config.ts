/**
 * Configuration: every setting is an environment variable and a CLI flag (the flag wins).
 * Secrets come from the environment or from files, never from the repo, and are never logged.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { UserError } from './errors.ts';
import { DEFAULT_SIDECAR_URL } from '../core/context.ts';

export const DEFAULTS = {
  branch: 'main',
  sidecarUrl: DEFAULT_SIDECAR_URL,
  listen: '127.0.0.1:8080',
  nodeportRange: '30000-32767',
  leaseExpiry: '30m',
  definitions: 'environments',
  argoNamespace: 'argocd',
  argoProject: 'paddock',
  upRepo: '.paddock/manifests.git',
} as const;

/** The flag's value, else the environment variable's, else the default. */
export function setting(flag: string | undefined, envName: string, fallback: string): string;
export function setting(flag: string | undefined, envName: string, fallback?: string): string | undefined;
export function setting(flag: string | undefined, envName: string, fallback?: string): string | undefined {
  if (flag !== undefined && flag !== '') return flag;
  const env = process.env[envName];
  return env !== undefined && env !== '' ? env : fallback;
}

/** A secret from the environment variable or from a file (trailing newline dropped). */
export function secret(envName: string, file: string | undefined): string | undefined {
  if (file) {
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (!value) throw new UserError('InvalidConfig', `${file}: the secret file is empty`);
      return value;
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError('InvalidConfig', `${file}: cannot read the secret file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  const v = process.env[envName];
  return v ? v.trim() : undefined;
}

/** Comma-separated bearer tokens, blanks dropped. */
export function tokenList(value: string | undefined): string[] {
  return (value ?? '').split(/[,\n]/).map((t) => t.trim()).filter(Boolean);
}

/** `H:P` -> host and port. */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || port > 65535) throw new UserError('InvalidConfig', `--listen "${value}" must be HOST:PORT, e.g. 127.0.0.1:8080`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/** A listen failure as the user's error: the address in use, not this machine's, or not allowed. Others unchanged. */
export function listenError(value: string, e: unknown): unknown {
  const why = LISTEN_FAILURES[(e as NodeJS.ErrnoException)?.code ?? ''];
  return why ? new UserError('InvalidConfig', `--listen "${value}": ${why}`) : e;
}

const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: 'the address is in use (another paddock, or another server, listens there)',
  EADDRNOTAVAIL: 'no interface of this machine has that address',
  EACCES: 'not allowed (a port below 1024 needs privileges)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
};

/** Fails, with the user's error, when `value` cannot be listened on: checked before anything is committed. */
export async function checkListen(value: string): Promise<void> {
  const { host, port } = parseListen(value);
  if (port === 0) return;
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, resolve);
    });
  } catch (e) {
    throw listenError(value, e);
  } finally {
    if (server.listening) await new Promise((r) => server.close(r));
  }
}

/** `30000-32767` -> bounds. */
export function parseRange(value: string, what: string): { min: number; max: number } {
  const m = /^(\d+)-(\d+)$/.exec(value.trim());
  const min = Number(m?.[1]);
  const max = Number(m?.[2]);
  if (!m || min > max || max > 65535) throw new UserError('InvalidConfig', `${what} "${value}" must be MIN-MAX, e.g. 30000-32767`);
  return { min, max };
}

/**
 * `PADDOCK_LEASE_USERS`: `user:password` pairs, comma or newline separated, for the Boskos
 * client's basic auth (`NewClient(owner, url, username, passwordFile)`). A bad entry is named
 * by its position, never by its text (it holds a password).
 */
export function parseLeaseUsers(value: string | undefined): ReadonlyMap<string, string> {
  const users = new Map<string, string>();
  tokenList(value).forEach((entry, i) => {
    const at = entry.indexOf(':');
    if (at < 1 || at === entry.length - 1) throw new UserError('InvalidConfig', `PADDOCK_LEASE_USERS: entry ${i + 1} is not user:password`);
    users.set(entry.slice(0, at), entry.slice(at + 1));
  });
  return users;
}
