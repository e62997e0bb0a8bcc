/**
 * State records seen through a recorder: which records a definition file read while it was
 * built. A file's synth output can be reused as long as those records are unchanged.
 */
import type { StateRecords } from '../../core/records.ts';

type Section = Exclude<keyof StateRecords, 'settings'>;
const SECTIONS: readonly Section[] = ['groups', 'removals', 'releases', 'deployments', 'workspaces', 'leases', 'sources', 'rules'];

/** What one build read: `section:key`, or `section:*` for the whole section. */
export type Reads = Set<string>;

class TrackedMap<V> implements ReadonlyMap<string, V> {
  constructor(private readonly inner: ReadonlyMap<string, V>, private readonly section: Section, private readonly reads: Reads) {}
  get(key: string): V | undefined {
    this.reads.add(`${this.section}:${key}`);
    return this.inner.get(key);
  }
  has(key: string): boolean {
    this.reads.add(`${this.section}:${key}`);
    return this.inner.has(key);
  }
  get size(): number {
    return this.all().size;
  }
  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    this.all().forEach((v, k) => fn(v, k, this));
  }
  entries() {
    return this.all().entries();
  }
  keys() {
    return this.all().keys();
  }
  values() {
    return this.all().values();
  }
  [Symbol.iterator]() {
    return this.all()[Symbol.iterator]();
  }
  private all(): ReadonlyMap<string, V> {
    this.reads.add(`${this.section}:*`);
    return this.inner;
  }
}

export function trackedState(state: StateRecords, reads: Reads): StateRecords {
  return {
    groups: new TrackedMap(state.groups, 'groups', reads),
    removals: new TrackedMap(state.removals, 'removals', reads),
    releases: new TrackedMap(state.releases, 'releases', reads),
    deployments: new TrackedMap(state.deployments, 'deployments', reads),
    workspaces: new TrackedMap(state.workspaces, 'workspaces', reads),
    leases: new TrackedMap(state.leases, 'leases', reads),
    sources: new TrackedMap(state.sources, 'sources', reads),
    rules: new TrackedMap(state.rules, 'rules', reads),
    // Read by the assembly (the emptied Applications), never by a definition's build.
    retiring: state.retiring,
    // Settings reach a build through the synth's own inputs (the cache is keyed on them).
    ...(state.settings ? { settings: state.settings } : {}),
  };
}

/** The values of what was read, as one comparable string. */
export function fingerprint(state: StateRecords, reads: Reads): string {
  const parts: string[] = [];
  for (const r of [...reads].sort()) {
    const at = r.indexOf(':');
    const section = r.slice(0, at) as Section;
    const key = r.slice(at + 1);
    if (!SECTIONS.includes(section)) continue;
    const map = state[section] as ReadonlyMap<string, unknown>;
    parts.push(`${r}=${JSON.stringify(key === '*' ? [...map].sort(([a], [b]) => (a < b ? -1 : 1)) : map.get(key))}`);
  }
  return parts.join('\n');
}
