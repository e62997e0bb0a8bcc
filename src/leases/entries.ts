/**
 * The ranch's resources by name, with the ones an acquire may take kept in the order it takes
 * them: per type and state, a heap of the resources nobody holds (and no pool is dropping), the
 * least recently updated first, then by name, as Boskos picks. An acquire was a scan of every
 * resource (about 30 µs at 500; 64 acquires arriving together held node's thread 2 ms).
 *
 * The heaps are lazy: a resource changed or deleted leaves its old entry behind, dropped when it
 * reaches the top (entries are replaced, never mutated, so "still current" is identity). A heap
 * that holds many more entries than there are resources is rebuilt.
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
  private readonly heaps = new Map<string, E[]>();

  override set(name: string, e: E): this {
    super.set(name, e);
    if (takeable(e)) {
      const heap = this.heapOf(e.type, e.state);
      // Stale entries pile up under resources that change without being taken (a state no acquire asks for).
      if (heap.length > 2 * this.size + 64) this.rebuild(heap, e.type, e.state);
      else push(heap, e);
    }
    return this;
  }

  /** Entries the heaps hold, the stale ones included (what they cost in memory). */
  get queued(): number {
    let n = 0;
    for (const heap of this.heaps.values()) n += heap.length;
    return n;
  }

  /** The least recently updated resource of `type` in `state` that nobody holds, if any. */
  oldestTakeable(type: string, state: string): E | undefined {
    const heap = this.heaps.get(keyOf(type, state));
    while (heap?.length) {
      const top = heap[0];
      if (this.get(top.name) === top) return top;
      pop(heap);
    }
    return undefined;
  }

  private heapOf(type: string, state: string): E[] {
    const key = keyOf(type, state);
    let heap = this.heaps.get(key);
    if (!heap) this.heaps.set(key, (heap = []));
    return heap;
  }

  private rebuild(heap: E[], type: string, state: string): void {
    heap.length = 0;
    for (const e of this.values()) if (e.type === type && e.state === state && takeable(e)) push(heap, e);
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
