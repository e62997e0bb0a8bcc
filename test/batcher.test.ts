/**
 * The committer's batcher (src/repo/batcher.ts) on its own, on fake timers: how long it gathers
 * the callers of the last batch before the next one goes.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Batcher } from '../src/repo/batcher.ts';

describe('the batcher', () => {
  beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'performance'] }));
  afterEach(() => void vi.useRealTimers());

  /** A batcher whose writes record when each batch started (fake ms) and its items. */
  function recording() {
    const batches: Array<{ at: number; items: number[] }> = [];
    let release = () => {};
    const b = new Batcher<number, void>({
      maxBatch: 500,
      read: async () => undefined,
      write: async (items) => {
        batches.push({ at: performance.now(), items: [...items] });
        await new Promise<void>((r) => (release = r));
      },
    });
    return { b, batches, answer: () => release() };
  }

  /** A recording batcher whose first batch, of callers 1 to 4, is under way. */
  async function batchOfFour() {
    const r = recording();
    for (const i of [1, 2, 3, 4]) r.b.add(i);
    await vi.advanceTimersByTimeAsync(0);
    return r;
  }

  it('GIVEN a batch of 4 answered, one caller back before the gather WHEN the other 3 come 2 ms later THEN the next batch holds all 4 and goes 3 quiet ticks after the last, not 6', async () => {
    const { b, batches, answer } = await batchOfFour();
    expect(batches.map((x) => x.items)).toEqual([[1, 2, 3, 4]]);
    b.add(1); // back before the batch is over: counted among those waiting and among the last batch's callers
    answer();
    await vi.advanceTimersByTimeAsync(0);
    const start = performance.now();
    await vi.advanceTimersByTimeAsync(2);
    for (const i of [2, 3, 4]) b.add(i);
    await vi.advanceTimersByTimeAsync(10);
    expect(batches.map((x) => x.items)).toEqual([[1, 2, 3, 4], [1, 2, 3, 4]]);
    expect(batches[1].at - start).toBeLessThanOrEqual(6);
    answer();
    await b.drained();
  });

  it('GIVEN a batch of 4 answered and 2 others waiting since its write WHEN 2 of the 4 come back, then after 2 quiet ms the other 2 THEN the next batch holds all 6', async () => {
    const { b, batches, answer } = await batchOfFour();
    b.add(5);
    b.add(6); // not the batch's callers: they came during its write
    answer();
    await vi.advanceTimersByTimeAsync(0);
    b.add(1);
    b.add(2); // as many waiting as the batch held: not yet all of them
    await vi.advanceTimersByTimeAsync(2);
    b.add(3);
    b.add(4);
    await vi.advanceTimersByTimeAsync(10);
    expect(batches.map((x) => x.items)).toEqual([[1, 2, 3, 4], [5, 6, 1, 2, 3, 4]]);
    answer();
    await b.drained();
  });

  it('GIVEN a batch of 4 answered WHEN only 2 come back THEN the next batch goes with them once none came for 6 ticks', async () => {
    const { b, batches, answer } = await batchOfFour();
    answer();
    await vi.advanceTimersByTimeAsync(0);
    const start = performance.now();
    b.add(1);
    b.add(2);
    await vi.advanceTimersByTimeAsync(5);
    expect(batches).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(10);
    expect(batches.map((x) => x.items)).toEqual([[1, 2, 3, 4], [1, 2]]);
    expect(batches[1].at - start).toBeGreaterThanOrEqual(6);
    answer();
    await b.drained();
  });
});
