/**
 * One definition file's output: its groups' objects rendered, scope-checked, validated and
 * serialized, its pools and clones waiting for a source, and the state records it read (so a
 * `SynthCache` can reuse it while those are unchanged). Assembly (synthesize.ts) puts the
 * files' outputs together.
 *
 * Owns: building one file. Must not touch: git, the clock, the disk.
 */
import { ApiObject, App } from 'cdk8s';
import { Clone } from '../../constructs/clone.ts';
import { Environment, type ArgoDestination } from '../../constructs/environment.ts';
import { LeasePool } from '../../constructs/lease-pool.ts';
import { Release, type ReleaseRules } from '../../constructs/release.ts';
import { Workspace } from '../../constructs/workspace.ts';
import type { CloneSpec } from '../../core/clone-transform.ts';
import { attachContext } from '../../core/context.ts';
import { scopeProblem, type GroupScope } from '../../core/kinds.ts';
import type { GroupStamp } from '../../core/stamp.ts';
import { DefinitionError, firstLine } from '../errors.ts';
import { toYaml } from './layout.ts';
import type { Definition } from './loader.ts';
import type { PoolInfo, SynthInputs } from './synthesize.ts';
import { fingerprint, trackedState, type Reads } from './tracked-state.ts';
import { prepareValidators, validateObject } from './validate.ts';

type Json = Record<string, any>;

export interface RenderedObject {
  readonly object: Json;
  readonly yaml: string;
  /** Construct path of the ApiObject that made it. */
  readonly path: string;
}

export interface DeferredClone {
  readonly path: string;
  readonly source: { readonly namespace: string; readonly name: string };
  readonly spec: CloneSpec;
}

export interface EnvOutput {
  readonly group: string;
  readonly path: string;
  readonly namespace: string;
  readonly destination: ArgoDestination;
  /** Where its objects may be (namespaces, cluster-scoped kinds). */
  readonly scope: GroupScope;
  readonly owner?: string;
  readonly ttl?: string;
  readonly ttlMs?: number;
  readonly stamp: GroupStamp;
  readonly lease?: { readonly type: string; readonly name: string };
  readonly objects: readonly RenderedObject[];
  readonly deferred: readonly DeferredClone[];
  readonly releases: readonly ReleaseRules[];
  /** ServiceAccounts of `namespace` that may ask Argo CD to refresh Applications. */
  readonly argoRefreshers: readonly string[];
}

export interface FileOutput {
  readonly file: string;
  /** The definition's file name, recorded on each of its Applications (`paddock.dev/definition`). */
  readonly name: string;
  readonly envs: readonly EnvOutput[];
  readonly pools: readonly PoolInfo[];
  /** `namespace/name` of the ConfigMaps of clone rules it follows in the cluster (`Clone.fromLiveConfigMap`). */
  readonly liveRules: readonly string[];
  /** It calls `Workspace.fromRecords`: the workspace records are its to render. */
  readonly claimsWorkspaces: boolean;
  readonly reads: Reads;
  readonly fingerprint: string;
}

/** Builds one definition file and renders, validates and serializes its groups' objects. */
export async function buildFile(def: Definition, inputs: SynthInputs): Promise<FileOutput> {
  const reads: Reads = new Set();
  const app = new App({ outdir: '/nonexistent-paddock-never-writes-here' });
  attachContext(app, { sidecarUrl: inputs.sidecarUrl, gcSecret: inputs.gcSecret, state: trackedState(inputs.state, reads) });
  try {
    def.build(app);
  } catch (e) {
    throw new DefinitionError(def.file, firstLine(e));
  }
  const environments: Environment[] = [];
  const pools: PoolInfo[] = [];
  const liveRules: string[] = [];
  const leaseOf = new Map<Environment, { type: string; name: string }>();
  for (const c of app.node.findAll()) {
    // The constructs' own checks, those across the file's App (unique groups, pool types, objects) included.
    const errors = c.node.validate();
    if (errors.length) throw new DefinitionError(def.file, c.node.path ? `${c.node.path}: ${errors[0]}` : errors[0]);
    const followed = Clone.followedConfigMap(c);
    if (Environment.isEnvironment(c)) environments.push(c);
    else if (followed) liveRules.push(followed);
    else if (LeasePool.isLeasePool(c)) {
      pools.push({ type: c.type, names: c.names, file: def.file });
      for (const [name, env] of c.environments) leaseOf.set(env, { type: c.type, name });
    }
  }

  const envs: EnvOutput[] = [];
  const pending: Array<{ object: Json; apiObject: ApiObject }> = [];
  for (const env of environments) {
    const stamp = env.stamp;
    const groupScope = env.scope;
    const objects: Array<{ object: Json; apiObject: ApiObject }> = [];
    const deferred: DeferredClone[] = [];
    for (const apiObject of env.allApiObjects) {
      const scope = apiObject.node.scope;
      if (scope instanceof Clone && scope.sourceRef) {
        deferred.push({ path: apiObject.node.path, source: { ...scope.sourceRef }, spec: scope.spec });
        continue;
      }
      let object: Json;
      try {
        object = env.render(apiObject, stamp);
      } catch (e) {
        throw new DefinitionError(def.file, firstLine(e));
      }
      checkScope(object, groupScope, apiObject.node.path, def.file);
      objects.push({ object, apiObject });
      pending.push({ object, apiObject });
    }
    const releases = env.node.findAll().filter((c): c is Release => c instanceof Release);
    envs.push({
      group: env.group, path: env.node.path, namespace: env.namespace, destination: env.destination, scope: groupScope, owner: env.owner,
      ttl: env.ttl, ttlMs: env.ttlMs, stamp, lease: leaseOf.get(env), deferred,
      releases: releases.map((r) => r.rules),
      argoRefreshers: env.argoRefreshers,
      objects: objects.map(({ object, apiObject }) => ({ object, yaml: '', path: apiObject.node.path })),
    });
  }
  await prepareValidators(pending.map((p) => p.object as { apiVersion: string; kind: string }));
  for (const { object, apiObject } of pending) checkObject(object, apiObject.node.path, def.file);
  for (const env of envs) for (const o of env.objects) (o as { yaml: string }).yaml = toYaml(o.object);
  const name = def.absPath.split('/').pop() ?? def.file;
  return { file: def.file, name, envs, pools, liveRules, claimsWorkspaces: Workspace.rendersRecords(app), reads, fingerprint: fingerprint(inputs.state, reads) };
}

/** An object outside its group's namespaces, or cluster-scoped without leave, is an error naming it. */
export function checkScope(object: Json, scope: GroupScope, path: string, file: string): void {
  const problem = scopeProblem(object, scope);
  if (problem) throw new DefinitionError(file, `${path}: ${object.kind} ${object.metadata?.name ?? ''}: ${problem}`, 'InvalidObject');
}

export function checkObject(object: Json, path: string, file: string): void {
  const bad = validateObject(object);
  if (bad) {
    const field = bad.field ? `${bad.field}: ` : '';
    throw new DefinitionError(file, `${path}: ${object.kind} ${object.metadata?.name ?? ''}: ${field}${bad.message}`, 'InvalidObject');
  }
}

