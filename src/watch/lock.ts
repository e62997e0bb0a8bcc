/**
 * Leadership without a cluster: a lock file next to the manifests repo's local state, so two
 * watchers on one machine never both commit TTL removals. The holder rewrites the file every
 * `refreshMs`; a lock not refreshed for `staleMs`, or whose process is gone, can be taken over.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Elector {
  /** True while this process leads. */
  readonly leading: boolean;
  /** Who this candidate is (in commit trailers and logs). */
  readonly identity: string;
  /** Tries to become (or stay) the leader; returns whether it leads. */
  tick(): boolean | Promise<boolean>;
  release(): void;
}

export class LockFileElector implements Elector {
  private held = false;
  private readonly me: string;

  constructor(private readonly file: string, private readonly opts: { staleMs?: number; now?: () => number; id?: string } = {}) {
    this.me = opts.id ?? `${process.pid}@${Math.random().toString(36).slice(2, 10)}`;
    mkdirSync(path.dirname(file), { recursive: true });
  }

  get leading(): boolean {
    return this.held;
  }

  get identity(): string {
    return this.me;
  }

  tick(): boolean {
    const now = this.opts.now?.() ?? Date.now();
    const stale = this.opts.staleMs ?? 15_000;
    const holder = this.read();
    if (holder && holder.id !== this.me) {
      const fresh = now - holder.at < stale;
      if (fresh && processAlive(holder.pid)) {
        this.held = false;
        return false;
      }
    }
    // Take or refresh it atomically (write, then rename over the lock), then check we won: of two
    // takers at once the later rename wins, and the other steps down on reading it. Removals are
    // idempotent, so that instant of overlap cannot commit anything twice.
    const tmp = `${this.file}.${this.me}`;
    writeFileSync(tmp, JSON.stringify({ id: this.me, pid: process.pid, at: now }));
    renameSync(tmp, this.file);
    this.held = this.read()?.id === this.me;
    return this.held;
  }

  release(): void {
    if (this.held && this.read()?.id === this.me) rmSync(this.file, { force: true });
    this.held = false;
  }

  private read(): { id: string; pid: number; at: number } | undefined {
    try {
      const v = JSON.parse(readFileSync(this.file, 'utf8'));
      return { id: String(v.id), pid: Number(v.pid), at: Number(v.at ?? statSync(this.file).mtimeMs) };
    } catch {
      return undefined;
    }
  }
}

/** Whether a process with this pid runs (ours to signal or not). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
