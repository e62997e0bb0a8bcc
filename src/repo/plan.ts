/**
 * What one commit cycle makes of the repo as fetched: pure, no git. The definitions are first
 * held to the mass-removal guard; then the batch's intents are applied to `state/` in order,
 * the groups born now get creation records, groups leaving `apps/` get retiring records (their
 * emptied Applications), and synthesis gives the new tree. The committer writes and pushes it.
 *
 * Owns: the tree a batch makes, and the commit message. Must not touch: git, the clock, the disk.
 */
import { recordPath, type StateRecords } from '../../core/records.ts';
import { paddockVersion } from '../../core/version.ts';
import { UserError, isUserError } from '../errors.ts';
import { groupDir, groupOfAppPath, groupOfObjectPath } from '../synth/layout.ts';
import { isOwnedPath } from '../synth/output.ts';
import { recordFile } from '../synth/state.ts';
import { definitionsDigest } from '../synth/loader.ts';
import { DEFINITION_ANNOTATION, synthesize, synthesizeStaged, type SynthCache, type SynthInputs, type SynthResult } from '../synth/synthesize.ts';
import { applyIntent, StateDraft, type Intent, type Outcome } from './intents.ts';
import { retiringChanges } from './retiring.ts';
import type { SettingsDecision } from './settings.ts';
import type { DefinitionSet } from './types.ts';

/** The repo as fetched. */
export interface Tree {
  readonly files: ReadonlyMap<string, string>;
  readonly state: StateRecords;
}

export interface PlanInput {
  readonly tree: Tree;
  /** Definitions the guard let through. */
  readonly definitions: DefinitionSet;
  readonly intents: readonly Intent[];
  /** The guard's refusal, when it refused a definitions change: each `sync` intent gets it. */
  readonly guardError?: UserError;
  readonly settings: SettingsDecision;
  readonly now: Date;
  readonly inputs: (state: StateRecords) => SynthInputs;
  readonly cache: SynthCache;
  /** The synthesis of `tree` with these definitions, when known. */
  readonly known?: SynthResult;
}

export interface Plan {
  /** Each intent's outcome, in the order given. */
  readonly outcomes: ReadonlyArray<Outcome | Error>;
  readonly state: StateRecords;
  readonly result: SynthResult;
  readonly files: Map<string, string>;
  /** Paths that differ from `tree`, sorted. */
  readonly changed: string[];
}

export async function plan(input: PlanInput): Promise<Plan> {
  const { tree, now, cache } = input;
  const defs = input.definitions.definitions;
  const stage = (state: StateRecords) => synthesizeStaged(defs, input.inputs(state), cache);
  const known = input.known ?? (await synthesize(defs, input.inputs(tree.state), cache));
  const draft = new StateDraft(tree.state, now, new Set([...known.groups.map((g) => g.name), ...tree.state.removals.keys()]), known.nodePorts);
  if (input.settings.write) {
    draft.settings = input.settings.record;
    draft.write(recordFile.settings(input.settings.record));
  }
  const outcomes = input.intents.map((intent): Outcome | Error => {
    if (intent.body.kind === 'sync' && input.guardError) return input.guardError;
    try {
      return applyIntent(draft, intent);
    } catch (e) {
      if (!isUserError(e)) throw e;
      return e;
    }
  });

  let state = stateOf(draft, tree.state);
  let staged = await stage(state);
  // Groups born now: their creation records (a TTL counts from here).
  const born = staged.groups.filter((g) => !g.removed && g.files.length && !draft.groups.has(g.name));
  if (born.length) {
    for (const g of born) {
      const rec = { group: g.name, createdAt: now.toISOString() };
      draft.groups.set(g.name, rec);
      draft.write(recordFile.group(rec));
    }
    state = stateOf(draft, tree.state);
    staged = await stage(state);
  }

  // Groups leaving apps/ keep an emptied Application while Argo CD prunes their objects.
  const broken = new Set(input.definitions.broken ?? []);
  const live = new Set(staged.groups.filter((g) => g.files.length).map((g) => g.name));
  const retiring = retiringChanges(tree.files, draft.retiring, live, groupsOfBroken(broken, tree.files), now, known);
  if (retiring.start.length || retiring.stop.length) {
    for (const r of retiring.start) {
      draft.retiring.set(r.group, r);
      draft.write(recordFile.retiring(r));
    }
    for (const g of retiring.stop) {
      draft.retiring.delete(g);
      draft.remove(recordPath.retiring(g));
    }
    state = stateOf(draft, tree.state);
  }
  // The files, once: only the retiring records changed since the groups' stage.
  const result = staged.finish(input.inputs(state));

  // The new tree: state writes, and the synth's files in place of the old owned files.
  const files = new Map<string, string>();
  for (const [p, c] of tree.files) if (!isOwnedPath(p)) files.set(p, c);
  for (const [p, c] of draft.writes) {
    if (c === null) files.delete(p);
    else files.set(p, c);
  }
  for (const [p, c] of result.files) files.set(p, c);
  if (broken.size) keepGroupsOf(broken, tree.files, files);
  return { outcomes, state, result, files, changed: diff(tree.files, files) };
}

/**
 * Holds each new version of the definitions to the mass-removal guard, and remembers the last
 * version it let through: a refused change is answered with that one (`use`), or with nothing
 * to use before any was trusted.
 */
export class Guard {
  /** Definitions of the last commit that went through the guard. */
  trusted?: DefinitionSet;

  async check(defs: DefinitionSet, tree: Tree, inputs: SynthInputs, cache: SynthCache, allowMassRemoval = false): Promise<{ use?: DefinitionSet; refused?: UserError }> {
    if (this.trusted && this.trusted.version === defs.version) return { use: defs };
    const refused = await massRemoval(defs, tree, inputs, cache, allowMassRemoval);
    if (!refused) this.trusted = defs;
    return refused ? { use: this.trusted, refused } : { use: defs };
  }
}

/** Trailers saying what made a commit: paddock's version and the definitions (digest, and checkout commit when known). */
export function provenance(defs: DefinitionSet): string[] {
  return [
    `Paddock-Version: ${paddockVersion() ?? 'unknown'}`,
    `Paddock-Definitions: ${definitionsDigest(defs.definitions, defs.broken)}`,
    ...(defs.commit ? [`Paddock-Definitions-Commit: ${defs.commit}`] : []),
  ];
}

/**
 * The mass-removal guard: a `MassRemovalRefused` error when `defs` would remove more than half
 * of the live groups in `tree` (and more than 3), or when no definitions could be read at all.
 */
export async function massRemoval(defs: DefinitionSet, tree: Tree, inputs: SynthInputs, cache: SynthCache, allowMassRemoval = false): Promise<UserError | undefined> {
  const before = liveGroups(tree);
  if (!before.size) return undefined;
  if (!defs.definitions.length) {
    return new UserError('MassRemovalRefused', `no definitions could be read; refusing to remove the ${before.size} groups in the repo`);
  }
  if (allowMassRemoval) return undefined;
  const lost = lostGroups(tree, await synthesize(defs.definitions, inputs, cache));
  if (lost.length > 3 && lost.length * 2 > before.size) {
    return new UserError('MassRemovalRefused', `the definitions would remove ${lost.length} of ${before.size} groups (${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ', ...' : ''}); refusing without --allow-mass-removal`);
  }
  return undefined;
}

/** The draft's state: `unchanged` itself when nothing was written (a synthesis of it is then one already made). */
function stateOf(d: StateDraft, unchanged: StateRecords): StateRecords {
  if (!d.writes.size && d.settings === unchanged.settings) return unchanged;
  return { groups: d.groups, removals: d.removals, releases: d.releases, deployments: d.deployments, workspaces: d.workspaces, leases: d.leases, sources: d.sources, rules: d.rules, retiring: d.retiring, ...(d.settings ? { settings: d.settings } : {}) };
}

/** The groups of `tree` that are live there and that `after` no longer renders (and no removal record removed). */
export function lostGroups(tree: Tree, after: SynthResult): string[] {
  const kept = new Set(after.groups.filter((g) => g.files.length).map((g) => g.name));
  return [...liveGroups(tree)].filter((g) => !kept.has(g) && !tree.state.removals.has(g));
}

/** Live groups only: an emptied Application (a group already leaving) is no group to lose. */
function liveGroups(tree: Tree): Set<string> {
  return new Set([...committedGroups(tree.files)].filter((g) => !tree.state.retiring.has(g)));
}

function committedGroups(files: ReadonlyMap<string, string>): Set<string> {
  const out = new Set<string>();
  for (const p of files.keys()) {
    const group = groupOfAppPath(p);
    if (group) out.add(group);
  }
  return out;
}

/** The groups in `before` whose Application names a definition file in `broken`. */
function groupsOfBroken(broken: ReadonlySet<string>, before: ReadonlyMap<string, string>): Set<string> {
  const out = new Set<string>();
  if (!broken.size) return out;
  const annotation = new RegExp(`^\\s+${DEFINITION_ANNOTATION.replace(/[./]/g, '\\$&')}: "?([^"\\n]+)"?$`, 'm');
  for (const [p, text] of before) {
    const group = groupOfAppPath(p);
    const def = group && annotation.exec(text)?.[1];
    if (def && broken.has(def)) out.add(group);
  }
  return out;
}

/** Copies from `before` the Application and files of every group whose definition file is in `broken` and that `after` lacks. */
export function keepGroupsOf(broken: ReadonlySet<string>, before: ReadonlyMap<string, string>, after: Map<string, string>): void {
  const kept = groupsOfBroken(broken, before);
  for (const [p, text] of before) {
    const group = groupOfAppPath(p);
    if (!group || after.has(p) || !kept.has(group)) continue;
    after.set(p, text);
    const dir = `${groupDir(group)}/`;
    for (const [q, c] of before) if (q.startsWith(dir)) after.set(q, c);
  }
}

function diff(before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  for (const [p, c] of after) if (before.get(p) !== c) out.push(p);
  for (const p of before.keys()) if (!after.has(p)) out.push(p);
  return out.sort();
}

/**
 * `<verb>(<kind>/<name>): <what>`, the paths in the body, one trailer pair per intent, then the
 * provenance trailers (`Paddock-Version`, `Paddock-Definitions`, ...).
 */
export function commitMessage(batch: ReadonlyArray<{ readonly intent: Intent; readonly outcome: Outcome | Error }>, changed: readonly string[], provenance: readonly string[] = [], settingsChanged: readonly string[] = []): string[] {
  const subjects = batch.map((p) => {
    const o = p.outcome;
    return o && !(o instanceof Error) && o.subject ? o.subject : `sync(definitions): regenerate`;
  });
  const unique = [...new Set(subjects)];
  const subject = unique.length === 1 ? unique[0] : `batch(paddock): ${batch.length} changes`;
  const groupsTouched = [...new Set(changed.flatMap((p) => groupOfObjectPath(p) ?? []))];
  const body = [
    ...(settingsChanged.length ? [...settingsChanged.map((c) => `settings: ${c}`), ''] : []),
    ...(unique.length > 1 ? [...unique.slice(0, 50).map((s) => `- ${s}`), ...(unique.length > 50 ? [`- ... and ${unique.length - 50} more`] : []), ''] : []),
    ...changed.slice(0, 200),
    ...(changed.length > 200 ? [`... and ${changed.length - 200} more paths (groups: ${groupsTouched.length})`] : []),
  ].join('\n');
  const trailers = [...batch.flatMap((p) => [`Paddock-Request-Id: ${p.intent.requestId}`, `Paddock-Requested-By: ${p.intent.requestedBy}`]), ...provenance].join('\n');
  return [subject, body, trailers];
}

/** The intents of a commit by kind; a removal counts under its reason. */
export function kindsOf(batch: ReadonlyArray<{ readonly intent: Intent }>): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const { intent: { body } } of batch) {
    const kind = body.kind === 'remove' ? body.reason : body.kind;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}
