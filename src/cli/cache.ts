/**
 * paddock's cache on the user's machine (`$PADDOCK_CACHE_DIR`, else `$XDG_CACHE_HOME/paddock`,
 * else `~/.cache/paddock`): fetched copies of manifests repos that one-shot commands reuse, so a
 * call fetches what changed since the last instead of the whole repo.
 *
 * - `repos/<key>.git`: the bare copy `paddock status` reads.
 * - `work/<key>`: the committer's work tree for `push`, `demolish`, `revive` and `settings`. One
 *   command at a time holds it (a lock file naming its process); another command meanwhile, or
 *   one that finds the lock of a live process, works in a temp dir of its own as before.
 */
import { linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { processAlive } from '../watch/lock.ts';

function cacheRoot(): string {
  return process.env.PADDOCK_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'paddock');
}

/** A key for a repo (and branch) that is safe as a file name. */
function keyOf(...parts: string[]): string {
  return Buffer.from(parts.join('\0')).toString('base64url').slice(-48);
}

/** Where `paddock status` keeps its fetched copy of `repo`. */
export function statusCopyDir(repo: string): string {
  return path.join(cacheRoot(), 'repos', `${keyOf(repo)}.git`);
}

/**
 * The cached work tree for `repo`'s `branch`, held by this process until `release`; undefined
 * when another live process holds it (or the cache cannot be written): use a temp dir then.
 */
export function claimWorkDir(repo: string, branch: string): { readonly dir: string; release(): void } | undefined {
  const dir = path.join(cacheRoot(), 'work', keyOf(repo, branch));
  const lock = `${dir}.lock`;
  try {
    mkdirSync(path.dirname(dir), { recursive: true });
    if (!takeLock(lock)) return undefined;
  } catch {
    return undefined;
  }
  let held = true;
  const release = () => {
    if (held) rmSync(lock, { force: true });
    held = false;
  };
  process.once('exit', release);
  return { dir, release };
}

/**
 * How old a `.break` file must be before it is taken for the leftover of a crashed takeover (one
 * takes microseconds). Its removal is check-then-act: it could remove a new breaker made in
 * between, which takes a crash inside a takeover and then three processes within that instant.
 */
const BREAK_STALE_MS = 60_000;

/**
 * Creates `lock` naming this process; takes over the lock of a process that is gone. The file
 * appears whole (linked from a temp file holding the pid), so no one reads it empty. Taking a
 * dead process's lock over goes through `<lock>.break`, held by one process at a time: two
 * processes that both found it dead would otherwise each remove it, the second removing the
 * first's new lock, and both would work in the same tree.
 */
function takeLock(lock: string): boolean {
  const tmp = `${lock}.${process.pid}.tmp`;
  writeFileSync(tmp, String(process.pid));
  try {
    if (link(tmp, lock)) return true;
    if (processAlive(lockOwner(lock) ?? 0)) return false;
    const breaker = `${lock}.break`;
    if (!link(tmp, breaker)) {
      // Another process is taking it over; a breaker that is left over from a crash goes now.
      if (Date.now() - mtimeOf(breaker) > BREAK_STALE_MS) rmSync(breaker, { force: true });
      return false;
    }
    try {
      // Only a process holding the breaker removes a lock, so a lock read here stays until then.
      // None at all (its holder let go meanwhile) is not one to remove: any process may make one
      // now, and the link below then fails.
      const owner = lockOwner(lock);
      if (owner === undefined) return link(tmp, lock);
      if (processAlive(owner)) return false;
      rmSync(lock, { force: true });
      return link(tmp, lock);
    } finally {
      rmSync(breaker, { force: true });
    }
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Hard-links `from` at `to`: false when `to` exists. */
function link(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** The pid a lock names (0 when it names none); undefined when there is no lock. */
function lockOwner(lock: string): number | undefined {
  try {
    return Number(readFileSync(lock, 'utf8').trim()) || 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return 0;
  }
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}
