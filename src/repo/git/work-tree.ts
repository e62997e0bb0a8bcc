/**
 * The committer's work tree: a local repository holding one branch of the manifests repo, driven
 * with git plumbing and never checked out. It fetches the branch's tip, reads a commit's files
 * and what changed between two commits from the object store, writes a commit of changed files
 * on a parent through a `git fast-import` kept running (fast-import.ts: no file is written to
 * disk, and a large first commit is one pack rather than thousands of loose objects), pushes it
 * by sha, and looks for a commit that may have landed. It knows nothing of intents, synthesis or
 * retries.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SimpleGit } from 'simple-git';
import { isRemoteUrl } from '../../../core/urls.ts';
import { oneLine } from '../../errors.ts';
import { DaemonPushUnsupported, isGitDaemonUrl, pushToGitDaemon } from './daemon.ts';
import { FastImport } from './fast-import.ts';
import { AUTHOR, classifyGitError, createGit, gcAuto, gitWithInput, isNoBranchYet, isRetryable, isUnclear, runGit, type GitFailure } from './process.ts';
import { readBlobs, remoteTip, treeBlobs } from './reader.ts';

/** How long the work tree's look at the remote's tip may take: as long as any of its git commands (process.ts). */
const GIT_TIMEOUT_MS = 60_000;

/** A local path as an absolute path (git resolves relative remotes against the work dir); URLs unchanged. */
export function remoteUrl(repo: string): string {
  return isRemoteUrl(repo) ? repo : path.resolve(repo);
}

/** Where fast-import leaves the last commit written (so it is reachable until pushed). */
const WRITTEN_REF = 'refs/paddock/written';
/** Where fast-import names the pack it wrote (`--export-pack-edges`). */
const PACK_EDGES = 'paddock-pack-edges';

/**
 * Pushes between two `git gc --auto` runs. Every paddock git command runs with gc.auto=0 (no
 * cycle waits on a repack), and each commit is written as a pack of its own (`commit`), a small
 * fetch as loose objects: a sidecar committing a lease a second would leave 86,400 packs a day.
 */
export const MAINTAIN_EVERY = 200;

export class WorkTree {
  private readonly git: SimpleGit;
  /** Where the remote branch's tip is kept locally. */
  private readonly tracking: string;

  private readonly writer: FastImport;
  private pushes = 0;
  /**
   * The last commit written, whether it was pushed, and the pack fast-import wrote it in when
   * that pack holds every object the commit adds to its parent (commit).
   */
  private written?: { readonly sha: string; readonly pack?: string; pushed: boolean };
  private maintaining?: Promise<void>;

  constructor(readonly dir: string, private readonly repo: string, private readonly branch: string, private readonly maintainEvery = MAINTAIN_EVERY) {
    this.git = createGit(dir);
    this.tracking = `refs/remotes/origin/${branch}`;
    // The pack stays a pack however small (git would spawn unpack-objects to make loose objects
    // of one under 100 objects: 4 ms of a 9 ms write here); git gc --auto (push) joins the packs.
    // zlib level 1: a GC commit on 5,000 groups rewrites two 5,000-entry trees, mostly object ids
    // that do not compress; 22 against 34 ms here, its pack 2.7% bigger (a first commit's, 0.7%).
    // One pack a commit, whatever a global pack.packSizeLimit says (a push sends one pack).
    // One process writes `maintainEvery` commits: as many as git gc --auto runs after.
    this.writer = new FastImport(this.gitDir, {
      config: ['-c', 'fastimport.unpackLimit=0', '-c', 'pack.compression=1', '-c', 'pack.packSizeLimit=0', 'fast-import', '--quiet', '--force'],
      edges: path.join(this.gitDir, PACK_EDGES), maxCommits: maintainEvery, timeoutMs: GIT_TIMEOUT_MS,
    });
  }

  get url(): string {
    return remoteUrl(this.repo);
  }

  /** Makes `dir` a repository. No named remote: fetch and push name the URL (two fewer git commands for a fresh clone). */
  async init(): Promise<void> {
    await this.git.raw(['init', `--initial-branch=${this.branch}`]);
  }

  /**
   * Fetches the branch and returns its tip; undefined while the remote has no such branch (an
   * empty repo). From a git:// remote whose tip this repository already holds (the commit it
   * pushed last, a fetch before), only the refs are read (daemon.ts) and nothing is fetched.
   */
  async fetchTip(): Promise<string | undefined> {
    if (isGitDaemonUrl(this.url)) {
      const tip = await remoteTip(this.url, this.branch, GIT_TIMEOUT_MS);
      if (tip === undefined) return undefined;
      if (await this.track(tip)) return tip;
    }
    try {
      await this.fetch();
      return (await this.git.revparse([this.tracking])).trim();
    } catch (e) {
      if (!isNoBranchYet(e)) throw e;
      return undefined;
    }
  }

  /** Every file of commit `head`: path -> text. */
  async files(head: string): Promise<Map<string, string>> {
    const entries = await treeBlobs(this.git, head);
    const texts = await readBlobs(this.gitDir, [...new Set(entries.map(([, oid]) => oid))]);
    return new Map(entries.map(([p, oid]) => [p, texts.get(oid)!]));
  }

  /** What changed from commit `from` to `to`: path -> its text at `to`, or null where `to` has no such file. */
  async changes(from: string, to: string): Promise<Map<string, string | null>> {
    const out = (await this.git.raw(['diff-tree', '-r', '-z', '--no-renames', from, to])).split('\0');
    const changed: Array<[string, string | null]> = [];
    // Records: ":<old mode> <new mode> <old oid> <new oid> <status>", then the path.
    for (let i = 0; i + 1 < out.length; i += 2) {
      const [, , , oid, status] = out[i].split(' ');
      changed.push([out[i + 1], status === 'D' ? null : oid]);
    }
    const texts = await readBlobs(this.gitDir, [...new Set(changed.flatMap(([, oid]) => (oid ? [oid] : [])))]);
    return new Map(changed.map(([p, oid]) => [p, oid ? texts.get(oid)! : null]));
  }

  /**
   * Writes a commit on `parent` (none: a root commit) that sets each changed path to its text,
   * or deletes it where the text is null, through the work tree's `git fast-import`; returns its
   * sha. No branch moves: the commit is pushed by its sha. Author and committer date: `at`.
   */
  async commit(parent: string | undefined, changed: ReadonlyMap<string, string | null>, message: readonly string[], at: Date = new Date()): Promise<string> {
    const when = `${Math.floor(at.getTime() / 1000)} +0000`;
    const who = `${AUTHOR.name} <${AUTHOR.email}> ${when}`;
    const chunks: Buffer[] = [];
    const line = (text: string) => chunks.push(Buffer.from(`${text}\n`));
    const data = (text: string) => {
      const bytes = Buffer.from(text);
      line(`data ${bytes.length}`);
      chunks.push(bytes, Buffer.from('\n'));
    };
    // The commit's only parent is `parent`, whatever fast-import wrote before: `from` names it
    // (fast-import keeps the trees it holds when they are that commit's), and a root commit
    // starts from a reset.
    if (!parent) line(`reset ${WRITTEN_REF}`);
    line(`commit ${WRITTEN_REF}`);
    line('mark :1');
    line(`author ${who}`);
    line(`committer ${who}`);
    data(`${message.filter((m) => m.trim()).join('\n\n')}\n`);
    if (parent) line(`from ${parent}`);
    for (const [p, text] of changed) {
      if (text === null) line(`D ${fastImportPath(p)}`);
      else {
        line(`M 100644 inline ${fastImportPath(p)}`);
        data(text);
      }
    }
    line('');
    // fast-import stores no object this repository holds already, and a commit written and never
    // pushed left its objects here: the next commit (a cycle made again) may need them and the
    // remote lacks them, so its pack is not sent as it is. Other such leftovers are rarer; a
    // pack that lacks an object is refused by the remote and made again (daemon.ts).
    const whole = !this.written || this.written.pushed;
    // While git gc --auto joins the packs, each commit has a fast-import of its own: one kept
    // running could come to read a pack of its own that gc has joined and deleted.
    try {
      const { sha, pack } = await this.writer.write(Buffer.concat(chunks), ':1', !!this.maintaining);
      this.written = { sha, pack: whole ? pack : undefined, pushed: false };
      return sha;
    } catch (e) {
      // It may have stored objects before it failed: as a commit never pushed.
      this.written = { sha: '', pushed: false };
      throw e;
    }
  }

  /**
   * Pushes `sha` (written on `parent`) to the branch: a fast-forward, or git's rejection. When git
   * cannot say whether it landed (a timeout, a dropped connection), fetches and looks for `sha`
   * itself in the branch, and throws `PushUnclear` only when it is not there. Never by a request
   * id: callers choose those (`x-request-id`, Boskos's `request_id`) and reuse them, and an older
   * commit of the same id would answer for a push that never landed. To a git:// remote paddock
   * holds the connection itself (daemon.ts: 40 ms less a push).
   */
  async push(sha: string, parent?: string): Promise<void> {
    const ref = `refs/heads/${this.branch}`;
    try {
      if (isGitDaemonUrl(this.url)) await this.pushToDaemon(sha, ref, parent);
      else await this.gitPush(sha, ref);
    } catch (e) {
      const kind = classifyGitError(e);
      if (isRetryable(kind) || !isUnclear(kind)) throw e;
      if (!(await this.remoteHas(sha))) throw new PushUnclear(kind, e);
    }
    if (this.written?.sha === sha) this.written.pushed = true;
    // git's housekeeping (process.ts), while paddock goes on: the next cycle does not wait for it.
    if (++this.pushes % this.maintainEvery === 0) {
      this.maintaining ??= this.writer.close().then(() => gcAuto(this.gitDir)).finally(() => (this.maintaining = undefined));
    }
  }

  /**
   * Resolves once nothing of this work tree's is running in it: the housekeeping a push started
   * is over and its fast-import has ended (before another process may use this work tree).
   */
  async settled(): Promise<void> {
    await this.maintaining;
    await this.writer.close();
  }

  private async pushToDaemon(sha: string, ref: string, parent: string | undefined): Promise<void> {
    try {
      // The pack fast-import wrote holds the commit's new objects: sent as it is, not made again.
      const pack = this.written?.sha === sha ? this.written.pack : undefined;
      await pushToGitDaemon({ gitDir: this.gitDir, url: this.url, sha, ref, parent, written: pack ? () => readFile(pack) : undefined });
    } catch (e) {
      if (!(e instanceof DaemonPushUnsupported)) throw e;
      await this.gitPush(sha, ref);
    }
  }

  private async gitPush(sha: string, ref: string): Promise<void> {
    await this.git.raw(['push', '--verbose', this.url, `${sha}:${ref}`]);
  }

  /** Points the tracking ref at `tip` when this repository holds that commit; false when it does not. */
  private async track(tip: string): Promise<boolean> {
    return (await runGit(this.gitDir, ['update-ref', this.tracking, tip], '')).code === 0;
  }

  /** Whether the remote branch holds commit `sha` (after a push whose outcome is unclear); false when that cannot be told. */
  async remoteHas(sha: string): Promise<boolean> {
    try {
      await this.fetch();
      return (await runGit(this.gitDir, ['merge-base', '--is-ancestor', sha, this.tracking], '')).code === 0;
    } catch {
      return false;
    }
  }

  /** The message of commit `sha`. */
  async message(sha: string): Promise<string> {
    return (await gitWithInput(this.gitDir, ['log', '-1', '--format=%B', sha], '')).toString('utf8');
  }

  /** Asks the remote for its branch's tip (reader.ts: a git:// remote by paddock's own connection); throws when it does not answer. */
  async probe(): Promise<void> {
    await remoteTip(this.url, this.branch, GIT_TIMEOUT_MS);
  }

  private async fetch(): Promise<void> {
    await this.git.raw(['fetch', '--verbose', '--no-tags', this.url, `+refs/heads/${this.branch}:${this.tracking}`]);
  }

  private get gitDir(): string {
    return path.join(this.dir, '.git');
  }
}

/** A path as fast-import reads it: C-quoted when it would otherwise be misread. */
function fastImportPath(p: string): string {
  return /^"|[\n\\]/.test(p) ? JSON.stringify(p) : p;
}

/** A push that may or may not have landed, and whose commit is not at the remote: try again from a fetch. */
export class PushUnclear extends Error {
  constructor(readonly kind: GitFailure, cause: unknown) {
    super(`push failed (${kind}): ${oneLine(cause)}`, { cause });
  }
}
