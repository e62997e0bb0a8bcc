/**
 * Reading a repository without a work tree: a remote's tip, commits, trees and blobs of a fetched
 * bare copy (`paddock verify`, `paddock status`, the sidecar's reads), where a directory sits in a work tree, and a commit's tree exported.
 */
import { execFile } from 'node:child_process';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SimpleGit } from 'simple-git';
import { isGitDaemonUrl, remoteRefs } from './daemon.ts';
import { createGit, gcAuto, gitWithInput, initBareRepo } from './process.ts';

/** Reads commits, trees and blobs of a local repository (a fetched copy), for `paddock verify`. */
export class RepoReader {
  private readonly git: SimpleGit;
  private readonly blobs = new Map<string, string>();
  /** The `gc --auto` after the fetch that made this reader. */
  housekeeping: Promise<void> = Promise.resolve();

  constructor(private readonly gitDir: string) {
    this.git = createGit(gitDir);
  }

  /**
   * A bare copy of `url`'s branches (or only `branch`) in `gitDir`, created when missing, fetched
   * when not. The copy keeps git's own housekeeping: a small fetch leaves its objects loose, and
   * a copy that follows a busy repo for months would pile them up, so each fetch is followed by
   * `gc --auto` (process.ts), which the reader does not wait for (`housekeeping` resolves when
   * it is over). `borrow`: the objects directory of a repository of the same remote that the
   * copy may read from (the committer's work tree), set when the copy is made.
   */
  static async fetch(url: string, gitDir: string, branch?: string, opts: { readonly borrow?: string } = {}): Promise<RepoReader> {
    if (!existsSync(path.join(gitDir, 'HEAD'))) {
      // Made beside it and renamed into place: of processes making the same copy at once (several
      // `paddock status`), one rename wins and the others use its copy, never a half-made one.
      const made = `${gitDir}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
      await initBareRepo(made, 'main');
      // Objects another repository here already holds are not fetched again (gitrepository-layout:
      // objects/info/alternates): the first fetch brings what it lacks, not the whole history.
      if (opts.borrow) writeFileSync(path.join(made, 'objects', 'info', 'alternates'), `${path.resolve(opts.borrow)}\n`);
      try {
        renameSync(made, gitDir);
      } catch (e) {
        rmSync(made, { recursive: true, force: true });
        if (!existsSync(path.join(gitDir, 'HEAD'))) throw e;
      }
    }
    const r = new RepoReader(gitDir);
    await r.git.raw(['fetch', '--no-tags', '--prune', url, branch ? `+refs/heads/${branch}:refs/heads/${branch}` : '+refs/heads/*:refs/heads/*']);
    r.housekeeping = gcAuto(gitDir);
    return r;
  }

  /** Paths that differ between two commits. */
  async changedBetween(from: string, to: string): Promise<string[]> {
    return (await this.git.raw(['diff', '--name-only', '-z', '--no-renames', from, to])).split('\0').filter(Boolean);
  }

  /** A commit's short sha, subject and committer date. */
  async describe(sha: string): Promise<{ sha: string; subject: string; date: Date }> {
    const [short, date, ...subject] = (await this.git.raw(['log', '-1', '--format=%h%n%cI%n%s', sha])).trim().split('\n');
    return { sha: short, subject: subject.join(' '), date: new Date(date) };
  }

  /** The full sha of `rev`, or undefined when it names no commit. */
  async resolve(rev: string): Promise<string | undefined> {
    try {
      return (await this.git.raw(['rev-parse', '--verify', '-q', `${rev}^{commit}`])).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** Commits of `range` (e.g. `main`, `a..main`), oldest first, first parents only: sha, parent, message. */
  async log(range: string): Promise<Array<{ sha: string; parent?: string; message: string }>> {
    const out = await this.git.raw(['log', '--first-parent', '--reverse', '--format=%H %P%x00%B%x01', range, '--']);
    return out.split('\x01').map((e) => e.replace(/^\n/, '')).filter((e) => e.trim()).map((e) => {
      const [head, message] = e.split('\0');
      const [sha, parent] = head.trim().split(' ');
      return { sha, parent: parent || undefined, message };
    });
  }

  /** Every file of `sha`'s tree under `filter`'s paths: path -> text. */
  async files(sha: string, filter: (p: string) => boolean = () => true): Promise<Map<string, string>> {
    const entries = (await treeBlobs(this.git, sha)).filter(([p]) => filter(p));
    await this.readBlobs(entries.map(([, oid]) => oid).filter((oid) => !this.blobs.has(oid)));
    return new Map(entries.map(([p, oid]) => [p, this.blobs.get(oid)!]));
  }

  /** Reads blobs through one `git cat-file --batch` (blobs seen before come from memory). */
  private async readBlobs(oids: readonly string[]): Promise<void> {
    for (const [oid, text] of await readBlobs(this.gitDir, oids)) this.blobs.set(oid, text);
  }
}

/** Every blob of `sha`'s tree: [path, oid]. */
export async function treeBlobs(git: SimpleGit, sha: string): Promise<Array<[string, string]>> {
  const entries: Array<[string, string]> = [];
  for (const line of (await git.raw(['ls-tree', '-r', '-z', '--full-tree', sha])).split('\0')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const [, type, oid] = line.slice(0, tab).split(' ');
    if (type === 'blob') entries.push([line.slice(tab + 1), oid]);
  }
  return entries;
}

/** The text of each blob of `oids` in the repository at `gitDir`, through one `git cat-file --batch`. */
export async function readBlobs(gitDir: string, oids: readonly string[]): Promise<Map<string, string>> {
  const blobs = new Map<string, string>();
  if (!oids.length) return blobs;
  const buf = await gitWithInput(gitDir, ['cat-file', '--batch'], `${oids.join('\n')}\n`);
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(0x0a, at);
    const [oid, type, size] = buf.subarray(at, nl).toString().split(' ');
    if (type === 'missing') throw new Error(`git cat-file: no object ${oid}`);
    const n = Number(size);
    blobs.set(oid, buf.subarray(nl + 1, nl + 1 + n).toString('utf8'));
    at = nl + 1 + n + 1;
  }
  return blobs;
}

/**
 * The tip of `branch` at `url` by one `ls-remote` (no repository needed, nothing fetched);
 * undefined while the remote has no such branch.
 */
export async function remoteTip(url: string, branch: string, timeoutMs = 20_000): Promise<string | undefined> {
  // A git:// remote's refs over paddock's own connection: git's client waits 40 ms there (daemon.ts).
  if (isGitDaemonUrl(url)) return (await remoteRefs(url, timeoutMs)).get(`refs/heads/${branch}`);
  const out = await createGit(process.cwd(), { timeoutMs }).raw(['ls-remote', '--heads', url, `refs/heads/${branch}`]);
  return out.split('\n').map((l) => l.split('\t')).find(([, ref]) => ref === `refs/heads/${branch}`)?.[0] || undefined;
}

/** The top of the work tree holding `dir`, and `dir`'s path inside it; undefined outside a work tree. */
export async function workTreeOf(dir: string): Promise<{ top: string; prefix: string } | undefined> {
  try {
    const [top, prefix] = (await createGit(dir, { timeoutMs: 10_000 }).raw(['rev-parse', '--show-toplevel', '--show-prefix'])).split('\n');
    return top ? { top: top.trim(), prefix: (prefix ?? '').trim() } : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the tree of `commit` in the repository at `top` into `outDir` (nothing of the repository's own state changes). */
export async function exportTree(top: string, commit: string, outDir: string): Promise<void> {
  const tar = await new Promise<Buffer>((resolve, reject) => {
    execFile('git', ['-C', top, 'archive', '--format=tar', commit], { encoding: 'buffer', maxBuffer: 512 * 1024 * 1024 }, (e, out, stderr) => (e ? reject(new Error(`git archive ${commit}: ${String(stderr).trim() || e.message}`)) : resolve(out)));
  });
  await new Promise<void>((resolve, reject) => {
    const p = execFile('tar', ['-x', '-C', outDir], (e) => (e ? reject(e) : resolve()));
    p.stdin!.end(tar);
  });
}
