/**
 * queuedByKey: the bounded, per-key queue the Argo CD refresher patches through.
 */
import { describe, expect, it } from 'vitest';
import { queuedByKey } from '../src/coalesce.ts';
import { settled, turns } from './helpers/turns.ts';

/** A run the test ends by hand: each started run of a key, in order. */
function heldRuns() {
  const started: Array<{ readonly key: string; readonly end: () => void; readonly fail: (e: Error) => void }> = [];
  const run = (key: string) => new Promise<void>((end, fail) => started.push({ key, end, fail }));
  return { started, run };
}

/** The queue with each key its own value. */
function askOf(run: (key: string) => Promise<void>, limit: number): (key: string) => Promise<void> {
  const queue = queuedByKey(run, limit);
  return (key) => queue(key, key);
}

describe('queuedByKey', () => {
  it('GIVEN more keys than the limit WHEN asked for at once THEN at most the limit run at a time, in the order asked, and each caller resolves when its key has run', async () => {
    const { started, run } = heldRuns();
    const ask = askOf(run, 2);
    const calls = ['a', 'b', 'c', 'd'].map((k) => ask(k));
    await turns();
    expect(started.map((s) => s.key)).toEqual(['a', 'b']);
    started[1].end();
    await turns();
    expect(started.map((s) => s.key)).toEqual(['a', 'b', 'c']);
    expect([await settled(calls[0]), await settled(calls[1])]).toEqual([false, true]);
    started[0].end();
    started[2].end();
    await turns();
    expect(started.map((s) => s.key)).toEqual(['a', 'b', 'c', 'd']);
    started[3].end();
    await Promise.all(calls);
  });

  it('GIVEN a key waiting its turn WHEN asked for again THEN it runs once for both callers', async () => {
    const { started, run } = heldRuns();
    const ask = askOf(run, 1);
    const first = ask('x');
    const waitingTwice = [ask('y'), ask('y')];
    await turns();
    expect(started.map((s) => s.key)).toEqual(['x']);
    started[0].end();
    await turns();
    expect(started.map((s) => s.key)).toEqual(['x', 'y']);
    started[1].end();
    await Promise.all([first, ...waitingTwice]);
    await turns();
    expect(started).toHaveLength(2);
  });

  it('GIVEN a key running WHEN asked for again THEN it runs again after, and that caller waits for the second run', async () => {
    const { started, run } = heldRuns();
    const ask = askOf(run, 4);
    const first = ask('x');
    await turns();
    const again = ask('x');
    await turns();
    expect(started.map((s) => s.key)).toEqual(['x']);
    started[0].end();
    await turns();
    expect([await settled(first), await settled(again)]).toEqual([true, false]);
    expect(started.map((s) => s.key)).toEqual(['x', 'x']);
    started[1].end();
    await again;
  });

  it('GIVEN a key asked for again while it runs WHEN another key is asked for after THEN that key does not wait behind it', async () => {
    const { started, run } = heldRuns();
    const ask = askOf(run, 2);
    const first = ask('root');
    await turns();
    const again = ask('root');
    const other = ask('app');
    await turns();
    expect(started.map((s) => s.key)).toEqual(['root', 'app']);
    started[1].end();
    await other;
    started[0].end();
    await turns();
    expect(started.map((s) => s.key)).toEqual(['root', 'app', 'root']);
    started[2].end();
    await Promise.all([first, again]);
  });

  it('GIVEN a key waiting its turn WHEN asked for again with another value THEN it runs once, with the first value', async () => {
    const values: string[] = [];
    const { started, run } = heldRuns();
    const queue = queuedByKey((v: string) => (values.push(v), run(v)), 1);
    const busy = queue('busy', 'busy');
    const waiting = [queue('k', 'first'), queue('k', 'second')];
    await turns();
    started[0].end();
    await turns();
    started[1].end();
    await Promise.all([busy, ...waiting]);
    expect(values).toEqual(['busy', 'first']);
  });

  it('GIVEN a limit that is not a positive integer THEN it is refused at once (0 would never run anything)', () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) expect(() => queuedByKey(async () => {}, limit)).toThrow('limit must be a positive integer');
  });

  it('GIVEN a run that fails WHEN its caller waits THEN it resolves and the queue goes on', async () => {
    const { started, run } = heldRuns();
    const ask = askOf(run, 1);
    const failing = ask('bad');
    const next = ask('good');
    await turns();
    started[0].fail(new Error('boom'));
    await expect(failing).resolves.toBeUndefined();
    await turns();
    expect(started.map((s) => s.key)).toEqual(['bad', 'good']);
    started[1].end();
    await next;
  });
});
