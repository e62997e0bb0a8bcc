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
 * Applications and README) runs every time; each group's part of it (group-part.ts) is kept
 * while the group's output, removal and creation are unchanged, and each retiring group's
 * while its record is the same. The retiring records are read only after the groups' stage
 * (`synthesizeStaged`): a plan decides them from the groups, then assembles the files once.
 *
 * Owns: the file map and the checks on it. Must not touch: git, the clock, the disk.
 */
import type { RetiringRecord, SettingsRecord, StateRecords } from '../../core/records.ts';
import { Workspace } from '../../constructs/workspace.ts';
import { DefinitionError } from '../errors.ts';
import type { Definition } from './loader.ts';
import { argoRefreshRbac, destinationKey, groupsProject, rbacPath, retiredApplication, rootApplication, rootProject, type ProjectDestination, type RbacSubject } from './argo-objects.ts';
import { buildFile, type FileOutput } from './build-file.ts';
import { groupPart, type GroupParts } from './group-part.ts';
import { appPath, projectPath, readme, retiredReadme, RETIRED_DIR, rootProjectName, ROOT_APP, toYaml, yamlOfShape, type ArgoOptions, README } from './layout.ts';
import { fingerprint } from './tracked-state.ts';

type Json = Record<string, any>;

export { DEFINITION_ANNOTATION } from './group-part.ts';

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
  /** @internal */ readonly groups: GroupParts = new WeakMap();
  /** @internal */ readonly retired = new WeakMap<RetiringRecord, RetiredPart>();
  /** The groups' stage of each synthesis (the cache's last one is finished again from it). */
  /** @internal */ readonly stages = new WeakMap<SynthResult, GroupStage>();
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
  return (await synthesizeStaged(definitions, inputs, cache)).finish(inputs);
}

/**
 * A synthesis in two steps: the groups' stage now, the files once `finish` is called, with the
 * retiring records as they are then. A plan decides those records from the groups, and would
 * otherwise assemble every file twice a commit.
 */
export interface StagedSynthesis {
  /** Sorted by name. */
  readonly groups: readonly GroupInfo[];
  readonly nodePorts: ReadonlySet<number>;
  /** The synthesis against `inputs`, whose state differs from the staged one in its retiring records at most (the caller vouches). */
  finish(inputs: SynthInputs): SynthResult;
}

/** The groups' stage of `definitions` against `inputs` (as `synthesize` makes it), and what finishes it. */
export async function synthesizeStaged(definitions: readonly Definition[], inputs: SynthInputs, cache: SynthCache): Promise<StagedSynthesis> {
  const { defs, stage, made } = await stageOf(definitions, inputs, cache);
  return {
    groups: stage.groups,
    nodePorts: stage.nodePorts,
    finish: (to) => (made && to.state === inputs.state ? made : remember(cache, defs, to, stage, finish(stage, to, cache))),
  };
}

/** The groups' stage of a synthesis, and the synthesis itself when the cache holds one of the same definitions and inputs. */
async function stageOf(definitions: readonly Definition[], inputs: SynthInputs, cache: SynthCache): Promise<{ defs: readonly Definition[]; stage: GroupStage; made?: SynthResult }> {
  const key = cacheKey(inputs);
  if (cache.key !== key) {
    Object.assign(cache, new SynthCache());
    cache.key = key;
  }
  cache.lastBuilt = 0;
  const defs = sortedByFile(definitions);
  // The watcher checks a changed set, then its commit cycle synthesizes the same set against the
  // same fetched state (for the guard, then the plan): once is enough.
  const last = cache.last;
  const stage = last && cache.stages.get(last.result);
  if (last && stage && last.state === inputs.state && last.definitions.length === defs.length && last.definitions.every((d, i) => d === defs[i])) {
    return { defs, stage, made: last.result };
  }
  const outputs: FileOutput[] = [];
  for (const def of defs) outputs.push(await fileOutput(def, inputs, cache));
  if (!outputs.some((o) => o.claimsWorkspaces) && inputs.state.workspaces.size) {
    outputs.push(await fileOutput(DEFAULT_WORKSPACES, inputs, cache));
  }
  return { defs, stage: await groupStage(outputs, inputs, cache) };
}

function remember(cache: SynthCache, definitions: readonly Definition[], inputs: SynthInputs, stage: GroupStage, result: SynthResult): SynthResult {
  cache.stages.set(result, stage);
  cache.last = { definitions, state: inputs.state, result };
  return result;
}

/** What a synthesis depends on besides definitions and state: a cache holds syntheses of one such key. */
const cacheKey = (inputs: SynthInputs) => JSON.stringify([inputs.sidecarUrl, inputs.gcSecret ?? '', inputs.argo]);

const sortedByFile = (definitions: readonly Definition[]) => [...definitions].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));

async function fileOutput(def: Definition, inputs: SynthInputs, cache: SynthCache): Promise<FileOutput> {
  const hit = cache.files.get(def);
  if (hit && fingerprint(inputs.state, hit.reads) === hit.fingerprint) return hit;
  const out = await buildFile(def, inputs);
  cache.files.set(def, out);
  cache.lastBuilt++;
  return out;
}

/**
 * The groups' stage of an assembly: every group's part, and the checks across groups. It does
 * not read the retiring records (nor does any build: tracked-state.ts).
 */
interface GroupStage {
  readonly outputs: readonly FileOutput[];
  /** The groups' files (objects and Applications), unsorted. */
  readonly files: ReadonlyMap<string, string>;
  /** Sorted by name. */
  readonly groups: readonly GroupInfo[];
  readonly waiting: readonly WaitingClone[];
  readonly sources: ReadonlySet<string>;
  readonly shown: ReadonlyArray<{ name: string; namespace: string; objects: number; ttl?: string }>;
  readonly destinations: ReadonlyMap<string, ProjectDestination>;
  readonly clusterKinds: ReadonlyMap<string, { group: string; kind: string }>;
  readonly releases: Map<string, ReleaseTarget[]>;
  readonly refreshers: readonly RbacSubject[];
  readonly nodePorts: Set<number>;
  /** `files`' paths, sorted (made once, by the first `finish`). */
  sorted?: string[];
}

async function groupStage(outputs: readonly FileOutput[], inputs: SynthInputs, cache: SynthCache): Promise<GroupStage> {
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

  // Deployments of this synthesis, for clones that name their source (when there are clones).
  const sameSynth = new Map<string, Json>();
  const clones = outputs.some((out) => out.envs.some((env) => env.deferred.length));
  for (const out of clones ? outputs : []) {
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
  // What the project must let Argo CD reach: thousands of groups share a few namespaces and kinds.
  const destinations = new Map<string, ProjectDestination>();
  const clusterKinds = new Map<string, { group: string; kind: string }>();
  const releases = new Map<string, ReleaseTarget[]>();
  const refreshers: RbacSubject[] = [];
  const nodePorts = new Set<number>();
  const yaml = (key: unknown, make: () => unknown) => memoYaml(cache, key, make);
  for (const out of outputs) {
    for (const env of out.envs) {
      for (const rules of env.releases) {
        const targets = releases.get(rules.service) ?? [];
        const other = targets.find((t) => t.rules.context === rules.context);
        if (other) throw new DefinitionError(out.file, `${env.path}: service ${rules.service}'s context "${rules.context}" is also rendered by group ${other.group} (${other.file})`);
        releases.set(rules.service, [...targets, { group: env.group, file: out.file, rules }]);
      }
      const part = await groupPart(env, out, state, inputs.argo, sameSynth, cache.groups, yaml);
      for (const o of part.objects) {
        const other = identities.get(o.id);
        if (other) {
          throw new DefinitionError(out.file, `${o.constructPath}: ${o.kind} "${o.name}"${o.namespace ? ` in namespace ${o.namespace}` : ''} is also made by ${other.path} (${other.file})`);
        }
        identities.set(o.id, { path: o.constructPath, file: out.file });
        files.set(o.path, o.yaml);
      }
      for (const p of part.nodePorts) nodePorts.add(p);
      for (const [k, d] of part.destinations) destinations.set(k, d);
      for (const k of part.clusterKinds) reachKind(clusterKinds, k);
      waiting.push(...part.waiting);
      for (const k of part.sources) sources.add(k);
      if (part.app) files.set(part.app.path, part.app.yaml);
      if (part.shown) shown.push(part.shown);
      refreshers.push(...part.refreshers);
      groups.push(part.info);
    }
  }
  groups.sort(byName);
  return { outputs, files, groups, waiting, sources, shown: shown.sort(byName), destinations, clusterKinds, releases, refreshers, nodePorts };
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** A kind the project must let Argo CD reach (thousands of groups share a few). */
const reachKind = (kinds: Map<string, { group: string; kind: string }>, k: { group: string; kind: string }) => kinds.set(`${k.group}|${k.kind}`, k);

/** The rest of an assembly, from the groups' stage: the retiring groups, the projects, the README. */
function finish(stage: GroupStage, inputs: SynthInputs, cache: SynthCache): SynthResult {
  const { state } = inputs;
  const { outputs } = stage;
  // Files besides the groups' (a few, or one a retiring group): the groups' stay in the stage's map.
  const more = new Map<string, string>();
  const destinations = new Map(stage.destinations);
  const clusterKinds = new Map(stage.clusterKinds);
  // Groups that left apps/: the project still reaching where their objects were, and, until
  // retired, their emptied Applications, through which Argo CD prunes. A group rendered again
  // replaces its own (the committer then drops its record).
  let retiring = 0;
  for (const r of state.retiring.values()) {
    const part = retiredPart(cache, r);
    if (stage.files.has(part.path)) continue;
    destinations.set(part.destinationKey, part.destination);
    for (const k of r.clusterKinds ?? []) reachKind(clusterKinds, k);
    if (r.retiredAt) continue;
    more.set(part.path, (part.yaml ??= retiredYaml(r, inputs.argo)));
    retiring++;
  }
  if (retiring) more.set(`${RETIRED_DIR}/${README}`, retiredReadme());
  more.set(appPath(ROOT_APP), toYaml(rootApplication(inputs.argo)));
  more.set(projectPath(inputs.argo.project), toYaml(groupsProject(inputs.argo, [...destinations.values()], [...clusterKinds.values()])));
  const refresh = argoRefreshRbac(inputs.argo, stage.refreshers);
  for (const o of refresh) more.set(rbacPath(o), toYaml(o));
  more.set(projectPath(rootProjectName(inputs.argo)), toYaml(rootProject(inputs.argo, refresh.length > 0)));
  more.set(README, readme(stage.shown, inputs.argo));
  return {
    files: sortedFiles(stage, more),
    groups: [...stage.groups],
    pools: outputs.flatMap((o) => o.pools).sort((a, b) => (a.type < b.type ? -1 : 1)),
    waiting: [...stage.waiting].sort((a, b) => (a.clone < b.clone ? -1 : 1)),
    sources: [...stage.sources].sort(),
    liveRules: [...new Set(outputs.flatMap((o) => o.liveRules))].sort(),
    releases: stage.releases,
    nodePorts: stage.nodePorts,
  };
}

/**
 * The stage's files and `more` (whose paths win) as one map sorted by path. The stage's paths
 * are sorted once a stage: a plan finishes one stage twice (once more when groups start
 * retiring), and the default sort compares as < does, without a comparator's calls.
 */
function sortedFiles(stage: GroupStage, more: ReadonlyMap<string, string>): Map<string, string> {
  const paths = (stage.sorted ??= [...stage.files.keys()].sort());
  const extra = [...more.keys()].sort();
  const files = new Map<string, string>();
  let j = 0;
  for (const p of paths) {
    while (j < extra.length && extra[j] < p) files.set(extra[j], more.get(extra[j++])!);
    files.set(p, more.get(p) ?? stage.files.get(p)!);
  }
  for (; j < extra.length; j++) files.set(extra[j], more.get(extra[j])!);
  return files;
}

/** A retiring group's part of the assembly, kept by its record (thousands may be retiring at once). */
interface RetiredPart {
  readonly path: string;
  readonly destination: ProjectDestination;
  readonly destinationKey: string;
  /** Its emptied Application, made when first needed. */
  yaml?: string;
}

function retiredPart(cache: SynthCache, r: RetiringRecord): RetiredPart {
  let part = cache.retired.get(r);
  if (!part) {
    const destination = { ...r.destination, namespace: r.namespace };
    part = { path: appPath(r.group), destination, destinationKey: destinationKey(destination) };
    cache.retired.set(r, part);
  }
  return part;
}

function retiredYaml(r: RetiringRecord, argo: ArgoOptions): string {
  // A GC commit on thousands of groups makes hundreds: one shape a destination, the group and the time put in.
  const key = JSON.stringify(['retired', argo, r.namespace, r.destination]);
  return yamlOfShape(key, [r.group, r.since], ([group, since]) =>
    retiredApplication({ group, namespace: r.namespace, destination: r.destination, annotations: { 'paddock.dev/retiring-since': since } }, argo));
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
