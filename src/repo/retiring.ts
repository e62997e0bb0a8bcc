/**
 * Groups leaving `apps/`: a group whose Application the new tree drops (removed, its definition
 * or its lease gone) keeps it, emptied, while Argo CD prunes its objects through it; the record
 * `state/retiring/<group>.yaml` says so, and the leader's `retire` deletes it later. Deleting a
 * live Application at once can orphan its objects (see `retiredApplication`).
 *
 * Pure: the committer gives the tree at the remote tip and the new synth.
 */
import type { RetiringRecord } from '../../core/records.ts';
import { appPath, fromYaml, groupDir, groupOfAppPath, groupOfObjectPath } from '../synth/layout.ts';
import { clusterKindsOf, retiringFacts } from '../synth/leaving.ts';
import type { RetiringFacts, SynthResult } from '../synth/results.ts';

export interface RetiringChange {
  /** Groups whose Application the new tree drops: they start retiring. */
  readonly start: readonly RetiringRecord[];
  /** Retiring groups rendered again (revived, a lease back): their records go. */
  readonly stop: readonly string[];
}

/**
 * @param before  the tree at the remote tip (path -> text)
 * @param active  the groups the new synth renders with objects (each with its Application)
 * @param kept    groups whose files are kept as they were (their definition file is broken)
 * @param known   the synthesis of `before`, when at hand: a group whose files in `before` are
 *                the ones it rendered is not read from YAML (what `GroupInfo.leaving` says is
 *                what the YAML would say)
 */
export function retiringChanges(
  before: ReadonlyMap<string, string>, retiring: ReadonlyMap<string, { readonly group: string }>,
  active: ReadonlySet<string>, kept: ReadonlySet<string>, now: Date, known?: SynthResult,
): RetiringChange {
  const leaving = new Map<string, { app: string }>();
  for (const [p, text] of before) {
    const group = groupOfAppPath(p);
    if (!group || active.has(group) || retiring.has(group) || kept.has(group)) continue;
    leaving.set(group, { app: text });
  }
  const rendered = renderedFacts(before, leaving, known);
  const start: RetiringRecord[] = [];
  const read = new Set([...leaving.keys()].filter((g) => !rendered.has(g)));
  const kinds = clusterKindsByGroup(before, read);
  for (const [group, { app }] of leaving) {
    const facts = rendered.get(group) ?? appFacts(group, app, kinds.get(group) ?? []);
    if (!facts) continue;
    const { namespace, destination, clusterKinds } = facts;
    start.push({ group, since: now.toISOString(), namespace, destination, ...(clusterKinds.length ? { clusterKinds: [...clusterKinds] } : {}) });
  }
  const stop = [...retiring.keys()].filter((g) => active.has(g));
  return { start: start.sort((a, b) => (a.group < b.group ? -1 : 1)), stop: stop.sort() };
}

/** What a leaving group's Application says, or nothing to retire (an emptied one left without its record has nothing to prune). */
function appFacts(group: string, text: string, clusterKinds: RetiringFacts['clusterKinds']): RetiringFacts | undefined {
  const spec = fromYaml(text)?.spec;
  return spec?.source?.path === groupDir(group) ? retiringFacts(spec.destination ?? {}, clusterKinds) : undefined;
}

/** The leaving groups whose Application and files in `before` are those `known` rendered, with what it knows of them. */
function renderedFacts(before: ReadonlyMap<string, string>, leaving: ReadonlyMap<string, { app: string }>, known: SynthResult | undefined): Map<string, RetiringFacts> {
  const out = new Map<string, RetiringFacts>();
  if (!known || !leaving.size) return out;
  const byName = new Map(known.groups.map((g) => [g.name, g]));
  const counted = new Map<string, number>();
  for (const [group, { app }] of leaving) {
    const info = byName.get(group);
    if (!info?.leaving || known.files.get(appPath(group)) !== app) continue;
    if (!info.files.every((f) => before.get(f) === known.files.get(f))) continue;
    out.set(group, info.leaving);
    counted.set(group, 0);
  }
  // ...and no other file under its directory.
  for (const p of before.keys()) {
    const group = groupOfObjectPath(p);
    if (group && counted.has(group)) counted.set(group, counted.get(group)! + 1);
  }
  for (const [group, n] of counted) if (n !== byName.get(group)!.files.length) out.delete(group);
  return out;
}

/** For each of `groups`, the cluster-scoped kinds among its files (objects without a namespace). One pass over `files`. */
function clusterKindsByGroup(files: ReadonlyMap<string, string>, groups: ReadonlySet<string>): Map<string, RetiringFacts['clusterKinds']> {
  const objects = new Map<string, object[]>();
  if (!groups.size) return new Map();
  for (const [p, text] of files) {
    const group = groupOfObjectPath(p);
    const o = group && groups.has(group) ? fromYaml(text) : undefined;
    if (!o) continue;
    const of = objects.get(group!) ?? [];
    of.push(o);
    objects.set(group!, of);
  }
  return new Map([...objects].map(([g, os]) => [g, clusterKindsOf(os)]));
}
