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
 * `run(key)` for many keys, at most `limit` at a time, in the order they were asked for. A key
 * asked for again while it waits its turn runs once for every caller; asked for while it runs,
 * it runs again after. Each call resolves once a run of its key that started after the call has
 * ended. A run's errors are its own to handle: a rejection only ends that run.
 */
export function queuedByKey(run: (key: string) => Promise<unknown>, limit: number): (key: string) => Promise<void> {
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
  return (key) => {
    let job = waiting.get(key);
    if (!job) {
      let start!: () => void;
      const started = new Promise<void>((resolve) => (start = resolve));
      const ended = started.then(() => run(key)).then(() => undefined, () => undefined).finally(() => {
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
