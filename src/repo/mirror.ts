/**
 * The committer's copy of the repo as last seen: the tip, every file, the parsed `state/`. A
 * sync fetches and, when the remote moved, moves the work tree there and reloads only what
 * changed since the tip it knew (all of it the first time); what other writers changed is
 * handed to `onFollow`.
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
  /** The work tree and index hold a commit the remote may not have: move before the next cycle. */
  ahead = false;
  private started?: Promise<void>;

  constructor(readonly tree: WorkTree, private readonly opts: { readonly ownsDir: boolean; readonly onFollow?: (paths: readonly string[]) => void }) {}

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

  /** Fetches; when the remote tip moved (or the work tree is ahead), moves there and reloads. */
  async sync(): Promise<{ snapshot: Snapshot; moved: boolean }> {
    const remoteHead = await this.tree.fetchTip();
    const prev = this.current;
    if (prev && prev.head === remoteHead && !this.ahead) {
      this.seenAt = performance.now();
      return { snapshot: prev, moved: false };
    }
    // Leftovers exist only after a cycle that wrote files but did not push.
    await this.tree.moveTo(remoteHead, this.ahead || (!prev && !this.opts.ownsDir));
    let files: Map<string, string>;
    let state: StateRecords;
    let followed: string[] = [];
    if (prev?.head && remoteHead) {
      // Follow the remote: read and parse only what changed since the tip we knew.
      const changed = await this.tree.changedBetween(prev.head, remoteHead);
      const changes = new Map<string, string | null>();
      await Promise.all(changed.map(async (p) => changes.set(p, await this.tree.read(p))));
      files = new Map(prev.files);
      for (const [p, c] of changes) {
        if (c === null) files.delete(p);
        else files.set(p, c);
      }
      state = patchState(prev.state, changes);
      followed = changed;
    } else {
      files = new Map();
      if (remoteHead) {
        const listed = await this.tree.listFiles();
        await Promise.all(listed.map(async (p) => files.set(p, (await this.tree.read(p)) ?? '')));
      }
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
