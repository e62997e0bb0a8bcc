/**
 * Intents: what callers ask the committer for, and how each changes `state/`.
 *
 * Pure: `applyIntent` works on an in-memory draft of the records and says what it changed;
 * the committer decides when that becomes a commit. Every intent carries a request id and
 * a requester; applying one that is already in effect changes nothing.
 */
import {
  deployedRelease, leaseKey, recordPath, RulesRecordSchema, SourceRecordSchema,
  type DeploymentRecord, type LeaseRecord, type ReleaseRecord, type RemovalReason, type RulesRecord, type SourceRecord, type WorkspaceRecord,
} from '../../core/records.ts';
import { Workspace } from '../../constructs/workspace.ts';
import { UserError } from '../errors.ts';
import { recordFile } from '../synth/state.ts';
import { applyLive, StateDraft } from './draft.ts';

export { StateDraft } from './draft.ts';

export interface WorkspaceRequest {
  readonly email: string;
  readonly ram: number;
  readonly cpu: number;
  readonly storage: string;
  readonly publicKey: string;
}

export type IntentBody =
  | { readonly kind: 'remove'; readonly group: string; readonly reason: RemovalReason }
  | { readonly kind: 'revive'; readonly group: string }
  /** A retiring group's emptied Application leaves `apps/` (Argo CD has pruned its objects through it). */
  | { readonly kind: 'retire'; readonly group: string }
  | { readonly kind: 'release'; readonly record: ReleaseRecord }
  | { readonly kind: 'delete-release'; readonly service: string; readonly id: string }
  | { readonly kind: 'workspace'; readonly request: WorkspaceRequest; readonly ports: { readonly min: number; readonly max: number } }
  | { readonly kind: 'workspace-power'; readonly name: string; readonly on: boolean }
  | { readonly kind: 'deployment'; readonly record: DeploymentRecord }
  | { readonly kind: 'delete-deployment'; readonly service: string; readonly id: string }
  | { readonly kind: 'delete-workspace'; readonly name: string }
  /** Lease records to write (the ranch has decided them), with the commit subject. */
  | { readonly kind: 'leases'; readonly records: readonly LeaseRecord[]; readonly summary: string }
  | { readonly kind: 'delete-leases'; readonly keys: readonly string[] }
  /** Live clone sources as the watcher sees them: records to write, and `namespace/name` of sources gone from the cluster. */
  | { readonly kind: 'sources'; readonly records: readonly SourceRecord[]; readonly gone: readonly string[] }
  /** Live clone rules (ConfigMaps) as the watcher sees them: records to write, and `namespace/name` of those gone. */
  | { readonly kind: 'rules'; readonly records: readonly RulesRecord[]; readonly gone: readonly string[] }
  /** Definitions (or live clone sources) changed: regenerate. */
  | { readonly kind: 'sync'; readonly summary: string };

export interface Intent {
  readonly body: IntentBody;
  readonly requestId: string;
  readonly requestedBy: string;
}

export interface Outcome {
  readonly status: 'applied' | 'unchanged';
  /** Commit subject for this intent: `<verb>(<kind>/<name>): <what>`. */
  readonly subject: string;
  /** What the caller gets back (a record, a group name). */
  readonly value?: unknown;
}

const REASON_TEXT: Record<RemovalReason, string> = {
  gc: 'garbage collected at the request of its pod',
  ttl: 'time to live ran out',
  demolish: 'demolished on request',
};

export function applyIntent(d: StateDraft, intent: Intent): Outcome {
  const b = intent.body;
  const at = d.now.toISOString();
  switch (b.kind) {
    case 'remove': {
      const subject = `remove(group/${b.group}): ${REASON_TEXT[b.reason]}`;
      if (d.removals.has(b.group)) return { status: 'unchanged', subject, value: d.removals.get(b.group) };
      if (!d.knownGroups.has(b.group)) throw new UserError('UnknownGroup', `group "${b.group}" is not defined`);
      const record = { group: b.group, removedAt: at, reason: b.reason, requestId: intent.requestId, requestedBy: intent.requestedBy };
      d.removals.set(b.group, record);
      d.write(recordFile.removal(record));
      return { status: 'applied', subject, value: record };
    }
    case 'revive': {
      const subject = `revive(group/${b.group}): undo its removal`;
      if (!d.removals.has(b.group)) {
        if (!d.knownGroups.has(b.group)) throw new UserError('UnknownGroup', `group "${b.group}" is not defined`);
        return { status: 'unchanged', subject };
      }
      d.removals.delete(b.group);
      d.remove(recordPath.removal(b.group));
      // A revived group starts a new life: its TTL counts from now.
      const created = { group: b.group, createdAt: at };
      d.groups.set(b.group, created);
      d.write(recordFile.group(created));
      return { status: 'applied', subject };
    }
    case 'retire': {
      const subject = `retire(group/${b.group}): delete its emptied Application`;
      const record = d.retiring.get(b.group);
      // Back meanwhile, or retired already: nothing to do.
      if (!record || record.retiredAt) return { status: 'unchanged', subject };
      const retired = { ...record, retiredAt: at };
      d.retiring.set(b.group, retired);
      d.write(recordFile.retiring(retired));
      return { status: 'applied', subject, value: retired };
    }
    case 'release': {
      const r = b.record;
      const subject = `release(service/${r.service}): ${r.version}`;
      const existing = d.releases.get(r.service) ?? [];
      const same = existing.find((x) => x.id === r.id);
      if (same) return { status: 'unchanged', subject, value: same };
      if (existing.some((x) => x.version === r.version && !x.deletedAt)) {
        throw new UserError('Conflict', `service "${r.service}" already has a release of version "${r.version}"`);
      }
      d.releases.set(r.service, [...existing, r]);
      d.write(recordFile.release(r));
      return { status: 'applied', subject, value: r };
    }
    case 'delete-release': {
      const subject = `rollback(service/${b.service}): delete release ${b.id}`;
      const list = d.releases.get(b.service) ?? [];
      const i = list.findIndex((x) => x.id === b.id);
      if (i < 0) throw new UserError('NotFound', `release "${b.id}" of service "${b.service}" does not exist`);
      if (list[i].deletedAt) return { status: 'unchanged', subject, value: list[i] };
      const deleted = { ...list[i], deletedAt: at };
      d.releases.set(b.service, list.map((x, j) => (j === i ? deleted : x)));
      d.write(recordFile.release(deleted));
      return { status: 'applied', subject, value: deleted };
    }
    case 'deployment': {
      const r = b.record;
      const subject = `deploy(service/${r.service}): ${r.version} to ${r.context}`;
      const releases = d.releases.get(r.service) ?? [];
      if (!releases.some((x) => x.id === r.release && !x.deletedAt)) throw new UserError('NotFound', `release "${r.release}" of service "${r.service}" does not exist`);
      const existing = d.deployments.get(r.service) ?? [];
      const same = existing.find((x) => x.id === r.id);
      if (same) return { status: 'unchanged', subject, value: same };
      // Already the release in force there: nothing to change.
      const current = deployedRelease(releases, existing, r.context);
      if (current?.release.id === r.release) return { status: 'unchanged', subject, value: current.deployment };
      d.deployments.set(r.service, [...existing, r]);
      d.write(recordFile.deployment(r));
      return { status: 'applied', subject, value: r };
    }
    case 'delete-deployment': {
      const list = d.deployments.get(b.service) ?? [];
      const i = list.findIndex((x) => x.id === b.id);
      if (i < 0) throw new UserError('NotFound', `deployment "${b.id}" of service "${b.service}" does not exist`);
      const subject = `rollback(service/${b.service}): undo deployment ${b.id} to ${list[i].context}`;
      if (list[i].deletedAt) return { status: 'unchanged', subject, value: list[i] };
      const deleted = { ...list[i], deletedAt: at };
      d.deployments.set(b.service, list.map((x, j) => (j === i ? deleted : x)));
      d.write(recordFile.deployment(deleted));
      return { status: 'applied', subject, value: deleted };
    }
    case 'workspace': {
      const r = b.request;
      const same = [...d.workspaces.values()].find((w) => w.email === r.email && w.publicKey === r.publicKey && w.ram === r.ram && w.cpu === r.cpu && w.storage === r.storage);
      if (same) {
        const group = Workspace.groupOf(same.name);
        if (!d.removals.has(group)) return { status: 'unchanged', subject: `create(workspace/${same.name}): for ${r.email}`, value: same };
        // Asked for again after its group was removed (GC, TTL, demolish): it comes back, on its port, with a new life.
        d.removals.delete(group);
        d.remove(recordPath.removal(group));
        const created = { group, createdAt: at };
        d.groups.set(group, created);
        d.write(recordFile.group(created));
        return { status: 'applied', subject: `create(workspace/${same.name}): for ${r.email} again, on port ${same.port}`, value: same };
      }
      const name = uniqueName(Workspace.nameFromEmail(r.email), d.workspaces, d.knownGroups);
      const used = new Set([...d.nodePorts, ...[...d.workspaces.values()].map((w) => w.port)]);
      let port = -1;
      for (let p = b.ports.min; p <= b.ports.max; p++) {
        if (!used.has(p)) {
          port = p;
          break;
        }
      }
      if (port < 0) throw new UserError('NoPortLeft', `no NodePort left in ${b.ports.min}-${b.ports.max} for a new workspace`);
      const record: WorkspaceRecord = { name, email: r.email, ram: r.ram, cpu: r.cpu, storage: r.storage, publicKey: r.publicKey, port, createdAt: at };
      d.workspaces.set(name, record);
      d.write(recordFile.workspace(record));
      return { status: 'applied', subject: `create(workspace/${name}): for ${r.email} on port ${port}`, value: record };
    }
    case 'workspace-power': {
      const subject = `${b.on ? 'start' : 'stop'}(workspace/${b.name}): on request`;
      const w = d.workspaces.get(b.name);
      if (!w) throw new UserError('NotFound', `workspace "${b.name}" does not exist`);
      if (!w.stoppedAt === b.on) return { status: 'unchanged', subject, value: w };
      const { stoppedAt: _, ...running } = w;
      const record: WorkspaceRecord = b.on ? running : { ...w, stoppedAt: at };
      d.workspaces.set(b.name, record);
      d.write(recordFile.workspace(record));
      return { status: 'applied', subject, value: record };
    }
    case 'delete-workspace': {
      const subject = `delete(workspace/${b.name}): on request`;
      const w = d.workspaces.get(b.name);
      if (!w) throw new UserError('NotFound', `workspace "${b.name}" does not exist`);
      d.workspaces.delete(b.name);
      d.remove(recordPath.workspace(b.name));
      // Its group goes with it: a workspace made later under the same name starts a new life.
      const group = Workspace.groupOf(b.name);
      if (d.groups.delete(group)) d.remove(recordPath.group(group));
      return { status: 'applied', subject, value: w };
    }
    case 'leases': {
      let changed = false;
      for (const r of b.records) {
        const key = leaseKey(r.type, r.name);
        const old = d.leases.get(key);
        if (old && old.state === r.state && old.owner === r.owner && JSON.stringify(old.userdata) === JSON.stringify(r.userdata)) continue;
        d.leases.set(key, r);
        d.write(recordFile.lease(r));
        changed = true;
      }
      return { status: changed ? 'applied' : 'unchanged', subject: b.summary };
    }
    case 'delete-leases': {
      let changed = false;
      for (const key of b.keys) {
        const old = d.leases.get(key);
        if (!old) continue;
        d.leases.delete(key);
        d.remove(recordPath.lease(old.type, old.name));
        changed = true;
      }
      return { status: changed ? 'applied' : 'unchanged', subject: `lease(pool): forget ${b.keys.length} removed resources` };
    }
    case 'sources': {
      const { changed, gone } = applyLive(d, d.sources, b.records.map((r) => SourceRecordSchema.parse(r)), b.gone, recordFile.source, (r) => recordPath.source(r.namespace, r.name));
      const all = [...changed, ...gone];
      const what = [...(changed.length ? [`${changed.join(', ')} changed`] : []), ...(gone.length ? [`${gone.join(', ')} gone`] : [])].join('; ');
      const subject = all.length === 1 ? `source(deployment/${all[0]}): ${gone.length ? 'gone from the cluster' : 'changed in the cluster'}` : `source(deployments): ${what || 'unchanged'}`;
      return { status: all.length ? 'applied' : 'unchanged', subject };
    }
    case 'rules': {
      const { changed, gone } = applyLive(d, d.rules, b.records.map((r) => RulesRecordSchema.parse(r)), b.gone, recordFile.rules, (r) => recordPath.rules(r.namespace, r.name));
      const all = [...changed, ...gone].sort();
      const subject = `rules(configmap/${all.join(',') || 'none'}): ${gone.length && !changed.length ? 'gone from the cluster' : 'changed in the cluster'}`;
      return { status: all.length ? 'applied' : 'unchanged', subject };
    }
    case 'sync':
      return { status: 'applied', subject: b.summary };
  }
}

function uniqueName(base: string, taken: ReadonlyMap<string, unknown>, groups: ReadonlySet<string>): string {
  const free = (n: string) => !taken.has(n) && !groups.has(Workspace.groupOf(n));
  if (free(base)) return base;
  for (let i = 2; ; i++) {
    const n = `${base.slice(0, 60 - String(i).length - 1)}-${i}`;
    if (free(n)) return n;
  }
}
