/**
 * The lease rules against a store whose commits the test lands or fails by hand: what a caller
 * is told while a commit is under way, and when it fails.
 */
import { describe, expect, it } from 'vitest';
import type { LeaseRecord } from '../core/records.ts';
import { Entries, type Takeable } from '../src/leases/entries.ts';
import { Ranch, type LeaseStore } from '../src/leases/ranch.ts';
import { settled } from './helpers/turns.ts';

/** A store that holds each commit until the test lands or fails it. */
class HeldStore implements LeaseStore {
  readonly commits: Array<{ readonly records: readonly LeaseRecord[]; readonly land: () => void; readonly fail: (e: Error) => void }> = [];
  persist(records: readonly LeaseRecord[]): Promise<string | undefined> {
    return new Promise((land, fail) => this.commits.push({ records, land: () => land(`commit-${this.commits.length}`), fail }));
  }
  async forget(): Promise<void> {}
}

/** A seeded random integer below n (mulberry32): the same sequence every run. */
function seeded(seed: number): (n: number) => number {
  return (n) => {
    let t = (seed = (seed + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) % n;
  };
}

async function ranchOf(pools: Record<string, string[]>) {
  const store = new HeldStore();
  const ranch = new Ranch(store, () => new Date('2026-12-02T10:00:00Z'));
  const synced = ranch.syncPools(Object.entries(pools).map(([type, names]) => ({ type, names })));
  await synced;
  return { store, ranch };
}

describe('the lease ranch', () => {
  it('GIVEN a type no resource has (none defined, an empty pool, a quote in its name) WHEN acquired or counted THEN UnknownResource in Boskos\'s words, the type quoted as Go\'s %q quotes it; a type with none free is NoFreeResource', async () => {
    const { store, ranch } = await ranchOf({ proj: ['proj-1'], empty: [] });
    // Go: fmt.Sprintf("resource type %q does not exist", rtype).
    for (const [type, quoted] of [['nope', '"nope"'], ['empty', '"empty"'], [String.raw`a"b\c`, String.raw`"a\"b\\c"`]]) {
      const words = `resource type ${quoted} does not exist`;
      await expect(ranch.acquire({ type, state: 'free', dest: 'busy', owner: 'ci' })).rejects.toMatchObject({ code: 'UnknownResource', message: words });
      expect(() => ranch.metric(type)).toThrow(words);
    }
    await expect(ranch.acquire({ type: 'proj', state: 'dirty', dest: 'busy', owner: 'ci' })).rejects.toMatchObject({ code: 'NoFreeResource' });
    expect(store.commits).toHaveLength(0);
  });

  it('GIVEN an acquire whose commit is not pushed yet WHEN retried with its request_id THEN the retry waits for that push, and when it fails tries anew', async () => {
    const { store, ranch } = await ranchOf({ proj: ['proj-1', 'proj-2'] });
    const q = { type: 'proj', state: 'free', dest: 'busy', owner: 'ci', requestId: 'rq-1' };
    const first = ranch.acquire(q);
    const retry = ranch.acquire(q);
    expect(await settled(retry)).toBe(false);
    expect(store.commits).toHaveLength(1);

    store.commits[0].fail(new Error('push rejected'));
    await expect(first).rejects.toThrow('push rejected');
    await settled(retry);
    expect(store.commits).toHaveLength(2);
    expect(await settled(retry)).toBe(false);
    store.commits[1].land();
    const got = await retry;
    expect([got.name, got.owner, got.state]).toEqual([store.commits[1].records[0].name, 'ci', 'busy']);

    // Once pushed, a retry gets that resource at once, without a commit.
    await expect(ranch.acquire(q)).resolves.toMatchObject({ name: got.name, owner: 'ci' });
    expect(store.commits).toHaveLength(2);
  });

  it('GIVEN a request_id used for one type WHEN the same owner acquires another type with it THEN it gets a resource of that type', async () => {
    const { store, ranch } = await ranchOf({ proj: ['proj-1'], cluster: ['cluster-1'] });
    const a = ranch.acquire({ type: 'proj', state: 'free', dest: 'busy', owner: 'ci', requestId: 'same' });
    store.commits[0].land();
    await a;
    const b = ranch.acquire({ type: 'cluster', state: 'free', dest: 'busy', owner: 'ci', requestId: 'same' });
    await settled(b);
    store.commits[1].land();
    await expect(b).resolves.toMatchObject({ type: 'cluster', name: 'cluster-1' });
  });

  it('GIVEN a resource someone holds WHEN another owner acquires it by state THEN NoFreeResource, nothing is committed, and it stays theirs', async () => {
    const { store, ranch } = await ranchOf({ proj: ['proj-1', 'proj-2'] });
    const held = ranch.acquire({ type: 'proj', state: 'free', dest: 'busy', owner: 'alice' });
    store.commits[0].land();
    const { name } = await held;
    const taken = ranch.acquireByState({ state: 'busy', dest: 'busy', owner: 'mallory', names: [name] });
    await expect(taken).rejects.toMatchObject({ code: 'NoFreeResource', message: expect.stringContaining('held by "alice"') });
    expect(store.commits).toHaveLength(1);
    expect(ranch.get(name)).toMatchObject({ owner: 'alice', state: 'busy' });
  });

  it('GIVEN random acquires, releases, heartbeats, janitor and reset runs, a fifth of their commits failing (and undone) WHEN each acquire is answered THEN it took what a scan of the pool says: free of owners, in the state asked, least recently updated, then by name', async () => {
    const rnd = seeded(11);
    let t = Date.UTC(2026, 11, 3);
    const ranch = new Ranch({
      persist: async () => (rnd(5) === 0 ? Promise.reject(new Error('push rejected')) : 'commit'),
      forget: async () => {},
    }, () => new Date((t += rnd(2) * 1000)));
    await ranch.syncPools([{ type: 'a', names: ['a-1', 'a-2', 'a-3', 'a-4', 'a-5'] }, { type: 'b', names: ['b-1', 'b-2'] }]);
    const owners = ['ci-1', 'ci-2', 'ci-3'];
    let acquired = 0;
    for (let step = 0; step < 3_000; step++) {
      const held = ranch.list().filter((r) => r.owner);
      const op = rnd(10);
      if (op < 4) {
        const [type, state, owner] = [['a', 'b'][rnd(2)], ['free', 'dirty'][rnd(4) ? 0 : 1], owners[rnd(3)]];
        const want = ranch.list(type).filter((r) => r.state === state && !r.owner)
          .sort((x, y) => x.lastUpdate.getTime() - y.lastUpdate.getTime() || (x.name < y.name ? -1 : 1))[0];
        const got = await ranch.acquire({ type, state, dest: 'busy', owner }).catch((e: Error) => e);
        if (got instanceof Error && /push rejected/.test(got.message)) expect(want, `step ${step}`).toBeDefined();
        else if (got instanceof Error) expect([step, got.message, want]).toEqual([step, expect.stringContaining('no resource'), undefined]);
        else {
          expect([step, got.name]).toEqual([step, want?.name]);
          acquired++;
        }
      } else if (op < 7 && held.length) {
        const r = held[rnd(held.length)];
        await ranch.release({ name: r.name, dest: ['free', 'dirty'][rnd(3) ? 0 : 1], owner: r.owner }).catch(() => undefined);
      } else if (op < 9 && held.length) {
        const r = held[rnd(held.length)];
        await ranch.update({ name: r.name, owner: r.owner, state: r.state });
      } else if (rnd(2)) await ranch.janitor(0).catch(() => undefined);
      else await ranch.reset({ type: 'a', state: 'busy', expireMs: 2_000, dest: 'free' }).catch(() => undefined);
    }
    expect(acquired).toBeGreaterThan(500);
  });
});

describe('the order acquires take resources in (Entries)', () => {
  it('GIVEN thousands of random changes, deletions and undos over a few resources WHEN asked after each THEN the pick is always what a scan of every resource gives: nobody holds it, no pool drops it, least recently updated, then by name', () => {
    const rnd = seeded(7);
    const entries = new Entries<Takeable>();
    const names = Array.from({ length: 12 }, (_, i) => `r-${i}`);
    const kinds = [['a', 'free'], ['a', 'dirty'], ['b', 'free']] as const;
    const scan = (type: string, state: string) => {
      let pick: Takeable | undefined;
      for (const e of entries.values()) {
        if (e.type !== type || e.state !== state || e.owner || e.retiring) continue;
        if (!pick || e.lastUpdate < pick.lastUpdate || (e.lastUpdate.getTime() === pick.lastUpdate.getTime() && e.name < pick.name)) pick = e;
      }
      return pick;
    };
    let picked = 0;
    for (let step = 0; step < 5_000; step++) {
      const name = names[rnd(names.length)];
      const old = entries.get(name);
      if (rnd(10) === 0) entries.delete(name);
      else if (old && rnd(5) === 0) entries.set(name, old); // an undo puts an earlier entry back
      else {
        const [type, state] = kinds[rnd(kinds.length)];
        // Few distinct times, so that ties fall to the name.
        entries.set(name, { type, name, state, owner: rnd(3) ? '' : 'ci', retiring: rnd(8) === 0, lastUpdate: new Date(Date.UTC(2026, 11, 3, 0, 0, rnd(6))) });
      }
      for (const [type, state] of kinds) {
        const want = scan(type, state);
        expect(entries.oldestTakeable(type, state), `step ${step}, ${type}/${state}`).toBe(want);
        if (want) picked++;
      }
    }
    expect(picked).toBeGreaterThan(5_000);

    // Changes that leave stale entries under the top (and under a state no acquire asks for):
    // the heaps are rebuilt, not left to grow, and a rebuilt heap picks as the scan does.
    const grown = entries.queued;
    for (let step = 0; step < 3_000; step++) {
      const name = names[rnd(names.length)];
      entries.set(name, { type: 'a', name, state: 'dirty', owner: rnd(3) ? '' : 'ci', retiring: rnd(8) === 0, lastUpdate: new Date(Date.UTC(2026, 11, 3, 0, 0, rnd(6))) });
      expect(entries.oldestTakeable('a', 'dirty'), `step ${step}`).toBe(scan('a', 'dirty'));
    }
    expect(entries.queued).toBeLessThanOrEqual(Math.max(grown, 2 * entries.size + 8 * kinds.length));
  });

  const at = (s: number) => new Date(Date.UTC(2026, 11, 3, 0, 0, s));

  it('GIVEN a state that changes many times without an acquire asking for it WHEN compacted THEN only its own current resources stay, and each state still picks its own', () => {
    const entries = new Entries<Takeable>();
    const x = { type: 'a', name: 'x', state: 'free', owner: '', retiring: false, lastUpdate: at(0) };
    const y = { type: 'b', name: 'y', state: 'dirty', owner: '', retiring: false, lastUpdate: at(0) };
    entries.set('x', x).set('y', y).set('w', { type: 'a', name: 'w', state: 'dirty', owner: 'ci', retiring: false, lastUpdate: at(0) });
    let z!: Takeable;
    for (let i = 1; i <= 200; i++) entries.set('z', (z = { type: 'a', name: 'z', state: 'dirty', owner: '', retiring: false, lastUpdate: at(i) }));
    expect(entries.queued).toBeLessThan(20);
    expect([entries.oldestTakeable('a', 'dirty'), entries.oldestTakeable('a', 'free'), entries.oldestTakeable('b', 'dirty')]).toEqual([z, x, y]);
  });

  it('GIVEN a resource released into a new state each time (callers name the states) WHEN 20,000 times THEN the heaps hold no more than it', () => {
    const entries = new Entries<Takeable>();
    for (let i = 0; i < 20_000; i++) entries.set('r', { type: 'a', name: 'r', state: `s-${i}`, owner: '', retiring: false, lastUpdate: at(i % 60) });
    expect(entries.queued).toBe(1);
    expect(entries.oldestTakeable('a', 's-19999')?.state).toBe('s-19999');
    expect(entries.oldestTakeable('a', 's-0')).toBeUndefined();
    entries.delete('r');
    expect([entries.queued, entries.oldestTakeable('a', 's-19999')]).toEqual([0, undefined]);
  });
});
