/**
 * Kinds as definitions name them (`Deployment`, or `group/Kind` for anything outside the
 * built-in API groups), and the kinds a release may render by default. Pure.
 */
import { apiGroupOf, CLUSTER_SCOPED_KINDS } from './names.ts';

/** A kind and its API group (`''` for the core group). */
export interface KindRef {
  readonly group: string;
  readonly kind: string;
}

/** The API group of each built-in namespaced kind a definition may name without one. */
const BUILTIN_GROUPS: Readonly<Record<string, string>> = {
  Pod: '', Service: '', ConfigMap: '', Secret: '', ServiceAccount: '', PersistentVolumeClaim: '', Endpoints: '',
  LimitRange: '', ResourceQuota: '', ReplicationController: '',
  Deployment: 'apps', StatefulSet: 'apps', DaemonSet: 'apps', ReplicaSet: 'apps',
  Job: 'batch', CronJob: 'batch',
  HorizontalPodAutoscaler: 'autoscaling', PodDisruptionBudget: 'policy',
  Ingress: 'networking.k8s.io', NetworkPolicy: 'networking.k8s.io',
  Role: 'rbac.authorization.k8s.io', RoleBinding: 'rbac.authorization.k8s.io',
  Lease: 'coordination.k8s.io', EndpointSlice: 'discovery.k8s.io',
};

/**
 * What a release renders unless its `Release` says otherwise: workloads, services, config and
 * ingress. No RBAC, no ServiceAccounts, nothing cluster-scoped.
 */
export const DEFAULT_RELEASE_KINDS: readonly string[] = [
  'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Service', 'ConfigMap', 'Secret', 'Ingress',
  'HorizontalPodAutoscaler', 'PodDisruptionBudget',
];

/** `Deployment` or `example.com/Widget` as a `KindRef`; throws a one-line reason. */
export function parseKindRef(text: string): KindRef {
  const slash = text.lastIndexOf('/');
  if (slash >= 0) {
    const group = text.slice(0, slash);
    const kind = text.slice(slash + 1);
    if (!/^[A-Z][A-Za-z0-9]*$/.test(kind) || !/^([a-z0-9-]+(\.[a-z0-9-]+)*)?$/.test(group)) throw new Error(`kind "${text}" must be Kind or group/Kind, e.g. Deployment or example.com/Widget`);
    return { group, kind };
  }
  const group = BUILTIN_GROUPS[text];
  if (group === undefined) throw new Error(`kind "${text}" is not a built-in namespaced kind paddock knows; name it with its API group, as group/Kind`);
  return { group, kind: text };
}

/** A built-in cluster-scoped kind, or one of `alsoClusterScoped` (custom resources a group declares). */
export function isClusterScoped(kind: string, alsoClusterScoped: readonly string[] = []): boolean {
  return CLUSTER_SCOPED_KINDS.has(kind) || alsoClusterScoped.includes(kind);
}

export function kindMatches(obj: { apiVersion?: unknown; kind?: unknown }, refs: readonly KindRef[]): boolean {
  const group = apiGroupOf(String(obj.apiVersion ?? ''));
  return refs.some((r) => r.kind === obj.kind && r.group === group);
}

/** Where a group's objects may be: its namespace, the other namespaces and cluster-scoped kinds its definition allows. */
export interface GroupScope {
  readonly namespace: string;
  readonly namespaces: readonly string[];
  readonly clusterKinds: readonly string[];
}

/** Why `obj` may not be in a group of `scope`, or undefined when it may. */
export function scopeProblem(obj: { kind?: unknown; metadata?: { namespace?: unknown } }, scope: GroupScope): string | undefined {
  const kind = String(obj.kind);
  if (scope.clusterKinds.includes(kind)) return undefined;
  if (isClusterScoped(kind)) return `${kind} is cluster-scoped; a group holds one only when its Environment lists the kind in allowedClusterKinds`;
  const ns = obj.metadata?.namespace;
  if (ns === undefined || ns === scope.namespace || scope.namespaces.includes(String(ns))) return undefined;
  return `namespace "${String(ns)}" is not the group's (${scope.namespace}); list it in the Environment's allowedNamespaces to allow it`;
}

/** The nodePorts a Service holds on every node (none for other kinds). */
export function nodePortsOf(obj: { kind?: unknown; spec?: { ports?: ReadonlyArray<{ nodePort?: unknown }> } }): number[] {
  if (obj.kind !== 'Service') return [];
  return (obj.spec?.ports ?? []).map((p) => p.nodePort).filter((n): n is number => Number.isInteger(n));
}
