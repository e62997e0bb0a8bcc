/**
 * One group's part of the assembly: its files (objects and Application), what the projects must
 * let Argo CD reach for it, and what the committer and `paddock status` learn of it. A part
 * depends on the group's rendered objects (the same `EnvOutput` while its file's output is
 * reused), on whether it is removed and on its creation time; clones of other Deployments also
 * on those sources. Parts without clones are kept (in the `SynthCache`) while those are
 * unchanged, so a synthesis after a change to a few of N groups renders a few parts, not N.
 *
 * Pure. Must not touch: checks across groups (synthesize.ts), git, the clock, the disk.
 */
import { cloneDeployment } from '../../core/clone-transform.ts';
import { isClusterScoped, nodePortsOf } from '../../core/kinds.ts';
import { apiGroupOf } from '../../core/names.ts';
import type { StateRecords } from '../../core/records.ts';
import { stampObject } from '../../core/stamp.ts';
import { destinationKey, groupApplication, type ProjectDestination, type RbacSubject } from './argo-objects.ts';
import { checkObject, checkScope, type EnvOutput, type FileOutput, type RenderedObject } from './build-file.ts';
import { appPath, groupDir, objectFileName, toYaml, type ArgoOptions } from './layout.ts';
import { clusterKindsOf, retiringFacts } from './leaving.ts';
import type { GroupInfo, WaitingClone } from './results.ts';
import { prepareValidators } from './validate.ts';

type Json = Record<string, any>;

/** On each Application: the definition file that made the group. */
export const DEFINITION_ANNOTATION = 'paddock.dev/definition';

export interface GroupPart {
  /** Its objects' files, each with the object's identity (`id`: API group, kind, name, namespace) and construct path. */
  readonly objects: ReadonlyArray<{
    readonly path: string; readonly yaml: string; readonly id: string; readonly constructPath: string;
    readonly kind: string; readonly name: string; readonly namespace?: string;
  }>;
  /** Its Application, while it has objects. */
  readonly app?: { readonly path: string; readonly yaml: string };
  readonly nodePorts: readonly number[];
  /** By `destinationKey`: thousands of groups share a few, and a kept part keeps its keys. */
  readonly destinations: ReadonlyMap<string, ProjectDestination>;
  readonly clusterKinds: ReadonlyArray<{ readonly group: string; readonly kind: string }>;
  /** Its README line, while it has objects. */
  readonly shown?: { readonly name: string; readonly namespace: string; readonly objects: number; readonly ttl?: string };
  readonly refreshers: readonly RbacSubject[];
  readonly info: GroupInfo;
  readonly waiting: readonly WaitingClone[];
  /** `namespace/name` of live Deployments its clones follow (not made by this synthesis). */
  readonly sources: readonly string[];
}

/** YAML of an object made by `make`, kept by `key` (its inputs). */
export type YamlMemo = (key: unknown, make: () => unknown) => string;

/** Kept parts, by the group's output. */
export type GroupParts = WeakMap<EnvOutput, { readonly removed: boolean; readonly created?: string; readonly part: GroupPart }>;

/**
 * The part of `env` (made by `out`): kept from `parts` when nothing it depends on changed.
 * `sameSynth`: the Deployments of this synthesis by `namespace/name`, for clones.
 */
export async function groupPart(
  env: EnvOutput, out: FileOutput, state: StateRecords, argo: ArgoOptions, sameSynth: ReadonlyMap<string, Json>, parts: GroupParts, yaml: YamlMemo,
): Promise<GroupPart> {
  const removed = state.removals.has(env.group);
  const created = state.groups.get(env.group)?.createdAt;
  const kept = parts.get(env);
  if (kept && kept.removed === removed && kept.created === created) return kept.part;
  const part = await render(env, out, removed, created, state, argo, sameSynth, yaml);
  // A clone's part depends on its sources, which can change without its output changing.
  if (!env.deferred.length) parts.set(env, { removed, created, part });
  return part;
}

async function render(
  env: EnvOutput, out: FileOutput, removed: boolean, created: string | undefined, state: StateRecords, argo: ArgoOptions, sameSynth: ReadonlyMap<string, Json>, yaml: YamlMemo,
): Promise<GroupPart> {
  const objects: RenderedObject[] = removed ? [] : [...env.objects];
  const waiting: WaitingClone[] = [];
  const sources: string[] = [];
  if (!removed) {
    for (const d of env.deferred) {
      const key = `${d.source.namespace}/${d.source.name}`;
      if (!sameSynth.has(key)) sources.push(key);
      const source = sameSynth.get(key) ?? state.sources.get(key)?.deployment;
      if (!source) {
        waiting.push({ group: env.group, file: out.file, clone: `${d.spec.namespace ?? d.source.namespace}/${d.source.name}${d.spec.nameSuffix}`, source: key });
        continue;
      }
      const object = stampObject(cloneDeployment(source, d.spec), env.stamp);
      checkScope(object, env.scope, d.path, out.file);
      await prepareValidators([object as { apiVersion: string; kind: string }]);
      checkObject(object, d.path, out.file);
      objects.push({ object, yaml: toYaml(object), path: d.path });
    }
  }
  const byName = new Map<string, number>();
  const nodePorts: number[] = [];
  for (const { object } of objects) {
    nodePorts.push(...nodePortsOf(object));
    const k = `${object.kind}/${object.metadata.name}`;
    byName.set(k, (byName.get(k) ?? 0) + 1);
  }
  // The project lets Argo CD reach a group's namespaces and kinds while it is rendered, and
  // after its removal too: deleting its Application, Argo CD deletes only the objects the
  // project still permits, so a removal that also narrowed the project would orphan them.
  const destinations = new Map<string, ProjectDestination>();
  const clusterKinds: Array<{ group: string; kind: string }> = [];
  if (objects.length || removed) {
    for (const namespace of [env.namespace, ...env.scope.namespaces]) {
      const d = { ...env.destination, namespace };
      destinations.set(destinationKey(d), d);
    }
    for (const { object } of removed ? env.objects : objects) {
      if (isClusterScoped(object.kind, env.scope.clusterKinds)) clusterKinds.push({ group: apiGroupOf(object.apiVersion), kind: object.kind });
    }
  }
  const expiresAt = env.ttlMs !== undefined && created ? new Date(Date.parse(created) + env.ttlMs).toISOString() : undefined;
  const files = objects.map((o) => {
    const k = `${o.object.kind}/${o.object.metadata.name}`;
    return {
      path: `${groupDir(env.group)}/${objectFileName(o.object, byName.get(k)! > 1)}`,
      yaml: o.yaml,
      id: `${apiGroupOf(String(o.object.apiVersion))}|${k}|${o.object.metadata.namespace ?? ''}`,
      constructPath: o.path,
      kind: String(o.object.kind),
      name: String(o.object.metadata.name),
      namespace: o.object.metadata.namespace,
    };
  });
  let app: GroupPart['app'];
  let shown: GroupPart['shown'];
  const refreshers: RbacSubject[] = [];
  if (objects.length) {
    const annotations: Record<string, string> = {};
    if (env.owner) annotations['paddock.dev/owner'] = env.owner;
    if (env.ttl) annotations['paddock.dev/ttl'] = env.ttl;
    if (expiresAt) annotations['paddock.dev/expires-at'] = expiresAt;
    annotations[DEFINITION_ANNOTATION] = out.name;
    const spec = { group: env.group, namespace: env.namespace, destination: env.destination, annotations };
    // By its content: a file built again (a lease pool after each lease) makes the same Applications.
    app = { path: appPath(env.group), yaml: yaml(spec, () => groupApplication(spec, argo)) };
    shown = { name: env.group, namespace: env.namespace, objects: files.length, ttl: env.ttl };
    refreshers.push(...env.argoRefreshers.map((name) => ({ kind: 'ServiceAccount' as const, name, namespace: env.namespace })));
  }
  const info: GroupInfo = {
    name: env.group, file: out.file, namespace: env.namespace, owner: env.owner, ttl: env.ttl, ttlMs: env.ttlMs, expiresAt,
    files: files.map((f) => f.path).sort(), lease: env.lease, removed, ...(env.stamp.gcUrl === undefined ? { gcExcluded: true } : {}), leaving: app ? retiringFacts({ ...env.destination, namespace: env.namespace }, clusterKindsOf(objects.map((o) => o.object))) : undefined,
  };
  return { objects: files, app, nodePorts, destinations, clusterKinds, shown, refreshers, info, waiting, sources };
}
