/**
 * The one git factory: every git call in paddock goes through src/repo/git/, and nothing else
 * imports simple-git. Each instance runs git with a fixed environment: C locale (so errors can be
 * classified by their text), no prompts (a missing credential fails at once instead of
 * hanging), batch-mode SSH, and a timeout on every command.
 *
 * simple-git sleeps 50 ms after any command that printed nothing, whatever its completion
 * options; that would triple a commit cycle. Callers on hot paths therefore run git verbose
 * (`fetch -v`, `add --verbose`, `push -v`, `reset --hard` without `-q`) so it always prints.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { simpleGit, type SimpleGit } from 'simple-git';
import { oneLine, TransientError } from '../../errors.ts';

const ALLOWED_ENV = ['GIT_TERMINAL_PROMPT', 'GIT_SSH_COMMAND', 'GIT_CONFIG_NOSYSTEM', 'GIT_HTTP_LOW_SPEED_LIMIT', 'GIT_HTTP_LOW_SPEED_TIME'];

export interface GitOptions {
  /** Kill a git command silent for this long. @default 60 s */
  readonly timeoutMs?: number;
  /**
   * Read a checkout another user owns (git-sync's, uid 65533, read by paddock as uid 1000), which
   * git otherwise refuses as "dubious ownership". Only for reading the definitions checkout.
   */
  readonly otherOwner?: boolean;
}

/** The config that lets git read a repository another user owns (GitOptions.otherOwner). */
const OTHER_OWNER = 'safe.directory=*';

export const AUTHOR = { name: 'paddock', email: 'paddock@paddock.invalid' };

/** The environment every git paddock runs gets (see above). */
export function gitEnv(): Record<string, string> {
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
    // glibc's malloc hands memory back to the kernel whenever the top of the heap is free, and
    // git's zlib allocates and frees its buffers per object: on some kernels that is 8 brk calls
    // an object, 75% of a 5,000-file commit's time. Keep freed memory for reuse instead
    // (ignored by other C libraries).
    GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=67108864:glibc.malloc.top_pad=16777216',
  });
  return env;
}

/**
 * Runs `git ARGS` on the repository at `gitDir` with `input` on its stdin (simple-git cannot feed
 * stdin: fast-import's stream, cat-file's object names); resolves with its stdout. Killed when it
 * hangs, as every git command is.
 */
export async function gitWithInput(gitDir: string, args: readonly string[], input: Buffer | string, timeoutMs = 60_000): Promise<Buffer> {
  return (await gitOutputs(gitDir, args, input, timeoutMs)).out;
}

/** As gitWithInput, resolving with what it wrote to stderr too (fast-import's statistics). */
export async function gitOutputs(gitDir: string, args: readonly string[], input: Buffer | string, timeoutMs = 60_000): Promise<{ out: Buffer; err: string }> {
  const r = await runGit(gitDir, args, input, timeoutMs);
  if (r.code === 0) return r;
  throw new Error(`git ${args.find((a) => !a.startsWith('-') && !a.includes('='))} failed (${r.code ?? 'timed out'}): ${r.err.trim()}`);
}

/** As gitWithInput, for commands whose exit code is the answer (`merge-base --is-ancestor`): null when killed. */
export function runGit(gitDir: string, args: readonly string[], input: Buffer | string, timeoutMs = 60_000, opts: StartOptions = {}): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((resolve, reject) => {
    const p = startGit(gitDir, args, opts);
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: Buffer.concat(out), err });
    });
    // A git that exits without reading all its input closes the pipe: its exit code says what happened.
    p.stdin.on('error', () => undefined);
    p.stdin.end(input);
  });
}

export interface StartOptions {
  /**
   * At the lowest CPU priority (nice 19, which the processes git starts inherit), where the
   * system has `nice`: housekeeping that waits while paddock answers requests. On two cores,
   * `git gc --auto` joining 200 packs took 400-550 ms of CPU in one burst.
   */
  readonly background?: boolean;
}

/** coreutils' (or busybox's) `nice`, which starts a command at a lower priority; undefined without one. */
const NICE = ['/usr/bin/nice', '/bin/nice'].find((f) => existsSync(f));

/**
 * Starts `git ARGS` on the repository at `gitDir` with pipes for its stdin, stdout and stderr,
 * for a git that lives as long as its caller wants it (fast-import.ts): the caller reads, writes,
 * ends and kills it.
 */
export function startGit(gitDir: string, args: readonly string[], opts: StartOptions = {}): ChildProcessWithoutNullStreams {
  const argv = ['--git-dir', gitDir, ...args];
  const [file, fileArgs] = opts.background && NICE ? [NICE, ['-n', '19', 'git', ...argv]] : ['git', argv];
  const child = spawn(file, fileArgs, { stdio: ['pipe', 'pipe', 'pipe'], env: gitEnv() });
  if (!child.stdin || !child.stdout || !child.stderr) {
    // No pipes (no file descriptors left): the 'error' event that follows would have no listener.
    child.on('error', () => undefined);
    throw new Error(`git ${args.find((a) => !a.startsWith('-') && !a.includes('=')) ?? ''} could not start: no pipes to it (out of file descriptors?)`);
  }
  return child;
}

/** A repack of a large repo takes a while; one that hangs is killed after this. */
const GC_TIMEOUT_MS = 10 * 60_000;

/**
 * `git gc --auto` on the repository at `gitDir`, with git's own thresholds (6,700 loose objects,
 * 50 packs; paddock's other git commands run with gc.auto=0): when one is passed, git packs the
 * loose objects and joins the packs. In the foreground of paddock's own child, never detached:
 * a detached gc is orphaned to PID 1, which in paddock's container is node, and node never reaps
 * it. At the lowest CPU priority (`background`). Safe beside fetch, fast-import and push: git
 * keeps unreferenced objects younger than two weeks. Never fails: a gc that does is git's to
 * report, and nothing depends on it.
 */
export async function gcAuto(gitDir: string): Promise<void> {
  await runGit(gitDir, ['-c', 'gc.autoDetach=false', 'gc', '--auto', '--quiet'], '', GC_TIMEOUT_MS, { background: true }).catch(() => undefined);
}

export function createGit(baseDir: string, opts: GitOptions = {}): SimpleGit {
  const env = gitEnv();
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
    config: [`user.name=${AUTHOR.name}`, `user.email=${AUTHOR.email}`, 'core.quotepath=off', 'commit.gpgsign=false', 'gc.auto=0', ...(opts.otherOwner ? [OTHER_OWNER] : [])],
  }).env(env);
}

/** What went wrong with a git command, from its message. */
export type GitFailure = 'non-fast-forward' | 'lock' | 'refused' | 'auth' | 'missing-repo' | 'unreachable' | 'timeout' | 'other';

export function classifyGitError(e: unknown): GitFailure {
  const text = String((e as Error)?.message ?? e);
  // The remote's own rule said no (a pre-receive or update hook, a protected branch): trying
  // again from a fetch would only be said no again.
  if (/\[remote rejected\][^\n]*\((?:[\w-]+ )?hook declined|\[remote rejected\][^\n]*\([^)\n]*(?:denied|protected)/i.test(text)) return 'refused';
  if (/\[rejected\]|\[remote rejected\]|non-fast-forward|fetch first|failed to update ref|cannot lock ref|stale info|updates were rejected/i.test(text)) {
    return /cannot lock ref|unable to create .*\.lock|index\.lock/i.test(text) && !/rejected/i.test(text) ? 'lock' : 'non-fast-forward';
  }
  if (/\.lock': File exists|Unable to create .*\.lock/i.test(text)) return 'lock';
  if (/Authentication failed|Permission denied|could not read Username|terminal prompts disabled|returned error: 40[13]\b|\bHTTP(?:\/[\d.]+)? 40[13]\b|\b40[13] (?:Unauthorized|Forbidden)\b/i.test(text)) return 'auth';
  if (/does not appear to be a git repository|repository .* not found|not a git repository|No such file or directory|does not exist/i.test(text)) return 'missing-repo';
  if (/block timeout|timed out|timeout reached/i.test(text)) return 'timeout';
  if (/Could not resolve host|Connection refused|Connection reset|could not connect|unable to access|Network is unreachable|remote end hung up|early EOF|unexpected disconnect|Broken pipe|unable to connect/i.test(text)) return 'unreachable';
  return 'other';
}

/** Retry the whole cycle: someone else pushed first, or a lock was briefly held. */
export const isRetryable = (f: GitFailure) => f === 'non-fast-forward' || f === 'lock';
/** The push may or may not have landed: look for our commit before retrying. */
export const isUnclear = (f: GitFailure) => f === 'timeout' || f === 'unreachable' || f === 'other';

/** The error a caller gets when the remote cannot be used: why, in words, and when to try again. */
export function unavailableError(kind: GitFailure, e: unknown): TransientError {
  const why = UNAVAILABLE_BECAUSE[kind] ?? 'the remote cannot be reached';
  return new TransientError('RemoteUnavailable', `manifests repo unavailable: ${why} (${oneLine(e)})`, kind === 'auth' || kind === 'missing-repo' || kind === 'refused' ? 30 : 5, { cause: e });
}

const UNAVAILABLE_BECAUSE: Partial<Record<GitFailure, string>> = {
  auth: 'credentials were refused',
  'missing-repo': 'the repository does not exist',
  refused: 'the remote refused the push (a hook or branch protection there)',
  lock: 'a local git lock is held (another paddock at work, or a lock left by a git process that was killed)',
};

/** Whether a fetch failed because the remote has no such branch yet (an empty repository). */
export function isNoBranchYet(e: unknown): boolean {
  return /couldn't find remote ref|unknown revision|ambiguous argument/i.test(String((e as Error)?.message ?? e));
}

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
    const out = await createGit(dir, { timeoutMs: 10_000, otherOwner: true }).raw(['status', '--porcelain=v2', '--branch', '--untracked-files=normal', '--', '.']);
    const head = /^# branch\.oid ([0-9a-f]{40,64})$/m.exec(out)?.[1];
    if (!head) return undefined;
    return out.split('\n').some((l) => l && !l.startsWith('#')) ? `${head} (modified)` : head;
  } catch {
    return undefined;
  }
}

/**
 * Whether the checkout at `dir` contains commit `ancestor` in the history of `descendant`:
 * true or false; 'missing' when `ancestor` is not in the checkout at all (not fetched yet, or
 * another repo's); undefined when that cannot be told (a shallow clone, or no checkout).
 */
export async function containsCommit(dir: string, descendant: string, ancestor: string): Promise<boolean | 'missing' | undefined> {
  try {
    const git = createGit(dir, { timeoutMs: 10_000, otherOwner: true });
    const [gitDir, shallow] = (await git.raw(['rev-parse', '--absolute-git-dir', '--is-shallow-repository'])).trim().split('\n');
    if (shallow !== 'false') return undefined;
    const { code } = await runGit(gitDir, ['-c', OTHER_OWNER, 'merge-base', '--is-ancestor', ancestor, descendant], '', 10_000);
    if (code === 0) return true;
    if (code === 1) return false;
    return (await runGit(gitDir, ['-c', OTHER_OWNER, 'cat-file', '-e', `${ancestor}^{commit}`], '', 10_000)).code === 0 ? undefined : 'missing';
  } catch {
    return undefined;
  }
}
