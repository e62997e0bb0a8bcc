/**
 * The committer's copy of the repo as last seen: the tip, every file, the parsed `state/`. A
 * sync fetches and, when the remote moved, reads only what changed since the tip it knew (all
 * of it the first time) from the work tree's object store; what other writers changed is handed
 * to `onFollow`.
 */
import { mkdir } from 'node:fs/promises';
import type { StateRecords } from '../../core/records.ts';
import { parseState, patchState } from '../synth/state.ts';
import type { WorkTree } from './git/index.ts';

export interface Snapshot {
  readonly head?: string;
  readonly files: Map<string, string>;
  readonly state: StateRecords;
}

export class Mirror {
  /** The repo as last fetched or pushed. */
  current?: Snapshot;
  /** When `current`'s tip was last seen at the remote (performance.now()); -1 before the first sync. */
  seenAt = -1;
  /** A commit was written whose push did not succeed: it may have landed, so fetch before the next cycle. */
  ahead = false;
  private started?: Promise<void>;

  constructor(readonly tree: WorkTree, private readonly opts: { readonly onFollow?: (paths: readonly string[]) => void } = {}) {}

  /** Makes the work tree's repository, once. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await mkdir(this.tree.dir, { recursive: true });
      await this.tree.init();
    })().catch((e) => {
      this.started = undefined;
      throw e;
    });
    return this.started;
  }

  /** Fetches; when the remote tip moved, reads what changed. */
  async sync(): Promise<{ snapshot: Snapshot; moved: boolean }> {
    const remoteHead = await this.tree.fetchTip();
    const prev = this.current;
    if (prev && prev.head === remoteHead) {
      this.seenAt = performance.now();
      this.ahead = false;
      return { snapshot: prev, moved: false };
    }
    let files: Map<string, string>;
    let state: StateRecords;
    let followed: string[] = [];
    if (prev?.head && remoteHead) {
      // Follow the remote: read and parse only what changed since the tip we knew.
      const changes = await this.tree.changes(prev.head, remoteHead);
      files = new Map(prev.files);
      for (const [p, c] of changes) {
        if (c === null) files.delete(p);
        else files.set(p, c);
      }
      state = patchState(prev.state, changes);
      followed = [...changes.keys()];
    } else {
      files = remoteHead ? await this.tree.files(remoteHead) : new Map();
      state = parseState(files);
    }
    this.current = { head: remoteHead, files, state };
    this.seenAt = performance.now();
    this.ahead = false;
    if (followed.length) this.opts.onFollow?.(followed.sort());
    return { snapshot: this.current, moved: true };
  }

  /** The commit of `snapshot` is pushed: it is the tip now. */
  pushed(snapshot: Snapshot): void {
    this.current = snapshot;
    this.seenAt = performance.now();
    this.ahead = false;
  }
}
