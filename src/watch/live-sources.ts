/**
 * Live clone sources: Deployments in the cluster that clones name by `{namespace, name}`.
 *
 * Fed by informer events (or recorded ones in tests). Only changes a clone can see count:
 * a status update (ready replicas, conditions) is not a reason to commit; replicas, the pod
 * template (images, env, containers) and labels are. What a clone needs of a source is
 * recorded in the repo (`sourceRecordOf`), so every writer renders the same clone.
 * Pure: no client, no clock.
 */
import type { SourceRecord } from '../../core/records.ts';

type Json = Record<string, any>;

/** Annotations that change without the Deployment changing for a clone (every rollout, every apply). */
const NOISE_ANNOTATIONS = ['deployment.kubernetes.io/revision', 'kubectl.kubernetes.io/last-applied-configuration'];

/**
 * What a clone needs of a live Deployment, as recorded in `state/sources/<namespace>/<name>.yaml`:
 * its labels, annotations and spec; no status, no server bookkeeping. Keys are sorted, so two
 * watchers that see the same Deployment write the same bytes.
 */
export function sourceRecordOf(o: Json): SourceRecord {
  const meta: Json = o.metadata ?? {};
  const annotations = Object.fromEntries(Object.entries<string>(meta.annotations ?? {}).filter(([k]) => !NOISE_ANNOTATIONS.includes(k)));
  const metadata: Json = { name: meta.name, namespace: meta.namespace };
  if (meta.labels && Object.keys(meta.labels).length) metadata.labels = meta.labels;
  if (Object.keys(annotations).length) metadata.annotations = annotations;
  return {
    namespace: meta.namespace,
    name: meta.name,
    deployment: sorted({ apiVersion: 'apps/v1', kind: 'Deployment', metadata, spec: o.spec ?? {} }) as SourceRecord['deployment'],
  };
}

/** A copy with every object's keys in order (arrays keep theirs); undefined values dropped. */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v === null || typeof v !== 'object') return v;
  const out: Json = {};
  for (const k of Object.keys(v).sort()) {
    const x = (v as Json)[k];
    if (x !== undefined) out[k] = sorted(x);
  }
  return out;
}

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
