/**
 * The cluster tier's API server for benches that need one (e2e, and leases against the real
 * Boskos): its scripts run as they run for the tier (reusing a running cluster), their exports
 * read back. Not a bench itself (the dispatcher runs [a-z][a-z0-9]*.ts).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './lib.ts';

/** `cmd ARGS` to completion with `env` added; resolves with stdout, rejects naming the command and the tail of stderr. */
export function run(cmd: string, args: readonly string[], env: Record<string, string>, timeoutMs: number, input?: string, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, [...args], { cwd, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(cmd)} ${args.join(' ')}: ${stderr.trim().split('\n').slice(-5).join('\n') || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** A script of the repo (`scripts/cluster-up`, ...), given up to 30 minutes (a first build). */
export function script(rel: string, env: Record<string, string> = {}): Promise<string> {
  return run(path.join(REPO_ROOT, rel), [], env, 1_800_000);
}

/** `export NAME=value` lines of a script's output. */
export function exportsOf(out: string): Record<string, string> {
  return Object.fromEntries([...out.matchAll(/^export ([A-Z_][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1], m[2]]));
}

/** `kubectl ARGS` against the cluster `env` names. */
export function kubectl(env: Record<string, string>, args: readonly string[], input?: string): Promise<string> {
  return run(process.env.KUBECTL ?? 'kubectl', args, env, 240_000, input);
}
