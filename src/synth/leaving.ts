/**
 * What a retiring record says of a group leaving `apps/`: where its Application sends its objects,
 * and the kinds among them without a namespace (the project must still reach both while Argo CD
 * prunes). Read the same way from a synthesis (group-part.ts) and from a tree's YAML
 * (src/repo/retiring.ts): a plan takes either, so the two must never differ.
 */
import { apiGroupOf } from '../../core/names.ts';
import type { RetiringFacts } from './results.ts';

interface ObjectLike {
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
  readonly metadata?: { readonly namespace?: unknown };
}

/** The facts, or none where the destination names no namespace or no cluster (nothing to retire). */
export function retiringFacts(destination: { namespace?: string; server?: string; name?: string }, clusterKinds: RetiringFacts['clusterKinds']): RetiringFacts | undefined {
  const { namespace, server, name } = destination;
  if (!namespace || !(server || name)) return undefined;
  return { namespace, destination: name ? { name } : { server: server! }, clusterKinds };
}

/** The kinds of `objects` that have no namespace, each once, sorted by `<group>/<kind>`. */
export function clusterKindsOf(objects: Iterable<ObjectLike>): RetiringFacts['clusterKinds'] {
  const kinds = new Map<string, { group: string; kind: string }>();
  for (const o of objects) {
    if (!o.kind || o.metadata?.namespace) continue;
    const k = { group: apiGroupOf(String(o.apiVersion)), kind: String(o.kind) };
    kinds.set(`${k.group}/${k.kind}`, k);
  }
  return [...kinds.keys()].sort().map((k) => kinds.get(k)!);
}
