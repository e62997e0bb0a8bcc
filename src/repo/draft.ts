/**
 * A batch's working copy of `state/`: the records as intents change them, and the record files
 * changed so far, which become the commit. Pure.
 */
import type {
  DeploymentRecord, LeaseRecord, ReleaseRecord, RetiringRecord, RulesRecord, SettingsRecord, SourceRecord, StateRecords, WorkspaceRecord,
} from '../../core/records.ts';

/** Mutable copy of the records, plus the record files changed so far. */
export class StateDraft {
  readonly groups: Map<string, StateRecords['groups'] extends ReadonlyMap<string, infer V> ? V : never>;
  readonly removals: Map<string, StateRecords['removals'] extends ReadonlyMap<string, infer V> ? V : never>;
  readonly releases: Map<string, ReleaseRecord[]>;
  readonly deployments: Map<string, DeploymentRecord[]>;
  readonly workspaces: Map<string, WorkspaceRecord>;
  readonly leases: Map<string, LeaseRecord>;
  readonly sources: Map<string, SourceRecord>;
  readonly rules: Map<string, RulesRecord>;
  readonly retiring: Map<string, RetiringRecord>;
  settings?: SettingsRecord;
  /** Record file path -> new content, or null when deleted. */
  readonly writes = new Map<string, string | null>();

  /**
   * `knownGroups`: the groups the definitions make; `nodePorts`: every nodePort their synthesis
   * holds (a new workspace takes none of them).
   */
  constructor(state: StateRecords, public readonly now: Date, public readonly knownGroups: ReadonlySet<string>, public readonly nodePorts: ReadonlySet<number> = new Set()) {
    this.groups = new Map(state.groups);
    this.removals = new Map(state.removals);
    this.releases = new Map([...state.releases].map(([k, v]) => [k, [...v]]));
    this.deployments = new Map([...state.deployments].map(([k, v]) => [k, [...v]]));
    this.workspaces = new Map(state.workspaces);
    this.leases = new Map(state.leases);
    this.sources = new Map(state.sources);
    this.rules = new Map(state.rules);
    this.retiring = new Map(state.retiring);
    this.settings = state.settings;
  }

  write([path, content]: readonly [string, string]): void {
    this.writes.set(path, content);
  }

  remove(path: string): void {
    this.writes.set(path, null);
  }
}

/**
 * Records of live objects (`namespace/name` keys) that changed, and those gone: each record as it
 * will read back from its file (the schema orders keys), so this commit renders as later ones will.
 */
export function applyLive<R extends { readonly namespace: string; readonly name: string }>(
  d: StateDraft, map: Map<string, R>, records: readonly R[], goneKeys: readonly string[], fileOf: (r: R) => readonly [string, string], pathOf: (r: R) => string,
): { changed: string[]; gone: string[] } {
  const changed: string[] = [];
  const gone: string[] = [];
  for (const r of records) {
    const key = `${r.namespace}/${r.name}`;
    const [file, text] = fileOf(r);
    const old = map.get(key);
    if (old && fileOf(old)[1] === text) continue;
    map.set(key, r);
    d.write([file, text]);
    changed.push(key);
  }
  for (const key of goneKeys) {
    const old = map.get(key);
    if (!old) continue;
    map.delete(key);
    d.remove(pathOf(old));
    gone.push(key);
  }
  return { changed, gone };
}

