/**
 * A repository's branch kept checked out in a directory of paddock's own, published the way
 * git-sync publishes a tree: each new tip is checked out beside the last one, then the `current`
 * symlink is swapped to it in one rename (`paddock watch --definitions-repo`). The definitions
 * loader reads `current/...`, the file watch sees the link move (watch/files.ts), and each tree is
 * a worktree of a bare copy with the branch's history, so `checkoutCommit` names the commit it
 * holds and the commits before it can be told apart from later ones.
 */
import { readdirSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { createGit, initBareRepo, runGit } from './process.ts';

/** The trees kept: the current one, and the one before it for a reader that started on it a moment ago. */
const KEPT_TREES = 2;
/** The ref the fetched branch is kept under. */
const FETCHED = 'refs/paddock/definitions';

export class PublishedCheckout {
  private readonly gitDir: string;
  private tip?: string;
  private started?: Promise<void>;
  /** The trees published, newest first. */
  private published: string[] = [];

  /** `branch` undefined: the remote's default branch (its HEAD). */
  constructor(readonly root: string, readonly url: string, private readonly branch?: string) {
    this.gitDir = path.join(root, 'repo.git');
  }

  /** Where the checked-out tree is published. */
  get current(): string {
    return path.join(this.root, 'current');
  }

  /**
   * Fetches the branch; when its tip moved (or on the first call), checks the tip out and swaps
   * `current` to it. Returns the tip and whether `current` moved. Throws git's error when the
   * remote cannot be fetched; `current` then stays as it was.
   */
  async update(): Promise<{ readonly tip: string; readonly moved: boolean }> {
    this.started ??= initBareRepo(this.gitDir, 'main');
    await this.started;
    const git = createGit(this.gitDir);
    // The whole history, kept under a ref: a writer tells older definitions from newer by it
    // (repo/definitions-order.ts).
    await git.raw(['fetch', '--no-tags', this.url, `+${this.branch ? `refs/heads/${this.branch}` : 'HEAD'}:${FETCHED}`]);
    const tip = (await git.raw(['rev-parse', `${FETCHED}^{commit}`])).trim();
    if (tip === this.tip) return { tip, moved: false };
    const tree = `rev-${tip}`;
    const made = await runGit(this.gitDir, ['worktree', 'add', '--force', '--detach', path.join(this.root, tree), tip], '');
    if (made.code !== 0 && !/already exists/.test(made.err)) throw new Error(`git worktree add ${tree} failed: ${made.err.trim()}`);
    // A new link renamed over the old one: a reader sees the old tree or the new, never neither.
    const link = `${this.current}.tmp`;
    rmSync(link, { force: true });
    symlinkSync(tree, link);
    renameSync(link, this.current);
    this.tip = tip;
    await this.prune(tree);
    return { tip, moved: true };
  }

  /** Removes the trees before the last KEPT_TREES (newest `keep` is the one just published). */
  private async prune(keep: string): Promise<void> {
    const trees = readdirSync(this.root, { withFileTypes: true }).filter((e) => e.isDirectory() && e.name.startsWith('rev-')).map((e) => e.name);
    this.published = [keep, ...this.published.filter((t) => t !== keep)];
    for (const t of trees.filter((t) => !this.published.slice(0, KEPT_TREES).includes(t))) {
      await runGit(this.gitDir, ['worktree', 'remove', '--force', path.join(this.root, t)], '');
      rmSync(path.join(this.root, t), { recursive: true, force: true });
    }
    this.published = this.published.slice(0, KEPT_TREES);
  }
}
