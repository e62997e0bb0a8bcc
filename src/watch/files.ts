/**
 * The definitions directory on disk, watched: every file in it and every local file its
 * definitions import from outside it. A changed path is handed on as it comes.
 *
 * Trees published by swapping a symlink (git-sync's `current`, a ConfigMap volume's `..data`)
 * change no watched file: the directory's real path is checked every `linkPollMs`, and an event
 * on a `..`-prefixed entry counts as "everything changed" (the directory itself is handed on).
 *
 * Owns: chokidar. Must not touch: loading, committing.
 */
import chokidar, { type FSWatcher } from 'chokidar';
import { realpathSync } from 'node:fs';
import path from 'node:path';

/** Longest `start` waits for chokidar's first scan. */
const READY_WAIT_MS = 10_000;

export interface FileWatchOptions {
  /** Every local file the definitions are made of (those outside `dir` are watched too). */
  readonly inputs: () => Iterable<string>;
  /** A path changed; `dir` itself when everything may have. */
  readonly changed: (p: string) => void;
  /** The directory now resolves somewhere else; everything was handed on as changed. */
  readonly moved: (now: string | undefined) => Promise<void>;
  readonly error: (e: unknown) => void;
  /** @default 2 s */
  readonly linkPollMs?: number;
}

export class FileWatch {
  private fsw?: FSWatcher;
  private target?: string;
  private linkTimer?: NodeJS.Timeout;

  constructor(readonly dir: string, private readonly opts: FileWatchOptions) {}

  /**
   * Starts watching. Resolves once chokidar's first scan is over (a change made after that is
   * seen; one made during it may not be), or after READY_WAIT_MS at most.
   */
  start(): Promise<void> {
    this.target = realpathOf(this.dir);
    const ready = this.startFsWatch();
    this.linkTimer = setInterval(() => void this.followLink(), this.opts.linkPollMs ?? 2_000);
    this.linkTimer.unref();
    return ready;
  }

  /** Watches files the definitions import from outside the directory that are not watched yet. */
  addInputs(): void {
    const outside = this.outsideInputs();
    if (outside.length) this.fsw?.add(outside);
  }

  /** When the directory now resolves somewhere else (a swapped symlink), watches the new tree. Returns whether it moved. */
  async followLink(): Promise<boolean> {
    const now = realpathOf(this.dir);
    if (now === this.target || !this.fsw) return false;
    this.target = now;
    await this.fsw.close();
    this.startFsWatch();
    this.opts.changed(this.dir);
    await this.opts.moved(now);
    return true;
  }

  async close(): Promise<void> {
    clearInterval(this.linkTimer);
    await this.fsw?.close();
  }

  private startFsWatch(): Promise<void> {
    const fsw = chokidar.watch([this.dir, ...this.outsideInputs()], { ignoreInitial: true, awaitWriteFinish: false });
    this.fsw = fsw;
    const on = (p: string) => this.opts.changed(path.basename(p).startsWith('..') ? this.dir : p);
    fsw.on('add', on).on('change', on).on('unlink', on).on('addDir', on).on('unlinkDir', on);
    fsw.on('error', (e) => this.opts.error(e));
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, READY_WAIT_MS);
      timer.unref();
      fsw.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private outsideInputs(): string[] {
    const inside = this.dir + path.sep;
    return [...this.opts.inputs()].filter((f) => !f.startsWith(inside));
  }
}

function realpathOf(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}
