/**
 * Live clone sources: Deployments in the cluster that clones name by `{namespace, name}`.
 *
 * Fed by informer events (or recorded ones in tests). Only changes a clone can see count:
 * a status update (ready replicas, conditions) is not a reason to commit; replicas, the pod
 * template (images, env, containers) and labels are. Pure: no client, no clock.
 */
type Json = Record<string, any>;

export interface DeploymentEvent {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** The Deployment as the API serves it (wire JSON). */
  readonly object: Json;
}

export class LiveSources {
  private readonly deployments = new Map<string, Json>();

  /** Applies an event; true when it changes what a clone of that Deployment would be. */
  apply(e: DeploymentEvent): boolean {
    const key = keyOf(e.object);
    if (!key) return false;
    const before = this.deployments.get(key);
    if (e.type === 'DELETED') {
      this.deployments.delete(key);
      return before !== undefined;
    }
    this.deployments.set(key, e.object);
    return before === undefined || significant(before) !== significant(e.object);
  }

  /** Replaces everything with a fresh list (after an informer relist); true when anything a clone sees changed. */
  replace(namespace: string, items: readonly Json[]): boolean {
    let changed = false;
    const seen = new Set<string>();
    for (const item of items) {
      const key = keyOf(item);
      if (!key) continue;
      seen.add(key);
      if (this.apply({ type: 'MODIFIED', object: item })) changed = true;
    }
    for (const key of [...this.deployments.keys()]) {
      if (key.startsWith(`${namespace}/`) && !seen.has(key)) {
        this.deployments.delete(key);
        changed = true;
      }
    }
    return changed;
  }

  /** For the synthesis: Deployments by `namespace/name`. */
  get = (): ReadonlyMap<string, Json> => this.deployments;
}

function keyOf(o: Json): string | undefined {
  const ns = o?.metadata?.namespace;
  const name = o?.metadata?.name;
  return typeof ns === 'string' && typeof name === 'string' ? `${ns}/${name}` : undefined;
}

/** What a clone is made of: replicas, selector, pod template and labels; not status or bookkeeping. */
function significant(o: Json): string {
  const spec = o.spec ?? {};
  return JSON.stringify([spec.replicas, spec.selector, spec.template, o.metadata?.labels ?? {}]);
}
