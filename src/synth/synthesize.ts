/**
 * Synthesis: definitions + `state/` records in, the manifests repo's files out.
 *
 * Pure: no git, no clock, no network, no file system. The same inputs give byte-identical
 * files whatever the order definitions arrive in. Each definition file is built in its own
 * cdk8s `App` (one App for many charts is quadratic), and everything is validated before
 * anything is returned, so a caller writes all of it or nothing.
 *
 * Two stages. A file's output (build-file.ts: its groups' objects, validated and serialized) depends only on
 * the file and on the state records it read while being built; with a `SynthCache` it is
 * reused while both are unchanged, so a commit that touches one group re-renders one file.
 * Assembly (removals, clones of sources in other files or live, cross-file checks, the
 * Applications and README) runs every time and is cheap.
 *
 * Owns: the file map and the checks on it. Must not touch: git, the clock, the disk.
 */
import { cloneDeployment } from '../../core/clone-transform.ts';
import { isClusterScoped, nodePortsOf } from '../../core/kinds.ts';
import { apiGroupOf } from '../../core/names.ts';
import type { SettingsRecord, StateRecords } from '../../core/records.ts';
import { stampObject } from '../../core/stamp.ts';
import { Workspace } from '../../constructs/workspace.ts';
import { DefinitionError } from '../errors.ts';
import type { Definition } from './loader.ts';
import { argoRefreshRbac, groupApplication, groupsProject, rbacPath, retiredApplication, rootApplication, rootProject, type ProjectDestination, type RbacSubject } from './argo-objects.ts';
import { buildFile, checkObject, checkScope, type FileOutput, type RenderedObject } from './build-file.ts';
import { appPath, groupDir, objectFileName, projectPath, readme, retiredReadme, RETIRED_DIR, rootProjectName, ROOT_APP, toYaml, type ArgoOptions, README } from './layout.ts';
import { fingerprint } from './tracked-state.ts';
import { prepareValidators } from './validate.ts';

type Json = Record<string, any>;

/** On each Application: the definition file that made the group. */
export const DEFINITION_ANNOTATION = 'paddock.dev/definition';

export interface SynthInputs {
  readonly state: StateRecords;
  readonly sidecarUrl: string;
  readonly gcSecret?: string;
  readonly argo: ArgoOptions;
}

/** The inputs of a synthesis from the repo's settings record, its `state/` and the GC secret. */
export function synthInputs(settings: Pick<SettingsRecord, 'sidecarUrl' | 'argo'>, state: StateRecords, gcSecret: string | undefined): SynthInputs {
  return { state, sidecarUrl: settings.sidecarUrl, argo: settings.argo, gcSecret };
}

export type { GroupInfo, PoolInfo, ReleaseTarget, SynthResult, WaitingClone } from './results.ts';
import type { GroupInfo, ReleaseTarget, SynthResult, WaitingClone } from './results.ts';

/** Reuses file outputs and Application files between syntheses. Keep one per committer. */
export class SynthCache {
  /** @internal */ readonly files = new WeakMap<Definition, FileOutput>();
  /** @internal */ readonly yaml = new Map<string, string>();
  /** @internal */ key = '';
  /** The last synthesis, returned again for the same definitions and inputs (the same state object). */
  /** @internal */ last: { readonly definitions: readonly Definition[]; readonly state: SynthInputs['state']; readonly result: SynthResult } | undefined = undefined;
  /** File outputs built (not reused) by the last synthesis: for tests and logs. */
  public lastBuilt = 0;
}

/** Workspace records render even when no definition calls `Workspace.fromRecords` to style them. */
const DEFAULT_WORKSPACES: Definition = {
  file: '(workspace records)',
  absPath: '(workspace records)',
  build: (scope) => void Workspace.fromRecords(scope),
  inputs: [],
  digest: '',
};

/** Synthesizes `definitions` against `inputs`. Throws a `DefinitionError` naming file, construct path and field. */
export async function synthesize(definitions: readonly Definition[], inputs: SynthInputs, cache = new SynthCache()): Promise<SynthResult> {
  const key = JSON.stringify([inputs.sidecarUrl, inputs.gcSecret ?? '', inputs.argo]);
  if (cache.key !== key) {
    Object.assign(cache, new SynthCache());
    cache.key = key;
  }
  cache.lastBuilt = 0;
  const defs = [...definitions].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  // The watcher checks a changed set, then its commit cycle synthesizes the same set against the
  // same fetched state (for the guard, then the plan): once is enough.
  const last = cache.last;
  if (last && last.state === inputs.state && last.definitions.length === defs.length && last.definitions.every((d, i) => d === defs[i])) return last.result;
  const outputs: FileOutput[] = [];
  for (const def of defs) outputs.push(await fileOutput(def, inputs, cache));
  if (!outputs.some((o) => o.claimsWorkspaces) && inputs.state.workspaces.size) {
    outputs.push(await fileOutput(DEFAULT_WORKSPACES, inputs, cache));
  }
  const result = await assemble(outputs, inputs, cache);
  cache.last = { definitions: defs, state: inputs.state, result };
  return result;
}

async function fileOutput(def: Definition, inputs: SynthInputs, cache: SynthCache): Promise<FileOutput> {
  const hit = cache.files.get(def);
  if (hit && fingerprint(inputs.state, hit.reads) === hit.fingerprint) return hit;
  const out = await buildFile(def, inputs);
  cache.files.set(def, out);
  cache.lastBuilt++;
  return out;
}

async function assemble(outputs: readonly FileOutput[], inputs: SynthInputs, cache: SynthCache): Promise<SynthResult> {
  const { state } = inputs;
  // Groups and pools are unique across files (each file's App checks its own, as cdk8s validations).
  const groupFile = new Map<string, string>();
  const poolFile = new Map<string, string>();
  for (const out of outputs) {
    for (const env of out.envs) {
      const other = groupFile.get(env.group);
      if (other !== undefined) throw new DefinitionError(out.file, `${env.path}: group "${env.group}" is also defined in ${other}`);
      groupFile.set(env.group, out.file);
    }
    for (const p of out.pools) {
      const other = poolFile.get(p.type);
      if (other !== undefined) throw new DefinitionError(out.file, `lease pool type "${p.type}" is also defined in ${other}`);
      poolFile.set(p.type, out.file);
    }
  }

  // Deployments of this synthesis, for clones that name their source.
  const sameSynth = new Map<string, Json>();
  for (const out of outputs) {
    for (const env of out.envs) {
      if (state.removals.has(env.group)) continue;
      for (const o of env.objects) if (o.object.kind === 'Deployment') sameSynth.set(`${o.object.metadata.namespace ?? env.namespace}/${o.object.metadata.name}`, o.object);
    }
  }

  const identities = new Map<string, { path: string; file: string }>();
  const files = new Map<string, string>();
  const groups: GroupInfo[] = [];
  const waiting: WaitingClone[] = [];
  const sources = new Set<string>();
  const shown: Array<{ name: string; namespace: string; objects: number; ttl?: string }> = [];
  const destinations: ProjectDestination[] = [];
  const clusterKinds: Array<{ group: string; kind: string }> = [];
  const releases = new Map<string, ReleaseTarget[]>();
  const refreshers: RbacSubject[] = [];
  const nodePorts = new Set<number>();
  for (const out of outputs) {
    for (const env of out.envs) {
      const removed = state.removals.has(env.group);
      for (const rules of env.releases) {
        const targets = releases.get(rules.service) ?? [];
        const other = targets.find((t) => t.rules.context === rules.context);
        if (other) throw new DefinitionError(out.file, `${env.path}: service ${rules.service}'s context "${rules.context}" is also rendered by group ${other.group} (${other.file})`);
        releases.set(rules.service, [...targets, { group: env.group, file: out.file, rules }]);
      }
      const objects: RenderedObject[] = removed ? [] : [...env.objects];
      if (!removed) {
        for (const d of env.deferred) {
          const key = `${d.source.namespace}/${d.source.name}`;
          if (!sameSynth.has(key)) sources.add(key);
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
      for (const { object, path } of objects) {
        for (const p of nodePortsOf(object)) nodePorts.add(p);
        const k = `${object.kind}/${object.metadata.name}`;
        byName.set(k, (byName.get(k) ?? 0) + 1);
        const id = `${apiGroupOf(String(object.apiVersion))}|${k}|${object.metadata.namespace ?? ''}`;
        const other = identities.get(id);
        if (other) {
          const ns = object.metadata.namespace ? ` in namespace ${object.metadata.namespace}` : '';
          throw new DefinitionError(out.file, `${path}: ${object.kind} "${object.metadata.name}"${ns} is also made by ${other.path} (${other.file})`);
        }
        identities.set(id, { path, file: out.file });
      }
      // The project lets Argo CD reach a group's namespaces and kinds while it is rendered, and
      // after its removal too: deleting its Application, Argo CD deletes only the objects the
      // project still permits, so a removal that also narrowed the project would orphan them.
      if (objects.length || removed) {
        for (const namespace of [env.namespace, ...env.scope.namespaces]) destinations.push({ ...env.destination, namespace });
        for (const { object } of removed ? env.objects : objects) {
          if (isClusterScoped(object.kind, env.scope.clusterKinds)) clusterKinds.push({ group: apiGroupOf(object.apiVersion), kind: object.kind });
        }
      }
      const created = state.groups.get(env.group)?.createdAt;
      const expiresAt = env.ttlMs !== undefined && created ? new Date(Date.parse(created) + env.ttlMs).toISOString() : undefined;
      const groupFiles: string[] = [];
      if (objects.length) {
        for (const o of objects) {
          const p = `${groupDir(env.group)}/${objectFileName(o.object, byName.get(`${o.object.kind}/${o.object.metadata.name}`)! > 1)}`;
          files.set(p, o.yaml);
          groupFiles.push(p);
        }
        const annotations: Record<string, string> = {};
        if (env.owner) annotations['paddock.dev/owner'] = env.owner;
        if (env.ttl) annotations['paddock.dev/ttl'] = env.ttl;
        if (expiresAt) annotations['paddock.dev/expires-at'] = expiresAt;
        annotations[DEFINITION_ANNOTATION] = out.name;
        const app = { group: env.group, namespace: env.namespace, destination: env.destination, annotations };
        files.set(appPath(env.group), memoYaml(cache, app, () => groupApplication(app, inputs.argo)));
        shown.push({ name: env.group, namespace: env.namespace, objects: groupFiles.length, ttl: env.ttl });
        refreshers.push(...env.argoRefreshers.map((name) => ({ kind: 'ServiceAccount' as const, name, namespace: env.namespace })));
      }

      groups.push({
        name: env.group, file: out.file, namespace: env.namespace, owner: env.owner, ttl: env.ttl, ttlMs: env.ttlMs, expiresAt,
        files: groupFiles.sort(), lease: env.lease, removed,
      });
    }
  }
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  groups.sort(byName);
  // Groups that left apps/: the project still reaching where their objects were, and, until
  // retired, their emptied Applications, through which Argo CD prunes. A group rendered again
  // replaces its own (the committer then drops its record).
  let retiring = 0;
  for (const r of state.retiring.values()) {
    if (files.has(appPath(r.group))) continue;
    destinations.push({ ...r.destination, namespace: r.namespace });
    clusterKinds.push(...(r.clusterKinds ?? []));
    if (r.retiredAt) continue;
    const annotations = { 'paddock.dev/retiring-since': r.since };
    const app = { group: r.group, namespace: r.namespace, destination: r.destination, annotations };
    files.set(appPath(r.group), memoYaml(cache, { retired: app }, () => retiredApplication(app, inputs.argo)));
    retiring++;
  }
  if (retiring) files.set(`${RETIRED_DIR}/${README}`, retiredReadme());
  files.set(appPath(ROOT_APP), toYaml(rootApplication(inputs.argo)));
  files.set(projectPath(inputs.argo.project), toYaml(groupsProject(inputs.argo, destinations, clusterKinds)));
  const refresh = argoRefreshRbac(inputs.argo, refreshers);
  for (const o of refresh) files.set(rbacPath(o), toYaml(o));
  files.set(projectPath(rootProjectName(inputs.argo)), toYaml(rootProject(inputs.argo, refresh.length > 0)));
  files.set(README, readme(shown.sort(byName), inputs.argo));
  return {
    files: new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    groups,
    pools: outputs.flatMap((o) => o.pools).sort((a, b) => (a.type < b.type ? -1 : 1)),
    waiting: waiting.sort((a, b) => (a.clone < b.clone ? -1 : 1)),
    sources: [...sources].sort(),
    liveRules: [...new Set(outputs.flatMap((o) => o.liveRules))].sort(),
    releases,
    nodePorts,
  };
}

function memoYaml(cache: SynthCache, key: unknown, make: () => unknown): string {
  const k = JSON.stringify(key);
  let yaml = cache.yaml.get(k);
  if (yaml === undefined) {
    yaml = toYaml(make());
    if (cache.yaml.size > 50_000) cache.yaml.clear();
    cache.yaml.set(k, yaml);
  }
  return yaml;
}
