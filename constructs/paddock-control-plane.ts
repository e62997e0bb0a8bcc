import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { Environment } from './environment.ts';
import { defaultPaddockImage, DEFAULT_GIT_SYNC_IMAGE, PADDOCK_IMAGE_REPOSITORY, resolveControlPlane } from './private/control-plane-config.ts';
import { commonEnv, DEFINITIONS_LINK, DEFINITIONS_ROOT, paddockPodSpec, secretEnv } from './private/paddock-pod.ts';
import { Observability } from './private/observability.ts';
import { WatcherRbac } from './private/watcher-rbac.ts';

/** Up to 3 minutes to the first answer on /healthz: a clone, a load of the definitions, a wait for newer ones, the first commit. */
const STARTUP_PROBE = { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5, failureThreshold: 36 };

export { DEFAULT_GIT_SYNC_IMAGE, PADDOCK_IMAGE_REPOSITORY };
/** Port the sidecar listens on, in the pod and on its Service. */
export const SIDECAR_PORT = 8080;
/** Where the sidecar reads its lease config (`leaseConfig`), and the ConfigMap key it is in. */
const LEASE_CONFIG_DIR = '/etc/paddock/leases';
const LEASE_CONFIG_FILE = 'resources.yaml';
/** The watcher's own port: `POST /follow` (the sidecar's "I pushed"), `/healthz`, `/readyz` and `/metrics`. */
export const WATCHER_PORT = 8081;

export interface PaddockGitSshProps {
  /** Name of the Secret holding the private key and known_hosts. @default the control plane's `secretName` */
  readonly secretName?: string;
  /** Key of the SSH private key in the Secret (a `kubernetes.io/ssh-auth` Secret uses this one). @default 'ssh-privatekey' */
  readonly privateKeyKey?: string;
  /**
   * Key of the known_hosts file in the Secret. Host keys are always checked against it
   * (`StrictHostKeyChecking=yes`): a host missing from it is refused, never trusted on first use.
   * @default 'known_hosts'
   */
  readonly knownHostsKey?: string;
}

export interface PaddockControlPlaneProps {
  /** The manifests repo paddock writes and Argo CD syncs (`PADDOCK_REPO`), e.g. `git@git.example.com:platform/manifests.git`. */
  readonly repo: string;
  /** Branch of the manifests repo written and synced (`PADDOCK_BRANCH`). @default 'main' */
  readonly branch?: string;
  /** The URL Argo CD reads the manifests repo from, when not `repo` (`PADDOCK_ARGO_REPO_URL`). @default `repo` */
  readonly argoRepoUrl?: string;
  /** The definitions repo (the `environments/*.ts` files) git-sync keeps checked out, e.g. `https://git.example.com/platform/environments.git`. */
  readonly definitionsRepo: string;
  /** Branch, tag or commit of the definitions repo to check out (git-sync `--ref`). @default 'main' */
  readonly definitionsBranch?: string;
  /** Directory of the definition files inside the definitions repo, relative to its root. @default '' (the repo root) */
  readonly definitionsPath?: string;
  /** How long git-sync waits between fetches of the definitions repo, as a Go duration (`30s`, `1m`). @default '30s' */
  readonly syncPeriod?: string;
  /** Prefix of every object's name: `<prefix>-watcher`, `<prefix>-sidecar`. A DNS label of at most 55 characters. @default 'paddock' */
  readonly prefix?: string;
  /** paddock's image, run as `paddock watch` and `paddock serve`. @default `ghcr.io/paddock-dev/paddock:<this package's version>` ('latest' when the version cannot be read) */
  readonly image?: string;
  /** The git-sync (v4) image beside each paddock container. @default 'registry.k8s.io/git-sync/git-sync:v4.2.4' */
  readonly gitSyncImage?: string;
  /**
   * Watcher pods. One holds the leader Lease (coordination.k8s.io/v1) and works; the others wait
   * as standbys and take over when its lease runs out. @default 2
   */
  readonly replicas?: number;
  /**
   * Other namespaces whose Deployments the watcher reads (live `Clone` sources): each gets a Role
   * and RoleBinding allowing get/list/watch on Deployments. The namespaces must exist. @default none
   */
  readonly watchNamespaces?: readonly string[];
  /**
   * Namespaces (paddock's own included, if listed) whose ConfigMaps the watcher may read: where
   * the ConfigMaps of clone rules that definitions follow (`Clone.fromLiveConfigMap`) are. Only
   * these: ConfigMaps elsewhere stay unread, and the watcher says so. @default none
   */
  readonly rulesNamespaces?: readonly string[];
  /**
   * Let the watcher read Deployments in every namespace, through a ClusterRole and
   * ClusterRoleBinding, instead of per-namespace Roles. @default false
   */
  readonly watchAllNamespaces?: boolean;
  /**
   * The Secret in this namespace holding paddock's secrets. paddock's pods read them by reference
   * only; nothing secret is ever written into a manifest. @default 'paddock-secrets'
   */
  readonly secretName?: string;
  /** Key of the GC HMAC secret in `secretName` (`PADDOCK_GC_SECRET`, watcher and sidecar). @default 'gc-secret' */
  readonly gcSecretKey?: string;
  /** Key of the comma-separated API bearer tokens in `secretName` (`PADDOCK_API_TOKENS`, sidecar only). @default 'api-tokens' */
  readonly apiTokensKey?: string;
  /**
   * Key of the lease users in `secretName` (`PADDOCK_LEASE_USERS`, sidecar only: `user:password`
   * pairs): with it, lease calls need the Boskos client's basic auth. @default none (open, as Boskos)
   */
  readonly leaseUsersKey?: string;
  /**
   * The sidecar's lease pools besides `LeasePool` definitions: Boskos's resources YAML
   * (`resources: [{type, names | min-count/max-count}]`) or the seed's JSON lines. It ships as the
   * ConfigMap `<prefix>-leases`, mounted (as a directory, so edits reach the pod) and read with
   * `--lease-config`: an edit adds or retires resources within a minute, without a restart; a
   * retired resource someone holds goes when it is released. @default none
   */
  readonly leaseConfig?: string;
  /**
   * The git SSH key, mounted read-only into every container that talks to an SSH URL: the paddock
   * containers for an SSH `repo`, git-sync for an SSH `definitionsRepo`. @default key `ssh-privatekey` and `known_hosts` in `secretName`
   */
  readonly gitSsh?: PaddockGitSshProps;
  /**
   * More plain settings for both paddock containers, such as `PADDOCK_WORKSPACE_DOMAINS` or
   * `PADDOCK_NODE_ADDRESS`. Not for secrets: the ones this construct sets are refused. @default none
   */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * How the watcher asks Argo CD to look at the repo after a commit instead of at its next poll
   * (`PADDOCK_ARGO_REFRESH`): `hard` (past the repo server's caches), `normal`, or `off`. When not
   * `off`, the watcher's ServiceAccount gets `patch` on Applications in Argo CD's namespace,
   * rendered by paddock into `apps/` (a Role and RoleBinding), and nothing else there. The
   * sidecar never talks to the Kubernetes API: after each push it tells the watcher (its
   * Service, `POST /follow`), which fetches and refreshes for it. @default 'hard'
   */
  readonly argoRefresh?: 'hard' | 'normal' | 'off';
  /**
   * paddock's Grafana dashboard as a ConfigMap labelled `grafana_dashboard: "1"`, which
   * kube-prometheus-stack's Grafana loads (its dashboard sidecar must search this namespace).
   * The same JSON is `dashboards/paddock.json`. @default true
   */
  readonly dashboard?: boolean;
  /**
   * A PodMonitor (Prometheus operator) scraping the watcher's and the sidecar's `/metrics`:
   * `true`, or the scrape interval. Needs the operator's CRDs in the cluster. @default none
   */
  readonly podMonitor?: boolean | { readonly interval?: string };
}

/**
 * paddock itself, deployed by paddock: the watcher (`paddock watch`, leader-elected replicas) and
 * the sidecar (`paddock serve`), each behind its Service and with a git-sync container keeping
 * the definitions repo checked out, their ServiceAccounts and the least RBAC the watcher needs.
 * Secrets come only from a Secret by reference. Use it inside an `Environment`.
 */
export class PaddockControlPlane extends Construct {
  /** paddock's own image for this version of the library. */
  public static defaultImage(): string {
    return defaultPaddockImage();
  }

  /** `http://<prefix>-sidecar.<namespace>.svc:8080`: the base of every `GARBAGE_COLLECTOR_URL` (`PADDOCK_SIDECAR_URL`). */
  public readonly sidecarUrl: string;
  /** The namespace paddock runs in (the Environment's). */
  public readonly namespace: string;
  /** Where the definition files are inside paddock's containers (`--definitions`). */
  public readonly definitionsDir: string;
  /** paddock's image. */
  public readonly image: string;
  /** Name of the watcher's Deployment, Service and ServiceAccount, and of its Role and RoleBinding. */
  public readonly watcherName: string;
  /** Name of the sidecar's Deployment, ServiceAccount and Service. */
  public readonly sidecarName: string;
  public readonly watcherDeployment: ApiObject;
  public readonly sidecarDeployment: ApiObject;
  public readonly sidecarService: ApiObject;
  /** `<prefix>-watcher`: where the sidecar tells the watcher of its pushes. */
  public readonly watcherService: ApiObject;

  constructor(scope: Construct, id: string, props: PaddockControlPlaneProps) {
    super(scope, id);
    const env = Environment.enclosing(this);
    if (!env) throw new Error(`${this.node.path}: a PaddockControlPlane must be inside an Environment`);
    // A GC of paddock's own group would remove the sidecar and the watcher.
    env.excludeFromGc();
    const namespace = env.namespace;
    const c = resolveControlPlane(this.node.path, props, namespace);
    this.namespace = namespace;
    this.image = c.image;
    this.watcherName = `${c.prefix}-watcher`;
    this.sidecarName = `${c.prefix}-sidecar`;
    this.sidecarUrl = `http://${this.sidecarName}.${namespace}.svc:${SIDECAR_PORT}`;
    this.definitionsDir = [DEFINITIONS_ROOT, DEFINITIONS_LINK, c.definitionsPath].filter(Boolean).join('/');
    // The watcher's Roles in the namespaces it reads, or its ClusterRole: the group holds them by
    // this grant. Its right to refresh Argo CD's Applications is rendered apart, in apps/.
    env.allow({ namespaces: [...c.watchNamespaces, ...c.rulesNamespaces], clusterKinds: c.watchAllNamespaces ? ['ClusterRole', 'ClusterRoleBinding'] : [] });
    if (c.argoRefresh !== 'off') env.grantArgoRefresh(this.watcherName);
    const labelsOf = (component: string) => ({ 'app.kubernetes.io/name': 'paddock', 'app.kubernetes.io/instance': c.prefix, 'app.kubernetes.io/component': component });
    const shared = commonEnv(c, this.sidecarUrl);

    // --- the watcher: its identity and RBAC, its pods, its port ---
    const watcherLabels = labelsOf('watcher');
    new WatcherRbac(this, 'watcher-rbac', { name: this.watcherName, namespace, labels: watcherLabels, watchNamespaces: c.watchNamespaces, rulesNamespaces: c.rulesNamespaces, watchAllNamespaces: c.watchAllNamespaces });
    this.watcherDeployment = this.deployment('watcher', this.watcherName, watcherLabels, { replicas: c.replicas }, paddockPodSpec(c, this.watcherName, {
      name: 'watcher',
      args: ['watch', '--repo', '$(PADDOCK_REPO)', '--definitions', this.definitionsDir, '--listen', `0.0.0.0:${WATCHER_PORT}`],
      ports: [{ name: 'http', containerPort: WATCHER_PORT, protocol: 'TCP' }],
      // Ready: definitions committed, clone sources listed, last commit good (its /readyz says which is not).
      readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
      // Liveness counts from the first answer: a start may wait up to 45 s for definitions another
      // writer rendered first (src/repo/definitions-order.ts), the sidecar's before its port is served.
      startupProbe: STARTUP_PROBE,
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 3 },
      env: [
        ...shared,
        { name: 'PADDOCK_ARGO_REFRESH', value: c.argoRefresh },
        // The leader Lease's holder identity and namespace.
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      ],
    }));
    // Any replica can follow and refresh (each has the Role), so the Service selects them all.
    this.watcherService = this.httpService('watcher-service', this.watcherName, watcherLabels, WATCHER_PORT);

    // --- the sidecar: no Kubernetes API access at all; it tells the watcher of its pushes ---
    const sidecarLabels = labelsOf('sidecar');
    new ApiObject(this, 'sidecar-service-account', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: this.sidecarName, labels: sidecarLabels },
      automountServiceAccountToken: false,
    });
    // Lease pools from a ConfigMap: a directory mount (a subPath mount would never see an edit).
    const leases = c.leaseConfig === undefined ? undefined : new ApiObject(this, 'lease-config', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${c.prefix}-leases`, labels: sidecarLabels },
      data: { [LEASE_CONFIG_FILE]: c.leaseConfig },
    });
    // One sidecar: lease heartbeats live in its memory, so two would each reap the other's
    // leases. Recreate keeps it one during a rollout too.
    this.sidecarDeployment = this.deployment('sidecar', this.sidecarName, sidecarLabels, { replicas: 1, strategy: { type: 'Recreate' } }, paddockPodSpec(c, this.sidecarName, {
      name: 'sidecar',
      args: ['serve', '--repo', '$(PADDOCK_REPO)', '--definitions', this.definitionsDir, '--listen', `0.0.0.0:${SIDECAR_PORT}`,
        ...(leases ? ['--lease-config', `${LEASE_CONFIG_DIR}/${LEASE_CONFIG_FILE}`] : [])],
      ...(leases ? { volumeMounts: [{ name: 'lease-config', mountPath: LEASE_CONFIG_DIR, readOnly: true }] } : {}),
      ports: [{ name: 'http', containerPort: SIDECAR_PORT, protocol: 'TCP' }],
      env: [
        ...shared,
        { name: 'PADDOCK_ARGO_REFRESH', value: 'off' },
        ...(c.argoRefresh !== 'off' ? [{ name: 'PADDOCK_WATCHER_URL', value: `http://${this.watcherName}.${namespace}.svc:${WATCHER_PORT}` }] : []),
        secretEnv(c, 'PADDOCK_API_TOKENS', c.keys.apiTokensKey),
        ...(c.leaseUsersKey ? [secretEnv(c, 'PADDOCK_LEASE_USERS', c.leaseUsersKey)] : []),
      ],
      readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
      // Liveness counts from the first answer: a start may wait up to 45 s for definitions another
      // writer rendered first (src/repo/definitions-order.ts), the sidecar's before its port is served.
      startupProbe: STARTUP_PROBE,
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 3 },
    }, { automountServiceAccountToken: false, ...(leases ? { volumes: [{ name: 'lease-config', configMap: { name: leases.name } }] } : {}) }));
    this.sidecarService = this.httpService('sidecar-service', this.sidecarName, sidecarLabels, SIDECAR_PORT);

    // --- how it is seen: the dashboard, and a PodMonitor when asked ---
    new Observability(this, 'observability', {
      prefix: c.prefix,
      podLabels: { 'app.kubernetes.io/name': 'paddock', 'app.kubernetes.io/instance': c.prefix },
      dashboard: c.dashboard,
      podMonitor: c.podMonitor,
    });
  }

  /** A Deployment `name` of the pods labelled `labels`, with `spec`'s other fields (replicas, strategy). */
  private deployment(id: string, name: string, labels: Record<string, string>, spec: Record<string, unknown>, podSpec: Record<string, unknown>): ApiObject {
    return new ApiObject(this, id, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, labels },
      spec: { ...spec, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } },
    });
  }

  /** A ClusterIP Service `name` on `port` for the pods labelled `labels`, to their port named `http`. */
  private httpService(id: string, name: string, labels: Record<string, string>, port: number): ApiObject {
    return new ApiObject(this, id, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, labels },
      spec: { type: 'ClusterIP', selector: labels, ports: [{ name: 'http', port, targetPort: 'http', protocol: 'TCP' }] },
    });
  }
}
