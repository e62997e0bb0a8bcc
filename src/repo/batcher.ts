/**
 * The committer's batcher: one worker loop over a queue of writes and a list of waiting reads.
 * Reads are served first, all of them by one `read`; then the writes that are waiting go out as
 * one batch (at most `maxBatch`), after a short gather when the last batch was a crowd. Nothing
 * here knows git or intents.
 */

/**
 * Longest the loop waits for callers of the last batch to come back (see `gather`): 200 callers
 * answered are back within about 40 ms here (each answer and each new request parsed on node's
 * one thread, and on the callers' side). The committer answers a batch a few callers to a turn
 * of the event loop, inside `write`: the first may be back, and queued, before `write` returns.
 */
const GATHER_MAX_MS = 50;
/** ...and stops waiting once no caller came for this many 1 ms ticks... */
const GATHER_QUIET_TICKS = 6;
/**
 * ...or for this many, once as many as the last batch are back: some of those waiting before the
 * gather may be that batch's callers already, so `want` can be more than will come; others that
 * are not may still be followed by some of the last batch's after a pause.
 */
const GATHER_SETTLED_TICKS = 3;

export interface BatcherOptions<T, R> {
  readonly maxBatch: number;
  /** Runs one batch; it answers every item of it. */
  readonly write: (batch: T[]) => Promise<void>;
  /** Gives what every waiting reader gets (or throws what they all get). */
  readonly read: () => Promise<R>;
  /** `n` items shared a batch with another. */
  readonly coalesced?: (n: number) => void;
}

export class Batcher<T, R> {
  private readonly queue: T[] = [];
  private readonly reads: Array<{ resolve: (v: R) => void; reject: (e: unknown) => void }> = [];
  private loop?: Promise<void>;
  /** How many items the last batch held (see `gather`). */
  private crowd = 0;

  constructor(private readonly opts: BatcherOptions<T, R>) {}

  /** Queues a write; the batch that takes it answers it. */
  add(item: T): void {
    this.queue.push(item);
    this.kick();
  }

  /** Waits for the next read, between batches. */
  read(): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.reads.push({ resolve, reject });
      this.kick();
    });
  }

  /** Up to `room` writes that arrived since the batch began, to ride along with it. */
  take(room: number): T[] {
    const more = room > 0 ? this.queue.splice(0, room) : [];
    if (more.length) this.opts.coalesced?.(more.length);
    return more;
  }

  /** Resolves once the queue and the reads are drained. */
  async drained(): Promise<void> {
    while (this.loop) await this.loop;
  }

  private kick(): void {
    if (this.loop) return;
    this.loop = (async () => {
      try {
        while (this.queue.length || this.reads.length) {
          if (this.reads.length) await this.serveReads();
          if (!this.queue.length) continue;
          await this.gather();
          const batch = this.queue.splice(0, this.opts.maxBatch);
          if (batch.length > 1) this.opts.coalesced?.(batch.length - 1);
          await this.opts.write(batch);
          this.crowd = batch.length;
        }
      } finally {
        this.loop = undefined;
      }
    })();
  }

  /**
   * Group commit: the callers the last batch answered tend to come straight back, and the first
   * of them would otherwise start a batch alone and leave the rest for the next one. Wait (a few
   * ms, never more than GATHER_MAX_MS) while they are still coming, so they share a batch. A
   * lone caller (the watcher, a CLI) never waits.
   */
  private async gather(): Promise<void> {
    if (this.crowd < 2) return;
    const want = Math.min(this.opts.maxBatch, this.queue.length + this.crowd);
    const until = performance.now() + GATHER_MAX_MS;
    let seen = this.queue.length;
    let still = 0;
    while (this.queue.length < want && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 1));
      still = this.queue.length === seen ? still + 1 : 0;
      seen = this.queue.length;
      if (still >= (seen >= this.crowd ? GATHER_SETTLED_TICKS : GATHER_QUIET_TICKS)) break;
    }
  }

  private async serveReads(): Promise<void> {
    const readers = this.reads.splice(0);
    try {
      const v = await this.opts.read();
      for (const r of readers) r.resolve(v);
    } catch (e) {
      for (const r of readers) r.reject(e);
    }
  }
}
