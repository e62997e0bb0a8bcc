/**
 * Runs git from a small helper process. Starting a process blocks Node's event loop while the
 * kernel copies the parent's page tables: about 1.5 ms from a 50 MiB process, 12 ms from a
 * 200 MiB one, more as the heap grows. A sidecar committing ten times a second would hold its
 * HTTP answers (a lease heartbeat) that long, twice a cycle. The helper is a bare `node` (about
 * 40 MiB) started on first use: it starts git and hands the output back over IPC, so this
 * process only passes messages. When the helper cannot run (or dies), git is started here.
 *
 * Owns: the helper process. Must not touch: what the commands mean (work-tree.ts, reader.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface GitRun {
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  /** Bytes for git's stdin (fast-import's stream, cat-file's object names). */
  readonly input?: Buffer | string;
  readonly timeoutMs: number;
}

export interface GitResult {
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly code: number | null;
  readonly signal: string | null;
}

/** The helper's whole program: run each request's git, answer with its output. */
const HELPER = `
const { spawn } = require('node:child_process');
process.on('message', (m) => {
  const p = spawn('git', m.args, { env: m.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const out = [];
  let err = '';
  p.stdout.on('data', (c) => out.push(c));
  p.stderr.on('data', (c) => (err += c));
  const timer = setTimeout(() => p.kill('SIGKILL'), m.timeoutMs);
  p.on('error', (e) => { clearTimeout(timer); process.send({ id: m.id, error: String(e && e.message) }); });
  p.on('close', (code, signal) => { clearTimeout(timer); process.send({ id: m.id, code, signal, stdout: Buffer.concat(out), stderr: err }); });
  p.stdin.on('error', () => {});
  p.stdin.end(m.input);
});
process.on('disconnect', () => process.exit(0));
`;

class Spawner {
  private helper?: ChildProcess;
  private broken = false;
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: GitResult) => void; reject: (e: Error) => void }>();

  run(req: GitRun): Promise<GitResult> {
    const helper = this.started();
    if (!helper) return runHere(req);
    return new Promise((resolve, reject) => {
      const id = ++this.seq;
      this.pending.set(id, { resolve, reject });
      this.hold(true);
      helper.send({ id, args: req.args, env: req.env, input: req.input, timeoutMs: req.timeoutMs }, (e) => {
        if (!e) return;
        // Not delivered (the helper died): git never ran; run it here.
        this.lost(helper, id);
        this.settle(id, (p) => void runHere(req).then(p.resolve, p.reject));
      });
    });
  }

  private started(): ChildProcess | undefined {
    if (this.broken) return undefined;
    if (this.helper?.connected) return this.helper;
    try {
      const helper = spawn(process.execPath, ['-e', HELPER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced', env: {} });
      helper.on('message', (m: { id: number; error?: string; stdout: Uint8Array; stderr: string; code: number | null; signal: string | null }) => this.settle(m.id, (p) => {
        if (m.error !== undefined) p.reject(new Error(m.error));
        // Buffers cross the channel as plain Uint8Arrays.
        else p.resolve({ stdout: Buffer.from(m.stdout.buffer, m.stdout.byteOffset, m.stdout.byteLength), stderr: m.stderr, code: m.code, signal: m.signal });
      }));
      helper.on('error', () => this.lost(helper));
      helper.on('exit', () => this.lost(helper));
      this.helper = helper;
      this.hold(false);
      return helper;
    } catch {
      this.broken = true;
      return undefined;
    }
  }

  private settle(id: number, fn: (p: { resolve: (r: GitResult) => void; reject: (e: Error) => void }) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (!this.pending.size) this.hold(false);
    fn(p);
  }

  /** The helper keeps this process alive only while it runs something. */
  private hold(busy: boolean): void {
    const h = this.helper as (ChildProcess & { channel?: { ref(): void; unref(): void } }) | undefined;
    if (!h) return;
    if (busy) {
      h.ref();
      h.channel?.ref();
    } else {
      h.unref();
      h.channel?.unref();
    }
  }

  /**
   * The helper is gone: what it was running fails (it may or may not have run; the callers treat
   * it as a git command whose outcome is unclear), except `undelivered`; the next run starts another.
   */
  private lost(helper: ChildProcess, undelivered?: number): void {
    if (this.helper !== helper) return;
    this.helper = undefined;
    helper.kill('SIGKILL');
    for (const [id] of this.pending) if (id !== undelivered) this.settle(id, (p) => p.reject(new Error('git helper process exited')));
  }
}

/** Starts git in this process (no helper). */
function runHere(req: GitRun): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const p = spawn('git', req.args, { env: req.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => p.kill('SIGKILL'), req.timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out), stderr: err, code, signal });
    });
    p.stdin.on('error', () => undefined);
    p.stdin.end(req.input);
  });
}

const spawner = new Spawner();

/** Runs git (through the helper process when it can); resolves with its output, whatever its exit code. */
export function runGit(req: GitRun): Promise<GitResult> {
  return process.env.PADDOCK_GIT_HELPER === 'off' ? runHere(req) : spawner.run(req);
}
