/**
 * Groups leaving `apps/`: a group whose Application the new tree drops (removed, its definition
 * or its lease gone) keeps it, emptied, while Argo CD prunes its objects through it; the record
 * `state/retiring/<group>.yaml` says so, and the leader's `retire` deletes it later. Deleting a
 * live Application at once can orphan its objects (see `retiredApplication`).
 *
 * Pure: the committer gives the tree at the remote tip and the new synth.
 */
import { apiGroupOf } from '../../core/names.ts';
import type { RetiringRecord } from '../../core/records.ts';
import { appPath, fromYaml, groupDir, groupOfAppPath, groupOfObjectPath } from '../synth/layout.ts';

export interface RetiringChange {
  /** Groups whose Application the new tree drops: they start retiring. */
  readonly start: readonly RetiringRecord[];
  /** Retiring groups rendered again (revived, a lease back): their records go. */
  readonly stop: readonly string[];
}

/**
 * @param before  the tree at the remote tip (path -> text)
 * @param after   the new synth's files
 * @param active  the groups the new synth renders with objects
 * @param kept    groups whose files are kept as they were (their definition file is broken)
 */
export function retiringChanges(
  before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>, retiring: ReadonlyMap<string, { readonly group: string }>,
  active: ReadonlySet<string>, kept: ReadonlySet<string>, now: Date,
): RetiringChange {
  const leaving: Array<Omit<RetiringRecord, 'clusterKinds'>> = [];
  for (const [p, text] of before) {
    const group = groupOfAppPath(p);
    if (!group || after.has(p) || retiring.has(group) || kept.has(group)) continue;
    const spec = fromYaml(text)?.spec;
    // Only a live group's Application: an emptied one left without its record has nothing to prune.
    if (spec?.source?.path !== groupDir(group)) continue;
    const { namespace, server, name } = spec.destination ?? {};
    if (!namespace || !(server || name)) continue;
    leaving.push({ group, since: now.toISOString(), namespace, destination: name ? { name } : { server } });
  }
  const kinds = clusterKindsOf(before, new Set(leaving.map((r) => r.group)));
  const start: RetiringRecord[] = leaving.map((r) => (kinds.has(r.group) ? { ...r, clusterKinds: kinds.get(r.group) } : r));
  const stop = [...retiring.keys()].filter((g) => active.has(g) && after.has(appPath(g)));
  return { start: start.sort((a, b) => (a.group < b.group ? -1 : 1)), stop: stop.sort() };
}

/** For each of `groups`, the cluster-scoped kinds among its files (objects without a namespace), when it has any. One pass over `files`. */
function clusterKindsOf(files: ReadonlyMap<string, string>, groups: ReadonlySet<string>): Map<string, NonNullable<RetiringRecord['clusterKinds']>> {
  const found = new Map<string, Map<string, { group: string; kind: string }>>();
  if (!groups.size) return new Map();
  for (const [p, text] of files) {
    const group = groupOfObjectPath(p);
    if (!group || !groups.has(group)) continue;
    const o = fromYaml(text);
    if (!o?.kind || o.metadata?.namespace) continue;
    const k = { group: apiGroupOf(String(o.apiVersion)), kind: String(o.kind) };
    const of = found.get(group) ?? new Map();
    of.set(`${k.group}/${k.kind}`, k);
    found.set(group, of);
  }
  return new Map([...found].map(([g, kinds]) => [g, [...kinds.keys()].sort().map((k) => kinds.get(k)!)]));
}
