/**
 * Groups leaving `apps/`: a group whose Application the new tree drops (removed, its definition
 * or its lease gone) keeps it, emptied, while Argo CD prunes its objects through it; the record
 * `state/retiring/<group>.yaml` says so, and the leader's `retire` deletes it later. Deleting a
 * live Application at once can orphan its objects (see `retiredApplication`).
 *
 * Pure: the committer gives the tree at the remote tip and the new synth.
 */
import YAML from 'yaml';
import { apiGroupOf } from '../../core/names.ts';
import type { RetiringRecord } from '../../core/records.ts';
import { appPath, groupDir, groupOfAppPath } from '../synth/layout.ts';

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
  const start: RetiringRecord[] = [];
  for (const [p, text] of before) {
    const group = groupOfAppPath(p);
    if (!group || after.has(p) || retiring.has(group) || kept.has(group)) continue;
    const spec = YAML.parse(text)?.spec;
    // Only a live group's Application: an emptied one left without its record has nothing to prune.
    if (spec?.source?.path !== groupDir(group)) continue;
    const { namespace, server, name } = spec.destination ?? {};
    if (!namespace || !(server || name)) continue;
    start.push({
      group, since: now.toISOString(), namespace,
      destination: name ? { name } : { server },
      ...clusterKindsOf(before, group),
    });
  }
  const stop = [...retiring.keys()].filter((g) => active.has(g) && after.has(appPath(g)));
  return { start: start.sort((a, b) => (a.group < b.group ? -1 : 1)), stop: stop.sort() };
}

/** The cluster-scoped kinds among a group's files (objects without a namespace). */
function clusterKindsOf(files: ReadonlyMap<string, string>, group: string): { clusterKinds?: RetiringRecord['clusterKinds'] } {
  const dir = `${groupDir(group)}/`;
  const kinds = new Map<string, { group: string; kind: string }>();
  for (const [p, text] of files) {
    if (!p.startsWith(dir)) continue;
    const o = YAML.parse(text);
    if (!o?.kind || o.metadata?.namespace) continue;
    const k = { group: apiGroupOf(String(o.apiVersion)), kind: String(o.kind) };
    kinds.set(`${k.group}/${k.kind}`, k);
  }
  return kinds.size ? { clusterKinds: [...kinds.keys()].sort().map((k) => kinds.get(k)!) } : {};
}
