/**
 * The committer's work tree: a local clone of one branch of the manifests repo, driven with git
 * plumbing. It fetches the branch's tip, moves the work tree to a tip, reads files, writes a
 * commit on a parent without moving any branch, pushes it by sha, and looks for a commit that
 * may have landed. It knows nothing of intents, synthesis or retries.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SimpleGit } from 'simple-git';
import { isRemoteUrl } from '../../../core/urls.ts';
import { oneLine } from '../../errors.ts';
import { classifyGitError, createGit, isRetryable, isUnclear, type GitFailure } from './process.ts';

/** What git says when the remote has no such branch yet (an empty repo). */
const NO_BRANCH_YET = /couldn't find remote ref|unknown revision|ambiguous argument/i;

/** A local path as an absolute path (git resolves relative remotes against the work dir); URLs unchanged. */
export function remoteUrl(repo: string): string {
  return isRemoteUrl(repo) ? repo : path.resolve(repo);
}

export class WorkTree {
  private readonly git: SimpleGit;
  /** Where the remote branch's tip is kept locally. */
  private readonly tracking: string;

  constructor(readonly dir: string, private readonly repo: string, private readonly branch: string) {
    this.git = createGit(dir);
    this.tracking = `refs/remotes/origin/${branch}`;
  }

  get url(): string {
    return remoteUrl(this.repo);
  }

  /** Makes `dir` a repository. No named remote: fetch and push name the URL (two fewer git commands for a fresh clone). */
  async init(): Promise<void> {
    await this.git.raw(['init', `--initial-branch=${this.branch}`]);
  }

  /** Fetches the branch and returns its tip; undefined while the remote has no such branch (an empty repo). */
  async fetchTip(): Promise<string | undefined> {
    try {
      await this.fetch();
      return (await this.git.revparse([this.tracking])).trim();
    } catch (e) {
      if (!NO_BRANCH_YET.test(String((e as Error).message))) throw e;
      return undefined;
    }
  }

  /** Puts the work tree and index at `head` (an empty tree on the branch when undefined); `clean` also drops untracked files. */
  async moveTo(head: string | undefined, clean: boolean): Promise<void> {
    if (head) {
      await this.git.raw(['reset', '--hard', head]);
    } else {
      await this.git.raw(['read-tree', '--empty']);
      await this.git.raw(['symbolic-ref', 'HEAD', `refs/heads/${this.branch}`]);
      await this.git.raw(['update-ref', '-d', `refs/heads/${this.branch}`]).catch(() => undefined);
    }
    if (clean) await this.git.raw(['clean', '-fdx']);
  }

  /** Paths that differ between two commits. */
  async changedBetween(from: string, to: string): Promise<string[]> {
    return (await this.git.raw(['diff', '--name-only', '-z', '--no-renames', from, to])).split('\0').filter(Boolean);
  }

  /** Every path in the index (the tip the work tree was moved to). */
  async listFiles(): Promise<string[]> {
    return (await this.git.raw(['ls-files', '-z'])).split('\0').filter(Boolean);
  }

  /** The text of `p` in the work tree; null when it is not there. */
  read(p: string): Promise<string | null> {
    return readFile(path.join(this.dir, p), 'utf8').catch(() => null);
  }

  /**
   * Stages `changed` and writes a commit of the index on `parent` with plumbing (update-index,
   * write-tree, commit-tree: each prints, so simple-git never waits on a silent command, and
   * no pathspec matching or diffstat is paid for). The local branch is not moved: the commit is
   * pushed by its sha, and the work tree is moved whenever the remote moves another way.
   */
  async commit(changed: readonly string[], message: readonly string[], parent: string | undefined): Promise<string> {
    for (let i = 0; i < changed.length; i += 1000) {
      await this.git.raw(['update-index', '--verbose', '--add', '--remove', '--', ...changed.slice(i, i + 1000)]);
    }
    const tree = (await this.git.raw(['write-tree'])).trim();
    const paragraphs = message.filter((m) => m.trim()).flatMap((m) => ['-m', m]);
    return (await this.git.raw(['commit-tree', tree, ...(parent ? ['-p', parent] : []), ...paragraphs])).trim();
  }

  /**
   * Pushes `sha` to the branch: a fast-forward, or git's rejection. When git cannot say whether
   * it landed (a timeout, a dropped connection), looks for `sha` or a commit of `requestId`
   * first, and throws `PushUnclear` only when it is not there.
   */
  async push(sha: string, requestId: string): Promise<void> {
    try {
      await this.git.raw(['push', '--verbose', this.url, `${sha}:refs/heads/${this.branch}`]);
    } catch (e) {
      const kind = classifyGitError(e);
      if (isRetryable(kind) || !isUnclear(kind)) throw e;
      if (await this.remoteHas(requestId, sha)) return;
      throw new PushUnclear(kind, e);
    }
  }

  /** Whether the remote branch's last 200 commits hold `sha` or a commit of `requestId` (after a push whose outcome is unclear). */
  async remoteHas(requestId: string, sha: string): Promise<boolean> {
    try {
      await this.fetch();
      const log = await this.git.raw(['log', '-n', '200', '--format=%H%n%B%x00', this.tracking]);
      return log.split('\0').some((entry) => entry.trim().startsWith(sha) || entry.includes(`Paddock-Request-Id: ${requestId}\n`));
    } catch {
      return false;
    }
  }

  /** Asks the remote for its branches; throws when it does not answer. */
  async probe(): Promise<void> {
    await this.git.listRemote(['--heads', this.url]);
  }

  private async fetch(): Promise<void> {
    await this.git.raw(['fetch', '--verbose', '--no-tags', this.url, `+refs/heads/${this.branch}:${this.tracking}`]);
  }
}

/** A push that may or may not have landed, and whose commit is not at the remote: try again from a fetch. */
export class PushUnclear extends Error {
  constructor(readonly kind: GitFailure, cause: unknown) {
    super(`push failed (${kind}): ${oneLine(cause)}`, { cause });
  }
}
