/**
 * Synthesis: definitions + `state/` records in, the manifests repo's files out.
 *
 * Pure: no git, no clock, no network, no file system. The same inputs give byte-identical
 * files whatever the order definitions arrive in. Each definition file gets its own cdk8s
 * `App` (one App for many charts is quadratic), and the whole result is validated before
 * anything is returned, so a caller writes all of it or nothing.
 *
 * Owns: the file map and the checks on it. Must not touch: git, the clock, the disk.
 */
import { ApiObject, App } from 'cdk8s';
import { Clone, PENDING_CLONE_KIND } from '../../constructs/clone.ts';
import { Environment } from '../../constructs/environment.ts';
import { LeasePool } from '../../constructs/lease-pool.ts';
import { attachContext } from '../../constructs/private/context.ts';
import type { StateRecords } from '../../constructs/private/records.ts';
import { Workspace } from '../../constructs/workspace.ts';
import { DefinitionError } from '../errors.ts';
import { firstLine, type Definition } from './loader.ts';
import { appPath, groupApplication, groupDir, objectFileName, readme, rootApplication, ROOT_APP, toYaml, type ArgoOptions, README } from './layout.ts';
import { prepareValidators, validateObject } from './validate.ts';

type Json = Record<string, any>;

export interface SynthInputs {
  readonly state: StateRecords;
  readonly sidecarUrl: string;
  readonly gcSecret?: string;
  readonly argo: ArgoOptions;
  /** Deployments live in the cluster, by `namespace/name`, for clones whose source is a reference. */
  readonly liveDeployments?: ReadonlyMap<string, Json>;
}

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

export interface SynthResult {
  /** Path -> content, sorted by path: `README.md`, `apps/`, `groups/`. */
  readonly files: ReadonlyMap<string, string>;
  readonly groups: readonly GroupInfo[];
  readonly pools: readonly PoolInfo[];
  readonly waiting: readonly WaitingClone[];
}

interface Rendered {
  readonly env: Environment;
  readonly file: string;
  readonly object: Json;
  readonly apiObject: ApiObject;
}

/** Synthesizes `definitions` against `inputs`. Throws a `DefinitionError` naming file, construct path and field. */
export async function synthesize(definitions: readonly Definition[], inputs: SynthInputs): Promise<SynthResult> {
  const defs = [...definitions].sort((a, b) => a.file.localeCompare(b.file));
  const sameSynth = new Map<string, Json>();
  const resolveDeployment = (namespace: string, name: string) =>
    sameSynth.get(`${namespace}/${name}`) ?? inputs.liveDeployments?.get(`${namespace}/${name}`);

  // 1. Build each file's constructs in its own App.
  const envs: Array<{ env: Environment; file: string }> = [];
  const pools: PoolInfo[] = [];
  const leaseOf = new Map<Environment, { type: string; name: string }>();
  const groupFile = new Map<string, string>();
  let workspacesClaimed = false;
  const apps: Array<{ app: App; file: string }> = defs.map((d) => ({ app: newApp(inputs, resolveDeployment), file: d.file }));
  defs.forEach((def, i) => {
    const { app } = apps[i];
    try {
      def.build(app);
    } catch (e) {
      throw new DefinitionError(def.file, firstLine(e));
    }
    for (const c of app.node.findAll()) {
      if (Environment.isEnvironment(c)) envs.push({ env: c, file: def.file });
      else if (LeasePool.isLeasePool(c)) {
        pools.push({ type: c.type, names: c.names, file: def.file });
        for (const [name, env] of c.environments) leaseOf.set(env, { type: c.type, name });
      } else if (c instanceof Workspace) workspacesClaimed = true;
    }
  });
  // Workspace records always render; a definition may call Workspace.fromRecords to style them.
  if (!workspacesClaimed && inputs.state.workspaces.size) {
    const app = newApp(inputs, resolveDeployment);
    Workspace.fromRecords(app);
    for (const c of app.node.findAll()) if (Environment.isEnvironment(c)) envs.push({ env: c, file: '(workspace records)' });
  }

  // 2. Check the groups.
  for (const { env, file } of envs) {
    const other = groupFile.get(env.group);
    if (other !== undefined) throw new DefinitionError(file, `${env.node.path}: group "${env.group}" is also defined in ${other}`);
    if (env.group === ROOT_APP) throw new DefinitionError(file, `${env.node.path}: group name "${ROOT_APP}" is reserved for the app of apps`);
    groupFile.set(env.group, file);
  }
  const seenPools = new Map<string, string>();
  for (const p of pools) {
    const other = seenPools.get(p.type);
    if (other !== undefined) throw new DefinitionError(p.file, `lease pool type "${p.type}" is also defined in ${other}`);
    seenPools.set(p.type, p.file);
  }

  // 3. Render. Clones that name their source come last, so they can find sources in this synthesis.
  const live = envs.filter(({ env }) => !inputs.state.removals.has(env.group));
  const rendered: Rendered[] = [];
  const deferred: Array<{ env: Environment; file: string; apiObject: ApiObject }> = [];
  for (const { env, file } of live) {
    runValidations(env, file);
    const stamp = env.stamp;
    for (const apiObject of env.allApiObjects) {
      const scope = apiObject.node.scope;
      if (scope instanceof Clone && scope.sourceRef) {
        deferred.push({ env, file, apiObject });
        continue;
      }
      const object = renderOne(env, file, apiObject, stamp);
      rendered.push({ env, file, object, apiObject });
      if (object.kind === 'Deployment') sameSynth.set(`${object.metadata.namespace ?? env.namespace}/${object.metadata.name}`, object);
    }
  }
  const waiting: WaitingClone[] = [];
  for (const { env, file, apiObject } of deferred) {
    const object = renderOne(env, file, apiObject, env.stamp);
    if (object.kind === PENDING_CLONE_KIND) {
      const src = object.spec.source;
      waiting.push({ group: env.group, file, clone: `${object.metadata.namespace}/${object.metadata.name}`, source: `${src.namespace}/${src.name}` });
    } else {
      rendered.push({ env, file, object, apiObject });
    }
  }

  // 4. Validate every object before anything is returned.
  await prepareValidators(rendered.map((r) => r.object.apiVersion));
  const identities = new Map<string, Rendered>();
  for (const r of rendered) {
    const bad = validateObject(r.object);
    if (bad) {
      const field = bad.field ? `${bad.field}: ` : '';
      throw new DefinitionError(r.file, `${r.apiObject.node.path}: ${r.object.kind} ${r.object.metadata?.name ?? ''}: ${field}${bad.message}`, 'InvalidObject');
    }
    const id = `${r.object.apiVersion.split('/').slice(0, -1).join('/')}|${r.object.kind}|${r.object.metadata.namespace ?? ''}|${r.object.metadata.name}`;
    const other = identities.get(id);
    if (other) {
      const ns = r.object.metadata.namespace ? ` in namespace ${r.object.metadata.namespace}` : '';
      throw new DefinitionError(r.file, `${r.apiObject.node.path}: ${r.object.kind} "${r.object.metadata.name}"${ns} is also made by ${other.apiObject.node.path} (${other.file})`, 'InvalidObject');
    }
    identities.set(id, r);
  }

  // 5. Lay out the files.
  const byGroup = new Map<string, Rendered[]>();
  for (const r of rendered) {
    const list = byGroup.get(r.env.group);
    if (list) list.push(r);
    else byGroup.set(r.env.group, [r]);
  }
  const files = new Map<string, string>();
  const groups: GroupInfo[] = [];
  const waitingGroups = new Set(waiting.map((w) => w.group));
  for (const { env, file } of envs) {
    const removed = inputs.state.removals.has(env.group);
    const objects = byGroup.get(env.group) ?? [];
    if (!removed && !objects.length && !waitingGroups.has(env.group)) {
      throw new DefinitionError(file, `${env.node.path}: group "${env.group}" has no objects`);
    }
    const created = inputs.state.groups.get(env.group)?.createdAt;
    const expiresAt = env.ttlMs !== undefined && created ? new Date(Date.parse(created) + env.ttlMs).toISOString() : undefined;
    const groupFiles: string[] = [];
    if (!removed && objects.length) {
      const names = new Map<string, number>();
      for (const { object } of objects) names.set(`${object.kind}/${object.metadata.name}`, (names.get(`${object.kind}/${object.metadata.name}`) ?? 0) + 1);
      for (const { object } of objects) {
        const p = `${groupDir(env.group)}/${objectFileName(object, names.get(`${object.kind}/${object.metadata.name}`)! > 1)}`;
        files.set(p, toYaml(object));
        groupFiles.push(p);
      }
      const annotations: Record<string, string> = {};
      if (env.owner) annotations['paddock.dev/owner'] = env.owner;
      if (env.ttl) annotations['paddock.dev/ttl'] = env.ttl;
      if (expiresAt) annotations['paddock.dev/expires-at'] = expiresAt;
      files.set(appPath(env.group), toYaml(groupApplication({ group: env.group, namespace: env.namespace, destination: env.destination, annotations }, inputs.argo)));
    }
    groups.push({
      name: env.group, file, namespace: env.namespace, owner: env.owner, ttl: env.ttl, ttlMs: env.ttlMs, expiresAt,
      files: groupFiles.sort(), lease: leaseOf.get(env), removed,
    });
  }
  groups.sort((a, b) => a.name.localeCompare(b.name));
  files.set(appPath(ROOT_APP), toYaml(rootApplication(inputs.argo)));
  const shown = groups.filter((g) => g.files.length);
  files.set(README, readme(shown.map((g) => ({ name: g.name, namespace: g.namespace, objects: g.files.length, ttl: g.ttl })), inputs.argo));

  return {
    files: new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    groups,
    pools: pools.sort((a, b) => a.type.localeCompare(b.type)),
    waiting: waiting.sort((a, b) => a.clone.localeCompare(b.clone)),
  };
}

function newApp(inputs: SynthInputs, resolveDeployment: (ns: string, name: string) => Json | undefined): App {
  const app = new App({ outdir: '/nonexistent-paddock-never-writes-here' });
  attachContext(app, { sidecarUrl: inputs.sidecarUrl, gcSecret: inputs.gcSecret, state: inputs.state, resolveDeployment });
  return app;
}

function runValidations(env: Environment, file: string): void {
  for (const c of env.node.findAll()) {
    const errors = c.node.validate();
    if (errors.length) throw new DefinitionError(file, `${c.node.path}: ${errors[0]}`);
  }
}

function renderOne(env: Environment, file: string, apiObject: ApiObject, stamp: Environment['stamp']): Json {
  try {
    return env.render(apiObject, stamp);
  } catch (e) {
    throw new DefinitionError(file, firstLine(e));
  }
}
