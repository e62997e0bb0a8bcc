/**
 * `run` made safe to call in bursts: a call while a run is under way waits for one more run
 * after it, shared by every call that came meanwhile. A burst costs two runs, and each caller
 * gets the result of a run that started after it called.
 */
export function coalesced<T>(run: () => Promise<T>): () => Promise<T> {
  let current: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const call = (): Promise<T> => {
    if (!current) {
      current = run().finally(() => (current = undefined));
      return current;
    }
    next ??= current.catch(() => undefined).then(() => {
      next = undefined;
      return call();
    });
    return next;
  };
  return call;
}

/**
 * `run(value)` for many keyed values, at most `limit` at a time, in turn: a key waits while
 * another run of it is under way, and later keys go past it meanwhile. A key asked for again
 * while it waits runs once for every caller (with the value it was first asked with); asked for
 * while it runs, it runs again after. Each call resolves once a run of its key that started after
 * the call has ended. A run's errors are its own to handle: a rejection only ends that run.
 */
export function queuedByKey<T>(run: (value: T) => Promise<unknown>, limit: number): (key: string, value: T) => Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`queuedByKey: limit must be a positive integer, not ${limit}`);
  const waiting = new Map<string, { readonly ended: Promise<void>; readonly start: () => void }>();
  const running = new Set<string>();
  const next = () => {
    for (const [key, job] of waiting) {
      if (running.size >= limit) return;
      if (running.has(key)) continue;
      waiting.delete(key);
      running.add(key);
      job.start();
    }
  };
  return (key, value) => {
    let job = waiting.get(key);
    if (!job) {
      let start!: () => void;
      const started = new Promise<void>((resolve) => (start = resolve));
      const ended = started.then(() => run(value)).then(() => undefined, () => undefined).finally(() => {
        running.delete(key);
        next();
      });
      job = { ended, start };
      waiting.set(key, job);
      next();
    }
    return job.ended;
  };
}
