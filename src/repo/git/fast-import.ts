/**
 * The work tree's writer: one `git fast-import` kept running and fed a commit at a time. After
 * each commit the stream asks for a `checkpoint` (the pack is closed, indexed and put in place,
 * the ref moved) and then `get-mark`, whose answer comes only once the checkpoint is done: the
 * commit's sha, with its pack on disk. Kept running, a commit costs no fork of node's large
 * process (4 to 8 ms of its only thread, every HTTP answer waiting behind it), no start of git,
 * and a commit on the one written before it starts from the trees fast-import holds in memory
 * rather than reading them again.
 *
 * The process ends after `maxCommits` commits (its tables grow with every object it writes), on
 * `close()`, after a commit asked to be its last, and whenever anything goes wrong (git says
 * no, or a commit takes longer than `timeoutMs`: it is killed). The next commit starts another.
 * Commits are written one at a time, in the order asked.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { startGit } from './process.ts';

export interface Written {
  readonly sha: string;
  /** The pack this commit's objects went into; none when fast-import stored nothing new (the commit itself was known). */
  readonly pack?: string;
}

export interface FastImportOptions {
  /** Git's options and fast-import's (after `fast-import`); `--export-pack-edges` is the writer's own. */
  readonly config: readonly string[];
  /** Where fast-import names the pack of each checkpoint (a file in the git dir, made again by each process). */
  readonly edges: string;
  readonly maxCommits: number;
  readonly timeoutMs: number;
}

interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  /** Lines of stdout not yet taken, and the one waiting for the next. */
  readonly lines: string[];
  next?: (line: string | Error) => void;
  /** The end of stderr, for the error when it fails. */
  err: string;
  /** Set once the process is gone: why. */
  gone?: Error;
  readonly exited: Promise<void>;
  commits: number;
  /** How much of the edges file earlier checkpoints wrote. */
  edgesRead: number;
  /** The packs it wrote (each kept, `.keep`, until it ends). */
  readonly packs: string[];
}

export class FastImport {
  private running?: Running;
  private queue: Promise<unknown> = Promise.resolve();
  /** Processes told to end, until they have. */
  private readonly ending = new Set<Promise<void>>();
  /** How many processes were started. */
  processes = 0;

  constructor(private readonly gitDir: string, private readonly opts: FastImportOptions) {}

  /**
   * Writes `commit` (fast-import's `commit` command, whole, with `mark`) and resolves with its sha
   * and its pack once both are in place. `last`: end the process after it.
   */
  write(commit: Buffer, mark: string, last = false): Promise<Written> {
    const done = this.queue.then(() => this.writeNow(commit, mark, last));
    this.queue = done.catch(() => undefined);
    return done;
  }

  /**
   * Ends the process once the commits asked for before are written, and resolves when it is gone
   * (and any killed before it). A commit asked for later starts another process.
   */
  async close(): Promise<void> {
    await this.queue;
    this.end();
    await Promise.all(this.ending);
  }

  private async writeNow(commit: Buffer, mark: string, last: boolean): Promise<Written> {
    const reused = this.running !== undefined;
    try {
      return await this.writeOnce(commit, mark, last);
    } catch (e) {
      // A process that wrote commits before may have ended while it waited (killed, out of
      // memory): once more, on a new one. A commit that makes git exit fails again, alone.
      if (!reused || !(e instanceof Exited)) throw e;
      return this.writeOnce(commit, mark, last);
    }
  }

  private async writeOnce(commit: Buffer, mark: string, last: boolean): Promise<Written> {
    const r = this.running ?? (await this.start());
    pipe(r.child.stdout).ref();
    const timer = setTimeout(() => this.kill(r, new Error(`git fast-import timed out after ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
    r.err = '';
    try {
      r.child.stdin.write(Buffer.concat([commit, Buffer.from(`checkpoint\n\nget-mark ${mark}\n`)]));
      const line = await this.nextLine(r);
      if (!/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(line)) throw new Error(`git fast-import answered ${JSON.stringify(line)} for the commit`);
      const pack = await this.packOf(r, line);
      if (pack) r.packs.push(pack);
      if (++r.commits >= this.opts.maxCommits || last) this.end();
      return { sha: line, pack };
    } catch (e) {
      this.kill(r, e as Error);
      throw e;
    } finally {
      clearTimeout(timer);
      if (this.running === r) pipe(r.child.stdout).unref();
    }
  }

  private async start(): Promise<Running> {
    await rm(this.opts.edges, { force: true });
    let child: ChildProcessWithoutNullStreams;
    try {
      child = startGit(this.gitDir, [...this.opts.config, `--export-pack-edges=${this.opts.edges}`]);
    } catch (e) {
      throw new Exited(`git fast-import could not start: ${(e as Error).message}`, { cause: e });
    }
    this.processes++;
    const r: Running = {
      child, lines: [], err: '', commits: 0, edgesRead: 0, packs: [],
      exited: new Promise((resolve) => child.on('close', () => resolve())),
    };
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop()!;
      for (const line of parts) this.deliver(r, line);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (r.err = (r.err + chunk).slice(-4096)));
    const fail = (why: string) => {
      r.gone ??= new Exited(`git fast-import ${why}${r.err.trim() ? `: ${r.err.trim()}` : ''}`);
      if (this.running === r) this.running = undefined;
      this.deliver(r, r.gone);
    };
    child.on('error', (e) => fail(`could not start (${e.message})`));
    void r.exited.then(() => fail(`exited (${child.exitCode ?? child.signalCode})`));
    // A pipe that breaks under a write is the process gone: its close event says why.
    child.stdin.on('error', () => undefined);
    // Idle, it keeps no one waiting: a process that exits closes its stdin, and fast-import ends.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) pipe(stream).unref();
    this.running = r;
    return r;
  }

  private deliver(r: Running, line: string | Error): void {
    const next = r.next;
    if (next) {
      r.next = undefined;
      next(line);
    } else if (typeof line === 'string') r.lines.push(line);
  }

  private nextLine(r: Running): Promise<string> {
    if (r.lines.length) return Promise.resolve(r.lines.shift()!);
    if (r.gone) return Promise.reject(r.gone);
    return new Promise((resolve, reject) => (r.next = (l) => (l instanceof Error ? reject(l) : resolve(l))));
  }

  /**
   * The pack a checkpoint wrote with commit `sha` in it. Each checkpoint that wrote objects adds
   * a line "<pack path>: <commits>", naming the commits that went into that pack.
   */
  private async packOf(r: Running, sha: string): Promise<string | undefined> {
    const text = await readFile(this.opts.edges, 'utf8').catch(() => '');
    const added = text.slice(r.edgesRead);
    r.edgesRead = text.length;
    for (const line of added.split('\n')) {
      const colon = line.lastIndexOf(':');
      if (colon > 0 && line.slice(colon + 1).split(' ').includes(sha)) return line.slice(0, colon);
    }
    return undefined;
  }

  /**
   * Closes the process's stdin: it ends once what it was given is written, and is killed if it
   * has not after `timeoutMs`. Until then node waits for it (a process exiting meanwhile would
   * leave close() unsettled).
   */
  private end(): void {
    const r = this.running;
    if (!r) return;
    this.running = undefined;
    r.child.ref();
    r.child.stdin.end();
    const timer = setTimeout(() => this.kill(r, new Error(`git fast-import did not end within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
    this.awaitExit(r, timer);
  }

  /**
   * Kills the process. fast-import marks each pack it writes with a `.keep` file (git gc leaves
   * such a pack alone) and removes them as it ends; killed, it cannot: its packs, whole and
   * indexed, are unmarked once it is gone.
   */
  private kill(r: Running, why: Error): void {
    r.gone ??= why;
    if (this.running === r) this.running = undefined;
    r.child.ref();
    r.child.kill('SIGKILL');
    this.deliver(r, why);
    this.awaitExit(r, undefined, () => Promise.all(r.packs.map((p) => rm(p.replace(/\.pack$/, '.keep'), { force: true }))));
  }

  /** close() waits for `r` to exit, and for `after` then. */
  private awaitExit(r: Running, timer?: NodeJS.Timeout, after?: () => Promise<unknown>): void {
    const done = r.exited.then(async () => {
      clearTimeout(timer);
      await after?.().catch(() => undefined);
    });
    this.ending.add(done);
    void done.then(() => this.ending.delete(done));
  }
}

/** The process ended (or could not start) before it answered. */
class Exited extends Error {}

/** A child's stdio stream as what it is: a pipe, which keeps node running while it is referenced. */
function pipe(stream: NodeJS.ReadableStream | NodeJS.WritableStream): Socket {
  return stream as unknown as Socket;
}
