/** Runs the real `paddock` command in a child process. */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { messagesOf } from '../../src/log.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PADDOCK_BIN = path.join(REPO_ROOT, 'src/cli/paddock.mjs');

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function paddock(args: readonly string[], opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<RunResult> {
  return run(process.execPath, [PADDOCK_BIN, ...args], opts);
}

export function run(cmd: string, args: readonly string[], opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number; shell?: boolean } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'], shell: opts.shell });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every file under `dir` (relative path -> sha256), to compare trees byte for byte. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(dir, p)).isDirectory()) walk(p);
      else out[p] = createHash('sha256').update(readFileSync(path.join(dir, p))).digest('hex');
    }
  };
  walk('');
  return out;
}


/** A running `paddock serve` child: its output so far (log records as their messages), and a stop that waits for it to exit. */
export interface ServeProcess {
  readonly out: () => string;
  /** Its output as written (log records as JSON). */
  readonly raw: () => string;
  stop(): Promise<void>;
}

/** Starts `paddock serve ARGS` and resolves once it listens. */
export function startServe(args: readonly string[], env: Record<string, string | undefined>): Promise<ServeProcess> {
  return startPaddock('serve', args, env, 'listening on');
}

/** Starts `paddock watch ARGS` and resolves once it watches. */
export function startWatch(args: readonly string[], env: Record<string, string | undefined>): Promise<ServeProcess> {
  return startPaddock('watch', args, env, 'paddock watch: watching');
}

function startPaddock(command: string, args: readonly string[], env: Record<string, string | undefined>, ready: string): Promise<ServeProcess> {
  const child = spawn(process.execPath, [PADDOCK_BIN, command, ...args], { env: { ...process.env, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const proc: ServeProcess = {
    out: () => messagesOf(out),
    raw: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    },
  };
  return new Promise((resolve, reject) => {
    const t = setInterval(() => out.includes(ready) && (clearInterval(t), resolve(proc)), 50);
    child.once('exit', (code) => (clearInterval(t), reject(new Error(`paddock ${command} exited ${code}: ${out}`))));
  });
}
