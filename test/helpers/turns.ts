/** Lets pending promise callbacks run: 20 turns of the microtask queue, no timers. */
export async function turns(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Whether `p` has settled once pending callbacks have run. */
export async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await turns();
  return done;
}
