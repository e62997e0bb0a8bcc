/**
 * Shared parts of the gc and leases benches: a temp root that is always removed, a real
 * `git daemon` on 127.0.0.1, the real `paddock` command as child processes (each in its own
 * process group, killed on exit, on failure and on the overall timeout), raw git as the
 * baseline, and a keep-alive HTTP client. Not a bench itself (the dispatcher only runs
 * files named [a-z][a-z0-9]*.ts).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { messagesOf } from '../../src/log.ts';
import { GitDaemon } from '../../test/helpers/git-daemon.ts';
import { REPO_ROOT } from './lib.ts';

export const PADDOCK_BIN = path.join(REPO_ROOT, 'src/cli/paddock.mjs');

const GIT_ENV = { ...process.env, LC_ALL: 'C', LANG: 'C', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' };
const GIT_CFG = ['-c', 'user.name=bench', '-c', 'user.email=bench@bench.invalid', '-c', 'commit.gpgsign=false', '-c', 'gc.auto=0'];

/** Everything a bench starts, torn down once: children, the daemon, the temp root. */
export class Harness {
  readonly root: string;
  private readonly children = new Set<ChildProcess>();
  private daemon?: GitDaemon;
  private cleaned = false;
  private timer?: NodeJS.Timeout;

  constructor(name: string, timeoutMs: number) {
    this.root = mkdtempSync(path.join(tmpdir(), `paddock-bench-${name}-`));
    this.timer = setTimeout(() => {
      console.error(`bench ${name}: overall timeout of ${Math.round(timeoutMs / 1000)} s reached; killing children`);
      this.cleanupSync();
      process.exit(2);
    }, timeoutMs);
    this.timer.unref();
    const onSignal = (sig: NodeJS.Signals) => {
      console.error(`bench ${name}: ${sig}; cleaning up`);
      this.cleanupSync();
      process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', () => this.cleanupSync());
  }

  dir(...parts: string[]): string {
    const d = path.join(this.root, ...parts);
    mkdirSync(d, { recursive: true });
    return d;
  }

  /** A bare repo under <root>/git, served by the one git daemon; returns its path and git:// URL. */
  async bareRepo(name: string): Promise<{ path: string; url: string }> {
    const base = this.dir('git');
    const p = path.join(base, name);
    await git(base, 'init', '--bare', '--quiet', '--initial-branch=main', p);
    this.daemon ??= await GitDaemon.start(base);
    return { path: p, url: this.daemon.url(p) };
  }

  /** Runs `paddock ARGS` to completion; throws with its output unless it exits 0. */
  async paddock(args: readonly string[], env: Record<string, string>, timeoutMs = 120_000): Promise<{ stdout: string; ms: number }> {
    const t0 = performance.now();
    const child = this.spawn(args, env);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    if (code !== 0) throw new Error(`paddock ${args[0]} exited ${code}:\n${out}`);
    return { stdout: out, ms: performance.now() - t0 };
  }

  /** Starts `paddock serve ARGS`, resolves with its URL once it prints "listening on". */
  serve(args: readonly string[], env: Record<string, string>, timeoutMs = 120_000): Promise<Served> {
    return this.startUntil(['serve', ...args], env, /listening on (http:\/\/\S+?),? /, timeoutMs);
  }

  /** Starts `paddock watch ARGS`, resolves once it watches. */
  watch(args: readonly string[], env: Record<string, string>, timeoutMs = 120_000): Promise<Served> {
    return this.startUntil(['watch', ...args], env, /paddock watch: (watching)/, timeoutMs);
  }

  /** Starts paddock with `args`; resolves once its output matches `ready` (`url`: the match's first group). */
  private async startUntil(args: readonly string[], env: Record<string, string>, ready: RegExp, timeoutMs: number): Promise<Served> {
    const t0 = performance.now();
    const child = this.spawn(args, env);
    const served: Served = { child, url: '', stdout: '', stderr: '', startMs: 0, log: () => messagesOf(`${served.stdout}\n${served.stderr}`) };
    child.stdout!.on('data', (d) => (served.stdout += d));
    child.stderr!.on('data', (d) => (served.stderr += d));
    served.url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`paddock ${args[0]} was not ready within ${timeoutMs} ms:\n${served.stdout}${served.stderr}`)), timeoutMs);
      // Parsing the whole output again per chunk is quadratic: stop once ready, or a long run's
      // log lines would eat the CPU the bench's clients need.
      const check = () => {
        const m = ready.exec(served.log());
        if (m) {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          child.stderr!.off('data', check);
          resolve(m[1]);
        }
      };
      child.stdout!.on('data', check);
      child.stderr!.on('data', check);
      child.on('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`paddock ${args[0]} exited ${code} before it was ready:\n${served.stdout}${served.stderr}`));
      });
    });
    served.startMs = performance.now() - t0;
    return served;
  }

  /** SIGTERM (serve finishes its current commit), SIGKILL after `graceMs`. */
  async stop(child: ChildProcess, graceMs = 10_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const closed = new Promise((r) => child.once('close', r));
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    await closed;
    clearTimeout(timer);
  }

  async cleanup(): Promise<void> {
    for (const c of this.children) await this.stop(c, 3_000);
    await this.daemon?.stop();
    this.cleanupSync();
  }

  private spawn(args: readonly string[], env: Record<string, string>): ChildProcess {
    // BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") goes to every paddock child.
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    // No cluster unless the bench gives one (e2e): a KUBECONFIG left in the caller's shell (the
    // leases bench wants scripts/cluster-up's exports) would have every commit ask a cluster's
    // Argo CD to refresh, and `up` follow clone sources there (gc ran at a third of its rate).
    const noCluster = { KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' };
    return this.start(process.execPath, [...nodeArgs, PADDOCK_BIN, ...args], { PADDOCK_LOG_FORMAT: 'json', ...noCluster, ...env });
  }

  /** Starts `cmd ARGS` (another server the bench compares with), killed with the harness's children. */
  start(cmd: string, args: readonly string[], env: Record<string, string> = {}): ChildProcess {
    const child = spawn(cmd, args, {
      cwd: this.root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: its children die with it
    });
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    return child;
  }

  private cleanupSync(): void {
    if (this.cleaned) return;
    this.cleaned = true;
    clearTimeout(this.timer);
    for (const c of this.children) killGroup(c, 'SIGKILL');
    // GitDaemon.stop is async; signal its process directly when we cannot wait. SIGTERM, not
    // SIGKILL: the `git` wrapper passes it on to its git-daemon child, which SIGKILL would orphan.
    const d = (this.daemon as any)?.child as ChildProcess | undefined;
    if (d && d.exitCode === null) d.kill('SIGTERM');
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface Served {
  readonly child: ChildProcess;
  url: string;
  stdout: string;
  stderr: string;
  startMs: number;
  /** What it said on both streams, log records as their messages. */
  log(): string;
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      /* gone */
    }
  }
}

/** `git ARGS` in `cwd` (C locale, bench identity); resolves with stdout. */
export function git(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', [...GIT_CFG, ...args], { cwd, env: GIT_ENV, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args.join(' ')}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Files at the tip of `branch` of a (bare) repo on disk. */
export async function treeFiles(repoPath: string, branch = 'main'): Promise<Set<string>> {
  return new Set((await git(repoPath, 'ls-tree', '-r', '--name-only', branch)).split('\n').filter(Boolean));
}

export async function commitCount(repoPath: string, branch = 'main'): Promise<number> {
  return Number((await git(repoPath, 'rev-list', '--count', branch).catch(() => '0')).trim());
}

/**
 * The naive baseline: `count` serialized requests, each one file change in a clone of `url`,
 * then `git add`, `git commit`, `git push` as separate git processes. `change(i, clone)`
 * edits the work tree and returns the paths to stage. Answers the per-request times in ms.
 */
export async function rawCommitPush(url: string, cloneDir: string, count: number, change: (i: number, clone: string) => string[]): Promise<number[]> {
  await git(path.dirname(cloneDir), 'clone', '--quiet', url, cloneDir);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const paths = change(i, cloneDir);
    await git(cloneDir, 'add', '-A', '--', ...paths);
    await git(cloneDir, 'commit', '--quiet', '--no-verify', '-m', `baseline request ${i}`);
    await git(cloneDir, 'push', '--quiet', 'origin', 'HEAD:refs/heads/main');
    times.push(performance.now() - t0);
  }
  return times;
}

/** Writes `content` at `rel` under `dir`, making parent directories. */
export function put(dir: string, rel: string, content: string): void {
  const abs = path.join(dir, rel);
  mkdirSync(path.dirname(abs), { recursive: true });
  writeFileSync(abs, content);
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

export interface Reply {
  readonly status: number;
  readonly body: any;
}

/** POST (or GET) `url` with an optional JSON body over a keep-alive agent; never throws on HTTP status. */
export function call(url: string, opts: { method?: string; body?: unknown; timeoutMs?: number } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const req = request(url, {
      method: opts.method ?? 'POST',
      agent,
      headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : { 'content-length': 0 },
      timeout: opts.timeoutMs ?? 120_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: any = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${opts.method ?? 'POST'} ${url}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export function closeHttp(): void {
  agent.destroy();
}

/** Runs `fn` over `items` with at most `concurrency` at once. */
export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

/** `commit <sha> <subject> (F files, R requests, M ms[, T retries])` lines printed by `paddock serve`. */
export interface CommitLine {
  readonly files: number;
  readonly requests: number;
  readonly ms: number;
  readonly retries: number;
  /** The cycle's steps as printed: sync, synth, write, push (ms). */
  readonly phases: Record<string, number>;
}

export function commitLines(stdout: string): CommitLine[] {
  const out: CommitLine[] = [];
  for (const m of stdout.matchAll(/^commit \S+ .*\((\d+) files, (\d+) requests, (\d+) ms(?:, (\d+) retries)?\)(?: \[([^\]]*) ms\])?$/gm)) {
    const phases: Record<string, number> = {};
    for (const [, k, v] of (m[5] ?? '').matchAll(/(\w+) (\d+)/g)) phases[k] = Number(v);
    out.push({ files: Number(m[1]), requests: Number(m[2]), ms: Number(m[3]), retries: Number(m[4] ?? 0), phases });
  }
  return out;
}

/** Median of each phase over the lines, as `sync 40 synth 90 ...`. */
export function phaseMedians(lines: readonly CommitLine[]): string {
  const keys = [...new Set(lines.flatMap((l) => Object.keys(l.phases)))];
  return keys.map((k) => `${k} ${sorted(lines.map((l) => l.phases[k] ?? 0))[Math.floor(lines.length / 2)]}`).join(', ');
}

/**
 * CPU time (user + system, ms) of a process's main thread so far, from /proc: how busy node's
 * one JavaScript thread was over a run (its libuv and GC threads are other tasks). Undefined
 * where /proc is not there.
 */
export function mainThreadCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command (which may hold spaces, so after its closing parenthesis): utime is the 14th, stime the 15th.
    const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/** Linux's USER_HZ, what /proc counts CPU time in. */
const CLOCK_TICKS = 100;

export const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
export const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
