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
