/**
 * src/leases: the lease rules (Boskos's "ranch"), with no HTTP in them.
 *
 * Resources are typed, with a state, an owner and a heartbeat. The ranch is the authority in
 * memory: a change is decided synchronously (so two concurrent acquires can never pick the
 * same resource), then persisted as lease records through the store (a commit), and undone
 * if that fails. Heartbeats (`lastupdate`) stay in memory; after a restart every lease's clock
 * starts again from the restart. The clock is injected.
 *
 * Owns: lease state, pools, reaper and janitor rules. Must not touch: HTTP, git.
 */
import { leaseKey, type LeaseRecord } from '../../core/records.ts';
import { UserError } from '../errors.ts';
import { Entries } from './entries.ts';

export const FREE = 'free';
export const BUSY = 'busy';
export const DIRTY = 'dirty';
export const TOMBSTONE = 'tombstone';

/** Acquires remembered for their retries (a Boskos client sends a new request_id with each acquire, the same one with its retries). */
const MAX_REMEMBERED = 10_000;

export interface Resource {
  readonly type: string;
  readonly name: string;
  readonly state: string;
  readonly owner: string;
  /** Last heartbeat or change. */
  readonly lastUpdate: Date;
  readonly userdata: Readonly<Record<string, string>> | null;
  readonly generation: number;
}

export interface Metric {
  readonly type: string;
  readonly current: Record<string, number>;
  readonly owner: Record<string, number>;
  readonly total: Record<string, number>;
}

/** Where lease records go: a commit through the committer, answered once pushed. */
export interface LeaseStore {
  /** Resolves with the commit's sha once pushed (undefined when nothing needed to change). */
  persist(records: readonly LeaseRecord[], summary: string, requestId: string, requestedBy: string): Promise<string | undefined>;
  forget(keys: readonly string[], requestId: string): Promise<void>;
}

export interface PoolSpec {
  readonly type: string;
  readonly names: readonly string[];
}

interface Entry extends Resource {
  /** A resource dropped from its pool while held: it goes once released. */
  readonly retiring: boolean;
}

export class Ranch {
  private readonly entries = new Entries<Entry>();
  /** Acquires by `owner/request_id`, newest last: the resource taken and the commit of that acquire. */
  private readonly byRequest = new Map<string, { readonly type: string; readonly name: string; readonly pushed: Promise<unknown> }>();
  /** Groups whose pod scrapped their resource (GC), while it is dirty: group -> resource. */
  private readonly scrapped = new Map<string, string>();
  private readonly moved = new Map<string, Record<string, number>>();
  private pools = new Map<string, readonly string[]>();

  constructor(private readonly store: LeaseStore, private readonly now: () => Date) {}

  /** Loads the lease records from the repo (at start). Their heartbeats start now. */
  load(records: Iterable<LeaseRecord>): void {
    const at = this.now();
    for (const r of records) {
      this.entries.set(r.name, { type: r.type, name: r.name, state: r.state, owner: r.owner, userdata: r.userdata, generation: r.generation, lastUpdate: at, retiring: false });
    }
  }

  /**
   * Makes the pools these: new names appear `free`, names no longer listed go when nobody
   * holds them (their records are forgotten), held ones go on release.
   */
  async syncPools(pools: readonly PoolSpec[]): Promise<void> {
    const seen = new Map<string, string>();
    for (const p of pools) {
      for (const n of p.names) {
        const other = seen.get(n);
        if (other !== undefined && other !== p.type) throw new UserError('InvalidConfig', `lease resource "${n}" is in pools ${other} and ${p.type}; names must be unique`);
        seen.set(n, p.type);
      }
    }
    this.pools = new Map(pools.map((p) => [p.type, [...p.names]]));
    const at = this.now();
    for (const [name, type] of seen) {
      const e = this.entries.get(name);
      if (!e) this.entries.set(name, { type, name, state: FREE, owner: '', userdata: null, generation: 0, lastUpdate: at, retiring: false });
      else if (e.retiring || e.type !== type) this.entries.set(name, { ...e, type, retiring: false });
    }
    const gone: Entry[] = [];
    for (const e of this.entries.values()) {
      if (seen.has(e.name)) continue;
      if (e.owner && e.state !== FREE && e.state !== DIRTY) this.entries.set(e.name, { ...e, retiring: true });
      else gone.push(e);
    }
    if (gone.length) {
      for (const e of gone) this.entries.delete(e.name);
      await this.store.forget(gone.map((e) => leaseKey(e.type, e.name)), `pool-sync-${at.getTime()}`);
    }
  }

  get types(): string[] {
    return [...this.pools.keys()].sort();
  }

  list(type?: string): Resource[] {
    return [...this.entries.values()].filter((e) => !type || e.type === type).sort((a, b) => (a.name < b.name ? -1 : 1)).map(publicView);
  }

  get(name: string): Resource | undefined {
    const e = this.entries.get(name);
    return e && publicView(e);
  }

  /**
   * Takes the least recently used resource of `type` in `state`, moves it to `dest` for `owner`.
   * A retry (the same owner, type and `requestId`) gets the resource of the first call once that
   * call's commit is pushed, while the owner still holds it; if that commit failed, it tries anew.
   */
  async acquire(q: { type: string; state: string; dest: string; owner: string; requestId?: string }): Promise<Resource> {
    requireOwner(q.owner);
    const key = q.requestId ? `${q.owner}/${q.requestId}` : undefined;
    const prior = key ? this.byRequest.get(key) : undefined;
    if (prior && prior.type === q.type) {
      const landed = await prior.pushed.then(() => true, () => false);
      if (!landed) return this.acquire(q);
      const e = this.entries.get(prior.name);
      if (e && e.owner === q.owner && e.state === q.dest) return publicView(e);
    }
    const pick = this.entries.oldestTakeable(q.type, q.state);
    if (!pick) {
      // A type no resource has (an empty pool's too), as in Boskos and /metric.
      if (![...this.entries.values()].some((e) => e.type === q.type)) throw unknownType(q.type);
      throw new UserError('NoFreeResource', `no resource of type "${q.type}" is in state "${q.state}"`);
    }
    const next = this.change(pick, { state: q.dest, owner: q.owner });
    const pushed = this.commit([[pick, next]], `lease(${q.type}/${pick.name}): ${q.state} -> ${q.dest} for ${q.owner}`, q.requestId ?? `acquire-${pick.name}-${next.generation}`, q.owner);
    if (key) this.remember(key, { type: q.type, name: pick.name, pushed });
    await pushed;
    return publicView(next);
  }

  /** Keeps an acquire for its retries: the newest MAX_REMEMBERED, and none whose commit failed. */
  private remember(key: string, acquired: { readonly type: string; readonly name: string; readonly pushed: Promise<unknown> }): void {
    this.byRequest.delete(key);
    this.byRequest.set(key, acquired);
    acquired.pushed.catch(() => this.byRequest.get(key) === acquired && this.byRequest.delete(key));
    if (this.byRequest.size > MAX_REMEMBERED) this.byRequest.delete(this.byRequest.keys().next().value!);
  }

  /** Takes all the named resources in `state` at once, or none. */
  async acquireByState(q: { state: string; dest: string; owner: string; names: readonly string[] }): Promise<Resource[]> {
    requireOwner(q.owner);
    if (!q.names.length) throw new UserError('BadRequest', 'names must list at least one resource');
    const picks: Entry[] = [];
    for (const n of q.names) {
      const e = this.entries.get(n);
      if (!e) throw new UserError('UnknownResource', `resource "${n}" does not exist`);
      if (e.state !== q.state || e.retiring) throw new UserError('NoFreeResource', `resource "${n}" is in state "${e.state}", not "${q.state}"`);
      // As in Boskos: a resource someone holds is not taken, whatever its state.
      if (e.owner) throw new UserError('NoFreeResource', `resource "${n}" is held by "${e.owner}"`);
      picks.push(e);
    }
    const changes = picks.map((e) => [e, this.change(e, { state: q.dest, owner: q.owner })] as const);
    await this.commit(changes, `lease(${picks[0].type}/${q.names.join(',')}): ${q.state} -> ${q.dest} for ${q.owner}`, `acquirebystate-${q.owner}-${this.now().getTime()}`, q.owner);
    return changes.map(([, n]) => publicView(n));
  }

  /** Gives a resource back in state `dest`; releasing to `dirty` removes its environment. */
  async release(q: { name: string; dest: string; owner: string }): Promise<Resource> {
    const e = this.entries.get(q.name);
    if (!e) throw new UserError('UnknownResource', `resource "${q.name}" does not exist`);
    if (e.owner !== q.owner) throw new UserError('OwnerMismatch', `resource "${q.name}" is owned by "${e.owner || 'nobody'}", not "${q.owner}"`);
    const next = this.change(e, { state: e.retiring ? TOMBSTONE : q.dest, owner: '' });
    await this.commit([[e, next]], `lease(${e.type}/${e.name}): ${e.state} -> ${next.state} by ${q.owner}`, `release-${e.name}-${next.generation}`, q.owner);
    if (next.state === TOMBSTONE) await this.drop(next);
    return publicView(next);
  }

  /**
   * A pod of the resource's environment says its work is done (GC): the resource goes dirty,
   * whoever held it, and its environment is removed; the janitor brings it back free. Gives the
   * commit; undefined when it is dirty already.
   */
  async scrap(q: { name: string; group: string; requestId: string; requestedBy: string }): Promise<{ readonly commit?: string } | undefined> {
    const e = this.entries.get(q.name);
    if (!e) throw new UserError('UnknownResource', `resource "${q.name}" does not exist`);
    if (e.state === DIRTY) return undefined;
    const next = this.change(e, { state: e.retiring ? TOMBSTONE : DIRTY, owner: '' });
    const commit = await this.commit([[e, next]], `lease(${e.type}/${e.name}): ${e.state} -> ${next.state}, its work done (gc)`, q.requestId, q.requestedBy);
    if (next.state === TOMBSTONE) await this.drop(next);
    else this.scrapped.set(q.group, q.name);
    return { commit };
  }

  /** The resource of `group` when its pod scrapped it (GC) and it is still dirty: its environment is gone until the janitor. */
  scrappedBy(group: string): string | undefined {
    const name = this.scrapped.get(group);
    if (name !== undefined && this.entries.get(name)?.state === DIRTY) return name;
    this.scrapped.delete(group);
    return undefined;
  }

  /** Heartbeat: the owner says it still holds the resource in `state`. Userdata keys with an empty value are deleted. */
  async update(q: { name: string; owner: string; state: string; userdata?: Readonly<Record<string, string>> }): Promise<Resource> {
    const e = this.entries.get(q.name);
    if (!e) throw new UserError('UnknownResource', `resource "${q.name}" does not exist`);
    if (e.owner !== q.owner) throw new UserError('OwnerMismatch', `resource "${q.name}" is owned by "${e.owner || 'nobody'}", not "${q.owner}"`);
    if (e.state !== q.state) throw new UserError('StateMismatch', `resource "${q.name}" is in state "${e.state}", not "${q.state}"`);
    if (!q.userdata || !Object.keys(q.userdata).length) {
      const beat = { ...e, lastUpdate: this.now() };
      this.entries.set(e.name, beat);
      return publicView(beat);
    }
    const userdata: Record<string, string> = { ...(e.userdata ?? {}) };
    for (const [k, v] of Object.entries(q.userdata)) {
      if (v === '') delete userdata[k];
      else userdata[k] = v;
    }
    const next = this.change(e, { userdata: Object.keys(userdata).length ? userdata : null });
    await this.commit([[e, next]], `lease(${e.type}/${e.name}): update userdata for ${q.owner}`, `update-${e.name}-${next.generation}`, q.owner);
    return publicView(next);
  }

  /**
   * Moves owned resources of `type` in `state` not updated for `expireMs` to `dest`; answers
   * name -> former owner. As in Boskos, resources nobody owns are left alone.
   */
  async reset(q: { type: string; state: string; expireMs: number; dest: string }): Promise<Record<string, string>> {
    const cutoff = this.now().getTime() - q.expireMs;
    const hits = [...this.entries.values()].filter((e) => e.type === q.type && e.state === q.state && e.owner && e.lastUpdate.getTime() < cutoff);
    if (!hits.length) return {};
    const changes = hits.map((e) => [e, this.change(e, { state: q.dest, owner: '' })] as const);
    await this.commit(changes, `lease(${q.type}): reset ${hits.length} ${q.state} -> ${q.dest}`, `reset-${q.type}-${this.now().getTime()}`, 'paddock reset');
    return Object.fromEntries(hits.map((e) => [e.name, e.owner]));
  }

  /**
   * Boskos's `/metric`: resources of `type` per state and per owner, unowned ones under `""` as
   * Boskos counts them (the seed's document showed `"None"`, from an older Boskos); a type with no
   * resource is UnknownResource (404), as in Boskos. `total` (moves per destination) is paddock's.
   */
  metric(type: string): Metric {
    const current: Record<string, number> = {};
    const owner: Record<string, number> = {};
    let found = false;
    for (const e of this.entries.values()) {
      if (e.type !== type) continue;
      found = true;
      current[e.state] = (current[e.state] ?? 0) + 1;
      owner[e.owner] = (owner[e.owner] ?? 0) + 1;
    }
    if (!found) throw unknownType(type);
    return { type, current, owner, total: { ...(this.moved.get(type) ?? {}) } };
  }

  /** Reaper: held leases without a heartbeat for `expiryMs` go dirty (their environments are removed). */
  async reap(expiryMs: number): Promise<string[]> {
    const cutoff = this.now().getTime() - expiryMs;
    const stale = [...this.entries.values()].filter((e) => e.owner && e.state !== FREE && e.state !== DIRTY && e.lastUpdate.getTime() < cutoff);
    if (!stale.length) return [];
    const changes = stale.map((e) => [e, this.change(e, { state: DIRTY, owner: '' })] as const);
    await this.commit(changes, `lease(${stale[0].type}/${stale.map((e) => e.name).join(',')}): expired -> dirty`, `reap-${this.now().getTime()}`, 'paddock reaper');
    return stale.map((e) => e.name);
  }

  /** Janitor: dirty resources dirty for at least `afterMs` come back `free`, their environments re-provisioned. */
  async janitor(afterMs: number): Promise<string[]> {
    const cutoff = this.now().getTime() - afterMs;
    const dirty = [...this.entries.values()].filter((e) => e.state === DIRTY && e.lastUpdate.getTime() <= cutoff && !e.retiring);
    if (!dirty.length) return [];
    const changes = dirty.map((e) => [e, this.change(e, { state: FREE, owner: '', userdata: null })] as const);
    await this.commit(changes, `lease(${dirty[0].type}/${dirty.map((e) => e.name).join(',')}): dirty -> free (re-provisioned)`, `janitor-${this.now().getTime()}`, 'paddock janitor');
    return dirty.map((e) => e.name);
  }

  /** Forgets a resource dropped from its pool, once no one holds it. */
  private async drop(e: Entry): Promise<void> {
    this.entries.delete(e.name);
    await this.store.forget([leaseKey(e.type, e.name)], `retire-${e.name}-${e.generation}`);
  }

  /** Applies a change in memory at once and returns it; `commit` persists it or undoes it. */
  private change(e: Entry, patch: Partial<Pick<Entry, 'state' | 'owner' | 'userdata'>>): Entry {
    const next: Entry = { ...e, ...patch, generation: e.generation + 1, lastUpdate: this.now() };
    this.entries.set(e.name, next);
    return next;
  }

  private async commit(changes: ReadonlyArray<readonly [Entry, Entry]>, summary: string, requestId: string, requestedBy: string): Promise<string | undefined> {
    let commit: string | undefined;
    try {
      commit = await this.store.persist(changes.map(([, n]) => toRecord(n)), summary, requestId, requestedBy);
    } catch (e) {
      // Undo what nobody has built on since.
      for (const [before, after] of changes) if (this.entries.get(after.name) === after) this.entries.set(before.name, before);
      throw e;
    }
    for (const [before, after] of changes) {
      if (before.state === after.state) continue;
      const totals = this.moved.get(after.type) ?? {};
      totals[after.state] = (totals[after.state] ?? 0) + 1;
      this.moved.set(after.type, totals);
    }
    return commit;
  }
}

/**
 * A type no resource has, in Boskos's words: its Go client finds them in the answer to tell
 * ErrTypeNotFound from ErrNotFound. The type is quoted as JSON quotes it, which is Go's %q for
 * `"`, `\` and printable text (Go also escapes the non-printing characters the routes let by, such
 * as U+200B, which JSON leaves as they are).
 */
function unknownType(type: string): UserError {
  return new UserError('UnknownResource', `resource type ${JSON.stringify(type)} does not exist`);
}

function requireOwner(owner: string): void {
  if (!owner) throw new UserError('BadRequest', 'owner is required');
}

function publicView(e: Entry): Resource {
  return { type: e.type, name: e.name, state: e.state, owner: e.owner, lastUpdate: e.lastUpdate, userdata: e.userdata, generation: e.generation };
}

export function toRecord(r: Resource): LeaseRecord {
  return { type: r.type, name: r.name, state: r.state, owner: r.owner, generation: r.generation, userdata: r.userdata };
}
