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
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
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

/** Creates `lock` naming this process; takes over the lock of a process that is gone. */
function takeLock(lock: string): boolean {
  for (let tries = 0; tries < 2; tries++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(lock, 'utf8').trim());
      if (processAlive(pid)) return false;
      rmSync(lock, { force: true });
    }
  }
  return false;
}
