/** A real `git daemon` on 127.0.0.1 serving one directory, for network cases. Stoppable and restartable. */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import path from 'node:path';

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/** `n` free ports on 127.0.0.1, all different (each held until all are found: one at a time may hand out the same port twice). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  try {
    return await Promise.all(servers.map((srv) => new Promise<number>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port));
    })));
  } finally {
    await Promise.all(servers.map((srv) => new Promise((r) => (srv.listening ? srv.close(r) : r(undefined)))));
  }
}

export class GitDaemon {
  private child?: ChildProcess;
  /** Each request the daemon took, as its log names it: "receive-pack /name.git". */
  private readonly taken: string[] = [];
  constructor(readonly baseDir: string, readonly port: number) {}

  static async start(baseDir: string): Promise<GitDaemon> {
    const d = new GitDaemon(baseDir, await freePort());
    await d.resume();
    return d;
  }

  /** `git://127.0.0.1:<port>/<name>` for a repo under the base dir. */
  url(repoDir: string): string {
    return `git://127.0.0.1:${this.port}/${path.relative(this.baseDir, repoDir)}`;
  }

  async resume(): Promise<void> {
    this.child = spawn('git', ['daemon', '--verbose', '--reuseaddr', '--export-all', '--enable=receive-pack', '--listen=127.0.0.1', `--port=${this.port}`, `--base-path=${this.baseDir}`, this.baseDir], { stdio: ['ignore', 'ignore', 'pipe'] });
    const child = this.child;
    let rest = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const l of lines) {
        const m = /Request (\S+) for '(.*)'/.exec(l);
        if (m) this.taken.push(`${m[1]} ${m[2]}`);
      }
    });
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 10_000;
      const probe = () => {
        const s = connect(this.port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve()));
        s.once('error', () => (Date.now() > deadline ? reject(new Error('git daemon did not start')) : setTimeout(probe, 50)));
      };
      child.once('exit', (code) => reject(new Error(`git daemon exited ${code}`)));
      probe();
    });
  }

  /** How many times `service` (receive-pack, upload-pack) was asked for on the repo at `repoDir`. */
  requests(service: string, repoDir: string): number {
    const name = `${service} /${path.relative(this.baseDir, repoDir)}`;
    return this.taken.filter((t) => t === name).length;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.child = undefined;
    await new Promise((r) => {
      child.once('exit', r);
      child.kill('SIGTERM');
    });
  }
}
