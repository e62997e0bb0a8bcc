/**
 * Reads that never wait for writes. A read (the sidecar's `GET /api/releases`, `GET
 * /api/workspaces`) asks the remote for its tip (`remoteTip`: one `ls-remote`, or a look at a
 * git:// remote's refs): when that is the commit the committer last fetched or pushed, its view
 * answers at once; when another writer moved the branch, the new tip is fetched into a bare copy
 * of its own (under the work tree's `.git/`) and read there, changed files only, while the work
 * tree stays the cycle's. A burst of reads
 * shares one check that started after each of them, so a read made after a write was
 * acknowledged sees that write. When the remote does not answer, the newest view seen is served
 * (`stale` names why) rather than waiting out the writers' backoff.
 *
 * Owns: the read copy. Must not touch: the work tree, the queue.
 */
import path from 'node:path';
import { parseState, patchState } from '../synth/state.ts';
import { coalesced } from '../coalesce.ts';
import { oneLine } from '../errors.ts';
import { classifyGitError, RepoReader, remoteTip, unavailableError } from './git/index.ts';
import type { Snapshot } from './mirror.ts';
import type { Logger, RepoView } from './types.ts';

export interface ReadsOptions {
  readonly url: string;
  readonly branch: string;
  /** The bare read copy's directory. */
  readonly dir: string;
  /** The work tree's objects, which the read copy reads rather than fetches again. */
  readonly borrow?: string;
  /** The committer's view, and when its tip was last seen at the remote (performance.now()). */
  readonly committed: () => { readonly view: RepoView; readonly seenAt: number };
  readonly log: Logger;
}

/** The repo for a reader: a view, and why it may be old when the remote did not answer. */
export type ReadView = RepoView & { readonly stale?: string };

const EMPTY: Snapshot = { head: undefined, files: new Map(), state: parseState(new Map()) };

export class Reads {
  /** The newest tip fetched into the read copy, and when. */
  private own?: { readonly snapshot: Snapshot; readonly seenAt: number };

  constructor(private readonly opts: ReadsOptions) {}

  /** The repo at the remote's tip now (see the module comment). */
  readonly latest: () => Promise<ReadView> = coalesced(() => this.check());

  private async check(): Promise<ReadView> {
    let tip: string | undefined;
    try {
      tip = await remoteTip(this.opts.url, this.opts.branch);
    } catch (e) {
      return this.newestSeen(e);
    }
    const committed = this.opts.committed();
    if (committed.view.head === tip && tip !== undefined) return committed.view;
    if (tip === undefined) return { ...EMPTY };
    if (this.own?.snapshot.head === tip) return this.own.snapshot;
    try {
      const snapshot = await this.fetch(committed.view);
      this.own = { snapshot, seenAt: performance.now() };
      return snapshot;
    } catch (e) {
      return this.newestSeen(e);
    }
  }

  /** Fetches the branch into the read copy and reads its tip, patching the newest snapshot at hand. */
  private async fetch(committed: RepoView): Promise<Snapshot> {
    const reader = await RepoReader.fetch(this.opts.url, this.opts.dir, this.opts.branch, { borrow: this.opts.borrow });
    const head = await reader.resolve(`refs/heads/${this.opts.branch}`);
    if (!head) return { ...EMPTY };
    for (const base of [this.own?.snapshot, committed]) {
      if (!base?.head || !(await reader.resolve(base.head))) continue;
      const changed = await reader.changedBetween(base.head, head);
      const wanted = new Set(changed);
      const fresh = await reader.files(head, (p) => wanted.has(p));
      const changes = new Map(changed.map((p) => [p, fresh.get(p) ?? null]));
      const files = new Map(base.files);
      for (const [p, text] of changes) {
        if (text === null) files.delete(p);
        else files.set(p, text);
      }
      return { head, files, state: patchState(base.state, changes) };
    }
    const files = await reader.files(head);
    return { head, files, state: parseState(files) };
  }

  /** The newest view seen, marked stale; a read before any view was seen gets the failure. */
  private newestSeen(e: unknown): ReadView {
    const committed = this.opts.committed();
    const newest = this.own && this.own.seenAt > committed.seenAt ? this.own.snapshot : committed.view;
    if (committed.seenAt < 0 && !this.own) throw unavailableError(classifyGitError(e), e);
    const stale = `the manifests repo did not answer (${oneLine(e, 200)}); this is the repo as of ${newest.head?.slice(0, 8) ?? 'its first commit'}`;
    this.opts.log.warn({ err: stale }, 'serving a read from the last view');
    return { ...newest, stale };
  }
}

/**
 * Where a work tree keeps its read copy: inside its `.git`, so it goes with it; and the work
 * tree's objects, which the copy borrows.
 */
export function readCopyOf(workDir: string): { readonly dir: string; readonly borrow: string } {
  return { dir: path.join(workDir, '.git', 'paddock-reads'), borrow: path.join(workDir, '.git', 'objects') };
}
