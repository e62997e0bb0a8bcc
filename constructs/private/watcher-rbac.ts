import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

export interface WatcherRbacProps {
  /** The watcher's ServiceAccount, Role and RoleBinding name. */
  readonly name: string;
  /** paddock's own namespace, where the ServiceAccount and the leader Lease are. */
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Other namespaces whose Deployments the watcher reads. */
  readonly watchNamespaces: readonly string[];
  /** Read Deployments in every namespace (a ClusterRole) instead. */
  readonly watchAllNamespaces: boolean;
  /** Namespaces whose ConfigMaps (clone rules) the watcher reads. */
  readonly rulesNamespaces: readonly string[];
}

const RBAC_API = 'rbac.authorization.k8s.io';
const READ_DEPLOYMENTS = { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] };
const READ_CONFIGMAPS = { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] };
/**
 * Leader election: the Lease's name is the watcher's own choice, and `create` cannot be limited
 * by name anyway, so leases in paddock's namespace (which holds nothing else).
 */
const LEADER_LEASE = { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] };

/**
 * The watcher's identity and the least it may do: read Deployments where clones have sources
 * (its namespace and `watchNamespaces`, or everywhere), read ConfigMaps where clone rules are
 * (`rulesNamespaces` only), and hold its leader Lease. One Role per namespace holds its rules. The refresh
 * of Argo CD's Applications is granted apart (`Environment.grantArgoRefresh`).
 */
export class WatcherRbac extends Construct {
  constructor(scope: Construct, id: string, props: WatcherRbacProps) {
    super(scope, id);
    const { name, namespace, labels } = props;
    new ApiObject(this, 'service-account', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, labels } });
    const subjects = [{ kind: 'ServiceAccount', name, namespace }];
    const roleAndBinding = (scopeId: string, ns: string, rules: object[]) => {
      new ApiObject(this, `${scopeId}-role`, { apiVersion: `${RBAC_API}/v1`, kind: 'Role', metadata: { name, namespace: ns, labels }, rules });
      new ApiObject(this, `${scopeId}-role-binding`, {
        apiVersion: `${RBAC_API}/v1`,
        kind: 'RoleBinding',
        metadata: { name, namespace: ns, labels },
        roleRef: { apiGroup: RBAC_API, kind: 'Role', name },
        subjects,
      });
    };
    const rules = new Map<string, object[]>([[namespace, props.watchAllNamespaces ? [LEADER_LEASE] : [READ_DEPLOYMENTS, LEADER_LEASE]]]);
    for (const ns of props.watchNamespaces) rules.set(ns, [...(rules.get(ns) ?? []), READ_DEPLOYMENTS]);
    for (const ns of props.rulesNamespaces) rules.set(ns, [...(rules.get(ns) ?? []), READ_CONFIGMAPS]);
    for (const [ns, list] of rules) roleAndBinding(ns === namespace ? 'own' : ns, ns, list);
    if (props.watchAllNamespaces) {
      // Cluster-scoped names are shared by every paddock in the cluster: qualify with the namespace.
      const clusterName = `${name}-${namespace}`;
      new ApiObject(this, 'cluster-role', { apiVersion: `${RBAC_API}/v1`, kind: 'ClusterRole', metadata: { name: clusterName, labels }, rules: [READ_DEPLOYMENTS] });
      new ApiObject(this, 'cluster-role-binding', {
        apiVersion: `${RBAC_API}/v1`,
        kind: 'ClusterRoleBinding',
        metadata: { name: clusterName, labels },
        roleRef: { apiGroup: RBAC_API, kind: 'ClusterRole', name: clusterName },
        subjects,
      });
    }
  }
}
