/**
 * A long-running command's life (`serve`, `watch`, `up`): startup, serving until SIGINT or
 * SIGTERM, then stopping. The signal handlers are in place from the first step: a signal during
 * startup lets the step under way finish (a commit is never cut in half), then stops what had
 * started; a second signal ends the process at once. A startup that fails stops what it started
 * before its error is reported, so no port, informer or work tree outlives it.
 */

const EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export class Lifecycle {
  /** Resolves with the first signal's name. */
  readonly signalled: Promise<string>;
  private readonly stops: Array<() => Promise<void> | void> = [];
  private readonly stoppingHooks: Array<() => void> = [];
  private stopping?: Promise<void>;

  constructor(private readonly say: (line: string) => void) {
    this.signalled = new Promise((resolve) => {
      let seen = false;
      const on = (sig: string) => () => {
        if (seen) {
          this.say(`${sig} again: exiting now`);
          process.exit(EXIT_CODES[sig] ?? 1);
        }
        seen = true;
        resolve(sig);
      };
      process.on('SIGINT', on('SIGINT'));
      process.on('SIGTERM', on('SIGTERM'));
    });
  }

  /** How to stop a part just started. Parts stop in the reverse order of their starts. */
  onStop(stop: () => Promise<void> | void): void {
    this.stops.push(stop);
  }

  /** Told as soon as stopping begins, before any part stops (a committer's waiting batches give up). */
  onStopping(hook: () => void): void {
    this.stoppingHooks.push(hook);
  }

  /**
   * Runs `startup`. True once it is done; false when a signal came during it (what started is
   * stopped by then). When it fails, what started is stopped and its error thrown.
   */
  async start(startup: () => Promise<void>): Promise<boolean> {
    let failure: { error: unknown } | undefined;
    const done = startup().catch((error: unknown) => void (failure = { error }));
    const first = await Promise.race([done.then(() => undefined), this.signalled]);
    if (first !== undefined) {
      this.say(`${first}: stopping once the step under way is done`);
      this.beginStopping();
      await done;
      await this.stop();
      return false;
    }
    if (failure) {
      await this.stop();
      throw failure.error;
    }
    return true;
  }

  private beginStopping(): void {
    for (const hook of this.stoppingHooks.splice(0)) hook();
  }

  /** Stops every part started, last first; a part that fails to stop does not keep the others running. */
  stop(): Promise<void> {
    this.beginStopping();
    this.stopping ??= (async () => {
      for (const stop of this.stops.reverse()) {
        try {
          await stop();
        } catch (e) {
          this.say(`while stopping: ${(e as Error)?.message ?? String(e)}`);
        }
      }
    })();
    return this.stopping;
  }
}
