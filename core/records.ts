/**
 * The records paddock keeps under `state/` in the manifests repo, and their schemas.
 *
 * Records are inputs to synthesis (a release record picks the image a `Release` renders,
 * a lease record says whether a pool's resource exists). They are never applied to a
 * cluster. This module is pure: no I/O, no clock.
 */
import { z } from 'zod';
import { isDnsSubdomain, LEASE_WORD } from './names.ts';
import { HTTP_URL } from './urls.ts';

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const stringMap = z.record(z.string(), z.string());
/** RFC 3339 timestamps as written by paddock (`new Date().toISOString()`). */
const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 timestamp');

export const GroupRecordSchema = z.object({
  group: z.string().regex(dnsLabel),
  createdAt: timestamp,
});
export type GroupRecord = z.infer<typeof GroupRecordSchema>;

/** Why a removal record exists. A dirty lease, a deleted definition or a gone clone source removes no record: the group just leaves `apps/`. */
export const REMOVAL_REASONS = ['gc', 'ttl', 'demolish'] as const;
export const RemovalRecordSchema = z.object({
  group: z.string().regex(dnsLabel),
  removedAt: timestamp,
  reason: z.enum(REMOVAL_REASONS),
  requestId: z.string(),
  requestedBy: z.string(),
});
export type RemovalRecord = z.infer<typeof RemovalRecordSchema>;
export type RemovalReason = RemovalRecord['reason'];

export const ReleaseRecordSchema = z.object({
  id: z.string().min(1),
  service: z.string().regex(dnsLabel),
  version: z.string().min(1),
  image: z.string().optional(),
  namespace: z.string().optional(),
  registry: z.string().optional(),
  comment: z.string().optional(),
  attributes: stringMap.default({}),
  /** A mustache template of the service's manifests, when the release brought one. */
  template: z.string().optional(),
  createdAt: timestamp,
  deletedAt: timestamp.optional(),
});
export type ReleaseRecord = z.infer<typeof ReleaseRecordSchema>;

/**
 * `state/deployments/<service>/<id>.yaml`: a release sent to a context (kubernaut's Deployment):
 * a `Release` whose context waits for deployments renders the release of its newest one.
 */
export const DeploymentRecordSchema = z.object({
  id: z.string().min(1),
  service: z.string().regex(dnsLabel),
  /** The release's id, and its version for people. */
  release: z.string().min(1),
  version: z.string().min(1),
  context: z.string().regex(dnsLabel),
  createdAt: timestamp,
  deletedAt: timestamp.optional(),
});
export type DeploymentRecord = z.infer<typeof DeploymentRecordSchema>;

export const WorkspaceRecordSchema = z.object({
  name: z.string().regex(dnsLabel).max(63),
  email: z.string(),
  /** Memory in GiB. */
  ram: z.number().positive(),
  /** CPU cores. */
  cpu: z.number().positive(),
  /** PVC size as a Kubernetes quantity, e.g. `10Gi`. */
  storage: z.string(),
  publicKey: z.string(),
  port: z.number().int().min(1).max(65535),
  createdAt: timestamp,
  /** Set while the workspace is stopped: scaled to zero, its home volume and port kept. */
  stoppedAt: timestamp.optional(),
});
export type WorkspaceRecord = z.infer<typeof WorkspaceRecordSchema>;

export const LeaseRecordSchema = z.object({
  type: z.string().regex(LEASE_WORD),
  name: z.string().regex(LEASE_WORD),
  /** Boskos states: `free`, `busy`, `dirty`, `cleaning`, or any user state. `tombstone` ends a removed resource. */
  state: z.string().min(1),
  owner: z.string().default(''),
  generation: z.number().int().nonnegative().default(0),
  userdata: stringMap.nullable().default(null),
});
export type LeaseRecord = z.infer<typeof LeaseRecordSchema>;

/**
 * `state/settings.yaml`: the settings that change what is synthesized, shared by every writer,
 * and the GC secret's fingerprint (never the secret). Written by the first commit; changed only
 * by `paddock settings set`.
 */
export const SettingsRecordSchema = z.object({
  /** Base of every `GARBAGE_COLLECTOR_URL`. */
  sidecarUrl: z.string().regex(HTTP_URL, 'must be an http(s) URL'),
  argo: z.object({
    /** The URL Argo CD reads the manifests repo from (no credentials). */
    repoURL: z.string().min(1).regex(/^\S+$/, 'must have no spaces'),
    /** The branch Argo CD syncs. */
    targetRevision: z.string().min(1).regex(/^[^\s~^:?*[\\]+$/, 'must be a branch name'),
    /** Namespace Argo CD runs in. */
    namespace: z.string().regex(dnsLabel),
    /** paddock's AppProject for the groups (`<project>-apps` for the app of apps). */
    project: z.string().regex(dnsLabel).max(57).refine((p) => p !== 'default', 'cannot be "default"'),
  }).strict(),
  /** `hmac-sha256:<base64url>` of a fixed string under the GC secret. */
  gcSecretFingerprint: z.string().regex(/^hmac-sha256:[A-Za-z0-9_-]{43}$/, 'must be hmac-sha256:<43 base64url characters>'),
}).strict();
export type SettingsRecord = z.infer<typeof SettingsRecordSchema>;

/**
 * `state/sources/<namespace>/<name>.yaml`: what a clone needs of a live source Deployment, as the
 * watcher last saw it in the cluster (metadata labels and annotations, and the spec; no status).
 */
export const SourceRecordSchema = z.object({
  namespace: z.string().regex(dnsLabel),
  name: z.string().refine(isDnsSubdomain, 'must be a Deployment name (a DNS subdomain)'),
  deployment: z.object({
    apiVersion: z.literal('apps/v1'),
    kind: z.literal('Deployment'),
    metadata: z.object({ name: z.string(), namespace: z.string() }).loose(),
    spec: z.record(z.string(), z.unknown()),
  }).strict(),
}).strict();
export type SourceRecord = z.infer<typeof SourceRecordSchema>;

/**
 * `state/rules/<namespace>/<name>.yaml`: the data of a ConfigMap of clone rules in the cluster
 * that a definition follows (`Clone.fromLiveConfigMap`), as the watcher last saw it.
 */
export const RulesRecordSchema = z.object({
  namespace: z.string().regex(dnsLabel),
  name: z.string().refine(isDnsSubdomain, 'must be a ConfigMap name (a DNS subdomain)'),
  data: stringMap,
}).strict();
export type RulesRecord = z.infer<typeof RulesRecordSchema>;

/**
 * `state/retiring/<group>.yaml`: a group that left `apps/` (removed, its definition or lease gone).
 * Its Application stays, emptied (`retiredApplication`), while Argo CD prunes its objects, until
 * the leader's `retire` deletes it and sets `retiredAt`; `since` is when it was emptied. The record
 * stays after that, like a removal record, so the project keeps letting Argo CD reach where the
 * objects were: an Application's finalizer deletes only what its project permits, and a project
 * narrowed with the Application's deletion would leave any object the prune missed behind. A
 * group rendered again drops its record.
 */
export const RetiringRecordSchema = z.object({
  group: z.string().regex(dnsLabel),
  since: timestamp,
  namespace: z.string().regex(dnsLabel),
  destination: z.union([z.object({ server: z.string().min(1) }).strict(), z.object({ name: z.string().min(1) }).strict()]),
  /** Cluster-scoped kinds among its objects, which the project must keep allowing. */
  clusterKinds: z.array(z.object({ group: z.string(), kind: z.string().min(1) }).strict()).optional(),
  /** When the emptied Application left `apps/`. */
  retiredAt: timestamp.optional(),
}).strict();
export type RetiringRecord = z.infer<typeof RetiringRecordSchema>;

/** Everything synthesis reads from `state/`. */
export interface StateRecords {
  readonly groups: ReadonlyMap<string, GroupRecord>;
  readonly removals: ReadonlyMap<string, RemovalRecord>;
  /** By service, in no particular order. */
  readonly releases: ReadonlyMap<string, readonly ReleaseRecord[]>;
  /** By service, in no particular order. */
  readonly deployments: ReadonlyMap<string, readonly DeploymentRecord[]>;
  readonly workspaces: ReadonlyMap<string, WorkspaceRecord>;
  /** By `<type>/<name>`. */
  readonly leases: ReadonlyMap<string, LeaseRecord>;
  /** Live clone sources, by `<namespace>/<name>`. */
  readonly sources: ReadonlyMap<string, SourceRecord>;
  /** Live clone rules (ConfigMaps), by `<namespace>/<name>`. */
  readonly rules: ReadonlyMap<string, RulesRecord>;
  /** Groups that left `apps/`: emptied Applications still there, and those retired since. */
  readonly retiring: ReadonlyMap<string, RetiringRecord>;
  /** Undefined until the first commit that records them. */
  readonly settings?: SettingsRecord;
}

export const EMPTY_STATE: StateRecords = {
  groups: new Map(),
  removals: new Map(),
  releases: new Map(),
  deployments: new Map(),
  workspaces: new Map(),
  leases: new Map(),
  sources: new Map(),
  rules: new Map(),
  retiring: new Map(),
};

/** Where each record lives in the manifests repo. */
export const recordPath = {
  group: (group: string) => `state/groups/${group}.yaml`,
  removal: (group: string) => `state/removals/${group}.yaml`,
  release: (service: string, id: string) => `state/releases/${service}/${id}.yaml`,
  deployment: (service: string, id: string) => `state/deployments/${service}/${id}.yaml`,
  workspace: (name: string) => `state/workspaces/${name}.yaml`,
  lease: (type: string, name: string) => `state/leases/${type}/${name}.yaml`,
  source: (namespace: string, name: string) => `state/sources/${namespace}/${name}.yaml`,
  rules: (namespace: string, name: string) => `state/rules/${namespace}/${name}.yaml`,
  retiring: (group: string) => `state/retiring/${group}.yaml`,
  settings: () => 'state/settings.yaml',
};

export const leaseKey = (type: string, name: string) => `${type}/${name}`;

/** The newest record that is not soft-deleted (by the instant of `createdAt`, then by id, so equal timestamps still give one answer). */
function newestLive<R extends { readonly id: string; readonly createdAt: string; readonly deletedAt?: string }>(records: Iterable<R>): R | undefined {
  let best: R | undefined;
  let bestAt = 0;
  for (const r of records) {
    if (r.deletedAt) continue;
    // By instant, not by string: '...T12:00:00+02:00' is older than '...T11:00:00Z'.
    const at = Date.parse(r.createdAt);
    if (!best || at > bestAt || (at === bestAt && r.id > best.id)) {
      best = r;
      bestAt = at;
    }
  }
  return best;
}

/** The active release of a service: its newest release that is not soft-deleted. */
export function activeRelease(records: readonly ReleaseRecord[]): ReleaseRecord | undefined {
  return newestLive(records);
}

/**
 * The release deployed to `context`: that of the newest deployment to it that is not
 * soft-deleted and whose release is not either (a deleted release's deployment is skipped, as
 * a deleted deployment is: the context rolls back to the one before).
 */
export function deployedRelease(releases: readonly ReleaseRecord[], deployments: readonly DeploymentRecord[], context: string): { release: ReleaseRecord; deployment: DeploymentRecord } | undefined {
  const live = new Map(releases.filter((r) => !r.deletedAt).map((r) => [r.id, r]));
  const deployment = newestLive(deployments.filter((d) => d.context === context && live.has(d.release)));
  return deployment && { release: live.get(deployment.release)!, deployment };
}
