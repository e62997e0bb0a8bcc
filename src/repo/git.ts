/**
 * The one git factory: every git call in paddock goes through here, and nothing else imports
 * simple-git. Each instance runs git with a fixed environment: C locale (so errors can be
 * classified by their text), no prompts (a missing credential fails at once instead of
 * hanging), batch-mode SSH, and a timeout on every command.
 *
 * simple-git sleeps 50 ms after any command that printed nothing, whatever its completion
 * options; that would triple a commit cycle. Callers on hot paths therefore run git verbose
 * (`fetch -v`, `add --verbose`, `push -v`, `reset --hard` without `-q`) so it always prints.
 */
import { execFile, spawn } from 'node:child_process';
import { simpleGit, type SimpleGit } from 'simple-git';

const ALLOWED_ENV = ['GIT_TERMINAL_PROMPT', 'GIT_SSH_COMMAND', 'GIT_CONFIG_NOSYSTEM', 'GIT_HTTP_LOW_SPEED_LIMIT', 'GIT_HTTP_LOW_SPEED_TIME'];

export interface GitOptions {
  /** Kill a git command silent for this long. @default 60 s */
  readonly timeoutMs?: number;
}

export const AUTHOR = { name: 'paddock', email: 'paddock@paddock.invalid' };

export function createGit(baseDir: string, opts: GitOptions = {}): SimpleGit {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'SSH_AUTH_SOCK', 'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY']) {
    if (process.env[k]) env[k] = process.env[k]!;
  }
  Object.assign(env, {
    LC_ALL: 'C',
    LANG: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes -o ConnectTimeout=10',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_HTTP_LOW_SPEED_LIMIT: '1000',
    GIT_HTTP_LOW_SPEED_TIME: '20',
  });
  return simpleGit({
    baseDir,
    binary: 'git',
    maxConcurrentProcesses: 4,
    // Resolve on the process's close event; the default also waits 50 ms after exit.
    completion: { onClose: true, onExit: false },
    timeout: { block: opts.timeoutMs ?? 60_000 },
    allowEnvironment: ALLOWED_ENV,
    // The SSH command is paddock's own fixed one (batch mode: fail, never prompt), not user input.
    unsafe: { allowUnsafeSshCommand: true },
    config: [`user.name=${AUTHOR.name}`, `user.email=${AUTHOR.email}`, 'core.quotepath=off', 'commit.gpgsign=false', 'gc.auto=0'],
  }).env(env);
}

/** What went wrong with a git command, from its message. */
export type GitFailure = 'non-fast-forward' | 'lock' | 'auth' | 'missing-repo' | 'unreachable' | 'timeout' | 'other';

export function classifyGitError(e: unknown): GitFailure {
  const text = String((e as Error)?.message ?? e);
  if (/\[rejected\]|\[remote rejected\]|non-fast-forward|fetch first|failed to update ref|cannot lock ref|stale info|updates were rejected/i.test(text)) {
    return /cannot lock ref|unable to create .*\.lock|index\.lock/i.test(text) && !/rejected/i.test(text) ? 'lock' : 'non-fast-forward';
  }
  if (/\.lock': File exists|Unable to create .*\.lock/i.test(text)) return 'lock';
  if (/Authentication failed|Permission denied|could not read Username|terminal prompts disabled|403|401/i.test(text)) return 'auth';
  if (/does not appear to be a git repository|repository .* not found|not a git repository|No such file or directory|does not exist/i.test(text)) return 'missing-repo';
  if (/block timeout|timed out|timeout reached/i.test(text)) return 'timeout';
  if (/Could not resolve host|Connection refused|Connection reset|could not connect|unable to access|Network is unreachable|remote end hung up|early EOF|unexpected disconnect|Broken pipe|unable to connect/i.test(text)) return 'unreachable';
  return 'other';
}

/** Retry the whole cycle: someone else pushed first, or a lock was briefly held. */
export const isRetryable = (f: GitFailure) => f === 'non-fast-forward' || f === 'lock';
/** The push may or may not have landed: look for our commit before retrying. */
export const isUnclear = (f: GitFailure) => f === 'timeout' || f === 'unreachable' || f === 'other';

/** Creates a bare repository (for `paddock up` and tests) whose HEAD names `branch`. */
export async function initBareRepo(dir: string, branch: string): Promise<void> {
  await createGit(process.cwd()).raw(['init', '--bare', '--quiet', `--initial-branch=${branch}`, dir]);
}

/**
 * The commit a directory is checked out at, when it is in a git work tree (a git-sync checkout,
 * a developer's clone), with ` (modified)` when files under it differ from that commit.
 * Undefined when it is not in a work tree.
 */
export async function checkoutCommit(dir: string): Promise<string | undefined> {
  try {
    // One command: the commit (`# branch.oid`) and whether anything under `dir` differs from it.
    const out = await createGit(dir, { timeoutMs: 10_000 }).raw(['status', '--porcelain=v2', '--branch', '--untracked-files=normal', '--', '.']);
    const head = /^# branch\.oid ([0-9a-f]{40,64})$/m.exec(out)?.[1];
    if (!head) return undefined;
    return out.split('\n').some((l) => l && !l.startsWith('#')) ? `${head} (modified)` : head;
  } catch {
    return undefined;
  }
}

/** Reads commits, trees and blobs of a local repository (a fetched copy), for `paddock verify`. */
export class RepoReader {
  private readonly git: SimpleGit;
  private readonly blobs = new Map<string, string>();

  constructor(private readonly gitDir: string) {
    this.git = createGit(gitDir);
  }

  /** A bare copy of `url`'s branches in `gitDir` (created when missing). */
  static async fetch(url: string, gitDir: string): Promise<RepoReader> {
    await initBareRepo(gitDir, 'main');
    const r = new RepoReader(gitDir);
    await r.git.raw(['fetch', '--verbose', '--no-tags', url, '+refs/heads/*:refs/heads/*']);
    return r;
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
    const listed = (await this.git.raw(['ls-tree', '-r', '-z', '--full-tree', sha])).split('\0').filter(Boolean);
    const entries: Array<[string, string]> = [];
    for (const line of listed) {
      const tab = line.indexOf('\t');
      const [, type, oid] = line.slice(0, tab).split(' ');
      const p = line.slice(tab + 1);
      if (type === 'blob' && filter(p)) entries.push([p, oid]);
    }
    await this.readBlobs(entries.map(([, oid]) => oid).filter((oid) => !this.blobs.has(oid)));
    return new Map(entries.map(([p, oid]) => [p, this.blobs.get(oid)!]));
  }

  /** Reads blobs through one `git cat-file --batch` (blobs seen before come from memory). */
  private readBlobs(oids: readonly string[]): Promise<void> {
    if (!oids.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const p = spawn('git', ['--git-dir', this.gitDir, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' } });
      const chunks: Buffer[] = [];
      let err = '';
      p.stdout.on('data', (c: Buffer) => chunks.push(c));
      p.stderr.on('data', (c: Buffer) => (err += String(c)));
      p.on('error', reject);
      p.on('close', (code) => {
        if (code !== 0) return reject(new Error(`git cat-file failed: ${err.trim()}`));
        const buf = Buffer.concat(chunks);
        let at = 0;
        while (at < buf.length) {
          const nl = buf.indexOf(0x0a, at);
          const [oid, , size] = buf.subarray(at, nl).toString().split(' ');
          const n = Number(size);
          this.blobs.set(oid, buf.subarray(nl + 1, nl + 1 + n).toString('utf8'));
          at = nl + 1 + n + 1;
        }
        resolve();
      });
      p.stdin.end(`${oids.join('\n')}\n`);
    });
  }
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
