/**
 * The ranch's resources by name, with the ones an acquire may take kept in the order it takes
 * them: per type and state, a heap of the resources nobody holds (and no pool is dropping), the
 * least recently updated first, then by name, as Boskos picks. An acquire was a scan of every
 * resource (about 30 µs at 500; 64 acquires arriving together held node's thread 2 ms).
 *
 * The heaps are lazy: a resource changed or deleted leaves its old entry behind, dropped when it
 * reaches the top (entries are replaced, never mutated, so "still current" is identity). A heap
 * that holds more than twice its resources (and a few) is compacted, and one whose last resource
 * left is dropped: memory stays in proportion to the resources, whatever states callers use.
 *
 * Owns: the order acquires pick in. Must not touch: commits, the clock.
 */

export interface Takeable {
  readonly type: string;
  readonly name: string;
  readonly state: string;
  readonly owner: string;
  readonly lastUpdate: Date;
  readonly retiring: boolean;
}

export class Entries<E extends Takeable> extends Map<string, E> {
  /** Per type and state: the heap, stale entries included, and how many resources it holds now. */
  private readonly heaps = new Map<string, { items: E[]; live: number }>();

  override set(name: string, e: E): this {
    this.leave(super.get(name));
    super.set(name, e);
    if (takeable(e)) {
      const key = keyOf(e.type, e.state);
      let heap = this.heaps.get(key);
      if (!heap) this.heaps.set(key, (heap = { items: [], live: 0 }));
      heap.live++;
      push(heap.items, e);
      if (heap.items.length > 2 * heap.live + 8) compact(heap.items, (x) => this.get(x.name) === x);
    }
    return this;
  }

  override delete(name: string): boolean {
    this.leave(super.get(name));
    return super.delete(name);
  }

  override clear(): void {
    this.heaps.clear();
    super.clear();
  }

  /** Entries the heaps hold, the stale ones included (what they cost in memory). */
  get queued(): number {
    let n = 0;
    for (const heap of this.heaps.values()) n += heap.items.length;
    return n;
  }

  /** The least recently updated resource of `type` in `state` that nobody holds, if any. */
  oldestTakeable(type: string, state: string): E | undefined {
    const items = this.heaps.get(keyOf(type, state))?.items;
    while (items?.length) {
      const top = items[0];
      if (this.get(top.name) === top) return top;
      pop(items);
    }
    return undefined;
  }

  /** `e` is no longer its resource's entry: its heap holds one resource fewer, and goes with the last. */
  private leave(e: E | undefined): void {
    if (!e || !takeable(e)) return;
    const key = keyOf(e.type, e.state);
    const heap = this.heaps.get(key)!;
    if (--heap.live === 0) this.heaps.delete(key);
  }
}

const keyOf = (type: string, state: string) => `${type}\0${state}`;

function takeable(e: Takeable): boolean {
  return !e.owner && !e.retiring;
}

/** a before b: updated earlier, or at the same time and named first. */
function before(a: Takeable, b: Takeable): boolean {
  const d = a.lastUpdate.getTime() - b.lastUpdate.getTime();
  return d < 0 || (d === 0 && a.name < b.name);
}

function push<E extends Takeable>(heap: E[], e: E): void {
  heap.push(e);
  for (let i = heap.length - 1; i > 0; ) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i], heap[parent])) break;
    [heap[i], heap[parent]] = [heap[parent], heap[i]];
    i = parent;
  }
}

/** Keeps the entries still current, once each, in order (a sorted array is a heap). */
function compact<E extends Takeable>(heap: E[], current: (e: E) => boolean): void {
  const kept = [...new Set(heap.filter(current))].sort((a, b) => (before(a, b) ? -1 : 1));
  heap.length = 0;
  heap.push(...kept);
}

function pop<E extends Takeable>(heap: E[]): void {
  const last = heap.pop()!;
  if (!heap.length) return;
  heap[0] = last;
  for (let i = 0; ; ) {
    const l = 2 * i + 1;
    const r = l + 1;
    let least = i;
    if (l < heap.length && before(heap[l], heap[least])) least = l;
    if (r < heap.length && before(heap[r], heap[least])) least = r;
    if (least === i) return;
    [heap[i], heap[least]] = [heap[least], heap[i]];
    i = least;
  }
}
