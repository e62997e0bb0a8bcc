/** What a synthesis gives: the files, and what the runtime needs to know of the groups, pools, clones and releases in them. */
import type { ReleaseRules } from '../../constructs/release.ts';
import type { RetiringRecord } from '../../core/records.ts';

export interface GroupInfo {
  readonly name: string;
  /** The definition file that made it. */
  readonly file: string;
  readonly namespace: string;
  readonly owner?: string;
  readonly ttl?: string;
  readonly ttlMs?: number;
  /** When the TTL runs out (RFC 3339), once the group has a creation record. */
  readonly expiresAt?: string;
  /** Files under `groups/<name>/`. */
  readonly files: readonly string[];
  /** Set when the group is a lease pool's resource. */
  readonly lease?: { readonly type: string; readonly name: string };
  /** True when the group has a removal record: it is defined but not rendered. */
  readonly removed: boolean;
  /** True when no GC call may remove it (`Environment.excludeFromGc`: paddock's own group). */
  readonly gcExcluded?: boolean;
  /**
   * While it has objects (and a destination): what its retiring record takes from its files when
   * it leaves `apps/` (its Application's destination, the kinds of its objects without a
   * namespace), for a plan to take from here while the files are the ones rendered.
   */
  readonly leaving?: RetiringFacts;

}

export interface RetiringFacts {
  readonly namespace: string;
  readonly destination: RetiringRecord['destination'];
  /** Sorted by `<group>/<kind>`. */
  readonly clusterKinds: ReadonlyArray<{ readonly group: string; readonly kind: string }>;
}

export interface PoolInfo {
  readonly type: string;
  readonly names: readonly string[];
  readonly file: string;
}

export interface WaitingClone {
  readonly group: string;
  readonly file: string;
  /** `namespace/name` of the clone and of the source it waits for. */
  readonly clone: string;
  readonly source: string;
}

/** A `Release` construct: the group it renders into and the rules a release of its service must keep. */
export interface ReleaseTarget {
  readonly group: string;
  readonly file: string;
  readonly rules: ReleaseRules;
}

export interface SynthResult {
  /** Path -> content, sorted by path: `README.md`, `apps/`, `groups/`. */
  readonly files: ReadonlyMap<string, string>;
  readonly groups: readonly GroupInfo[];
  readonly pools: readonly PoolInfo[];
  readonly waiting: readonly WaitingClone[];
  /** `namespace/name` of every Deployment a clone names by reference and no definition makes (live sources, recorded in `state/sources/`). */
  readonly sources: readonly string[];
  /** `namespace/name` of every ConfigMap of clone rules definitions follow (recorded in `state/rules/`). */
  readonly liveRules: readonly string[];
  /** The `Release` constructs of each service. */
  readonly releases: ReadonlyMap<string, readonly ReleaseTarget[]>;
  /** Every nodePort the rendered Services hold (a new workspace takes another). */
  readonly nodePorts: ReadonlySet<number>;
}
