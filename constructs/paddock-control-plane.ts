import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { Environment } from './environment.ts';
import { isDnsLabel, isDnsSubdomain } from '../core/names.ts';
import { paddockVersion } from '../core/version.ts';
import { hasPassword, isSshUrl } from '../core/urls.ts';

/** The git-sync image that keeps the definitions checked out beside each paddock container. */
export const DEFAULT_GIT_SYNC_IMAGE = 'registry.k8s.io/git-sync/git-sync:v4.2.4';
/** Where paddock's images are published; the tag is this package's version. */
export const PADDOCK_IMAGE_REPOSITORY = 'ghcr.io/paddock-dev/paddock';
/** Port the sidecar listens on, in the pod and on its Service. */
export const SIDECAR_PORT = 8080;
/** The watcher's own port: `POST /follow` (the sidecar's "I pushed") and `GET /healthz`. */
export const WATCHER_PORT = 8081;

/** The shared emptyDir git-sync writes into: its `--root`. */
const DEFINITIONS_ROOT = '/definitions';
/** git-sync's `--link` under the root: a symlink flipped atomically to each new checkout. */
const DEFINITIONS_LINK = 'current';
/** git-sync's default key paths, used by paddock's own ssh as well. */
const GIT_SECRET_DIR = '/etc/git-secret';
const SSH_KEY_FILE = `${GIT_SECRET_DIR}/ssh`;
const KNOWN_HOSTS_FILE = `${GIT_SECRET_DIR}/known_hosts`;
/**
 * git-sync runs as 65533:65533. As the pod's fsGroup, the git SSH Secret's files (mode 0400, owned
 * by root) become group-readable by both git-sync and paddock, which is what git-sync documents.
 */
const GIT_SYNC_GROUP = 65533;

/** Where the Secret holding the git SSH key is, and under which keys. */
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
}

/** Variables the construct sets itself: not to be given in `env`. */
const MANAGED_ENV = new Set([
  'PADDOCK_REPO', 'PADDOCK_BRANCH', 'PADDOCK_SIDECAR_URL', 'PADDOCK_ARGO_REPO_URL', 'PADDOCK_GC_SECRET', 'PADDOCK_API_TOKENS',
  'PADDOCK_LISTEN', 'PADDOCK_DEFINITIONS', 'PADDOCK_ARGO_REFRESH', 'PADDOCK_WATCH_LISTEN', 'PADDOCK_WATCHER_URL', 'GIT_SSH_COMMAND', 'POD_NAME', 'POD_NAMESPACE', 'GROUP_ID', 'GARBAGE_COLLECTOR_URL',
]);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const GO_DURATION = /^(\d+(ms|s|m|h))+$/;
const GIT_REF = /^[A-Za-z0-9][A-Za-z0-9._\/-]*$/;
const SUFFIX_ROOM = '-watcher'.length;

/**
 * paddock itself, deployed by paddock: the watcher (`paddock watch`, leader-elected replicas), the
 * sidecar (`paddock serve`) behind the Service `<prefix>-sidecar`, each with a git-sync container
 * keeping the definitions repo checked out, their ServiceAccounts and the least RBAC the watcher
 * needs. Secrets come only from a Secret by reference. Use it inside an `Environment`.
 */
export class PaddockControlPlane extends Construct {
  /** paddock's own image for this version of the library. */
  public static defaultImage(): string {
    return `${PADDOCK_IMAGE_REPOSITORY}:${paddockVersion() ?? 'latest'}`;
  }

  /** `http://<prefix>-sidecar.<namespace>.svc:8080`: the base of every `GARBAGE_COLLECTOR_URL` (`PADDOCK_SIDECAR_URL`). */
  public readonly sidecarUrl: string;
  /** The namespace paddock runs in (the Environment's). */
  public readonly namespace: string;
  /** Where the definition files are inside paddock's containers (`--definitions`). */
  public readonly definitionsDir: string;
  /** paddock's image. */
  public readonly image: string;
  /** Name of the watcher's Deployment and ServiceAccount, and of its Role and RoleBinding. */
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
    const where = this.node.path;
    const env = Environment.enclosing(this);
    if (!env) throw new Error(`${where}: a PaddockControlPlane must be inside an Environment`);

    const prefix = props.prefix ?? 'paddock';
    if (!isDnsLabel(prefix) || prefix.length > 63 - SUFFIX_ROOM) {
      throw new Error(`${where}: prefix "${prefix}" must be a DNS label of at most ${63 - SUFFIX_ROOM} characters (lowercase letters, digits and '-'), so that "${prefix}-watcher" is one too`);
    }
    const replicas = props.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`${where}: replicas must be a whole number of at least 1, got ${replicas}`);
    checkRepoUrl(where, 'repo', props.repo);
    checkRepoUrl(where, 'definitionsRepo', props.definitionsRepo);
    if (props.argoRepoUrl !== undefined) checkRepoUrl(where, 'argoRepoUrl', props.argoRepoUrl);
    const branch = props.branch ?? 'main';
    const definitionsBranch = props.definitionsBranch ?? 'main';
    for (const [field, ref] of [['branch', branch], ['definitionsBranch', definitionsBranch]] as const) {
      if (!GIT_REF.test(ref) || ref.includes('..')) throw new Error(`${where}: ${field} "${ref}" is not a git branch, tag or commit name`);
    }
    const definitionsPath = (props.definitionsPath ?? '').replace(/^\.(\/|$)/, '').replace(/\/+$/, '');
    if (definitionsPath.startsWith('/') || definitionsPath.split('/').includes('..') || /[\s$]/.test(definitionsPath)) {
      throw new Error(`${where}: definitionsPath "${props.definitionsPath}" must be a directory relative to the definitions repo's root, without '..'`);
    }
    const argoRefresh = props.argoRefresh ?? 'hard';
    if (!['hard', 'normal', 'off'].includes(argoRefresh)) throw new Error(`${where}: argoRefresh "${argoRefresh}" must be hard, normal or off`);
    const syncPeriod = props.syncPeriod ?? '30s';
    if (!GO_DURATION.test(syncPeriod) || !/[1-9]/.test(syncPeriod)) throw new Error(`${where}: syncPeriod "${syncPeriod}" must be a duration such as 30s, 1m or 1m30s`);
    const image = props.image ?? PaddockControlPlane.defaultImage();
    const gitSyncImage = props.gitSyncImage ?? DEFAULT_GIT_SYNC_IMAGE;
    for (const [field, value] of [['image', image], ['gitSyncImage', gitSyncImage]] as const) {
      if (!value || /\s/.test(value)) throw new Error(`${where}: ${field} "${value}" is not an image reference`);
    }

    const secretName = props.secretName ?? 'paddock-secrets';
    const gitSecretName = props.gitSsh?.secretName ?? secretName;
    for (const [field, name] of [['secretName', secretName], ['gitSsh.secretName', gitSecretName]] as const) {
      if (!isDnsSubdomain(name)) throw new Error(`${where}: ${field} "${name}" must be a Secret name (a DNS subdomain)`);
    }
    const keys = {
      gcSecretKey: props.gcSecretKey ?? 'gc-secret',
      apiTokensKey: props.apiTokensKey ?? 'api-tokens',
      'gitSsh.privateKeyKey': props.gitSsh?.privateKeyKey ?? 'ssh-privatekey',
      'gitSsh.knownHostsKey': props.gitSsh?.knownHostsKey ?? 'known_hosts',
    };
    for (const [field, key] of Object.entries(keys)) {
      if (!SECRET_KEY.test(key) || key.length > 253) throw new Error(`${where}: ${field} "${key}" is not a Secret key (letters, digits, '-', '_' and '.')`);
    }

    const namespace = env.namespace;
    const watchNamespaces = props.watchNamespaces ?? [];
    const seen = new Set<string>();
    for (const ns of watchNamespaces) {
      if (!isDnsLabel(ns)) throw new Error(`${where}: watchNamespaces: "${ns}" is not a namespace name (a DNS label)`);
      if (ns === namespace) throw new Error(`${where}: watchNamespaces: "${ns}" is paddock's own namespace, which the watcher reads already`);
      if (seen.has(ns)) throw new Error(`${where}: watchNamespaces: "${ns}" is listed twice`);
      seen.add(ns);
    }
    if (props.watchAllNamespaces && watchNamespaces.length) {
      throw new Error(`${where}: watchAllNamespaces already covers every namespace; drop watchNamespaces`);
    }
    const extraEnv = Object.entries(props.env ?? {});
    for (const [name, value] of extraEnv) {
      if (!ENV_NAME.test(name)) throw new Error(`${where}: env: "${name}" is not an environment variable name`);
      if (MANAGED_ENV.has(name)) throw new Error(`${where}: env: ${name} is set by the PaddockControlPlane itself${/SECRET|TOKENS/.test(name) ? ' (from a Secret reference)' : ''}`);
      if (typeof value !== 'string') throw new Error(`${where}: env: ${name} must be a string`);
    }

    // The watcher's Roles in the namespaces it reads, or its ClusterRole: the group holds them by this grant.
    env.allow({ namespaces: watchNamespaces, clusterKinds: props.watchAllNamespaces ? ['ClusterRole', 'ClusterRoleBinding'] : [] });
    this.namespace = namespace;
    this.image = image;
    this.watcherName = `${prefix}-watcher`;
    if (argoRefresh !== 'off') env.grantArgoRefresh(this.watcherName);
    this.sidecarName = `${prefix}-sidecar`;
    this.sidecarUrl = `http://${this.sidecarName}.${namespace}.svc:${SIDECAR_PORT}`;
    this.definitionsDir = [DEFINITIONS_ROOT, DEFINITIONS_LINK, definitionsPath].filter(Boolean).join('/');

    const sshForPaddock = isSshUrl(props.repo);
    const sshForGitSync = isSshUrl(props.definitionsRepo);
    const selectorOf = (component: string) => ({
      'app.kubernetes.io/name': 'paddock',
      'app.kubernetes.io/instance': prefix,
      'app.kubernetes.io/component': component,
    });
    const secretEnv = (name: string, key: string) => ({ name, valueFrom: { secretKeyRef: { name: secretName, key } } });

    // Settings every paddock container gets. Secrets only as secretKeyRef.
    const commonEnv = [
      { name: 'PADDOCK_REPO', value: props.repo },
      { name: 'PADDOCK_BRANCH', value: branch },
      { name: 'PADDOCK_SIDECAR_URL', value: this.sidecarUrl },
      ...(props.argoRepoUrl ? [{ name: 'PADDOCK_ARGO_REPO_URL', value: props.argoRepoUrl }] : []),
      secretEnv('PADDOCK_GC_SECRET', keys.gcSecretKey),
      ...(sshForPaddock ? [{ name: 'GIT_SSH_COMMAND', value: gitSshCommand() }] : []),
      ...extraEnv.map(([name, value]) => ({ name, value })),
    ];

    const definitionsVolume = { name: 'definitions', emptyDir: {} };
    const gitSshVolume = {
      name: 'git-ssh',
      secret: {
        secretName: gitSecretName,
        // Only the two git files, even when the Secret also holds the GC secret and API tokens.
        items: [{ key: keys['gitSsh.privateKeyKey'], path: 'ssh' }, { key: keys['gitSsh.knownHostsKey'], path: 'known_hosts' }],
        defaultMode: 0o400,
      },
    };
    const gitSshMount = { name: 'git-ssh', mountPath: GIT_SECRET_DIR, readOnly: true };
    const gitSyncArgs = [
      `--repo=${props.definitionsRepo}`,
      `--ref=${definitionsBranch}`,
      `--root=${DEFINITIONS_ROOT}`,
      `--link=${DEFINITIONS_LINK}`,
      `--period=${syncPeriod}`,
      '--depth=1',
      ...(sshForGitSync ? [`--ssh-key-file=${SSH_KEY_FILE}`, '--ssh-known-hosts=true', `--ssh-known-hosts-file=${KNOWN_HOSTS_FILE}`] : []),
    ];
    const gitSyncContainer = (name: string, extraArgs: string[] = []) => ({
      name,
      image: gitSyncImage,
      args: [...gitSyncArgs, ...extraArgs],
      volumeMounts: [{ name: 'definitions', mountPath: DEFINITIONS_ROOT }, ...(sshForGitSync ? [gitSshMount] : [])],
    });
    /** The pod spec both Deployments share: paddock, git-sync beside it, and a one-time git-sync first so the definitions exist when paddock starts. */
    const podSpec = (serviceAccountName: string, paddock: Record<string, any>, more: Record<string, any> = {}) => ({
      serviceAccountName,
      ...more,
      securityContext: { fsGroup: GIT_SYNC_GROUP },
      initContainers: [gitSyncContainer('git-sync-init', ['--one-time'])],
      containers: [
        {
          ...paddock,
          image,
          volumeMounts: [{ name: 'definitions', mountPath: DEFINITIONS_ROOT, readOnly: true }, ...(sshForPaddock ? [gitSshMount] : [])],
        },
        gitSyncContainer('git-sync'),
      ],
      volumes: [definitionsVolume, ...(sshForPaddock || sshForGitSync ? [gitSshVolume] : [])],
    });

    // --- the watcher: its identity, its RBAC, its pods ---
    const watcherLabels = selectorOf('watcher');
    new ApiObject(this, 'watcher-service-account', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: this.watcherName, labels: watcherLabels },
    });
    const subjects = [{ kind: 'ServiceAccount', name: this.watcherName, namespace }];
    const readDeployments = { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] };
    // Leader election: the Lease's name is the watcher's own choice, and `create` cannot be
    // limited by name anyway, so leases in paddock's namespace (which holds nothing else).
    const leaderLease = { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] };
    const roleAndBinding = (id: string, ns: string, rules: object[]) => {
      new ApiObject(this, `${id}-role`, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: this.watcherName, namespace: ns, labels: watcherLabels },
        rules,
      });
      new ApiObject(this, `${id}-role-binding`, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: this.watcherName, namespace: ns, labels: watcherLabels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: this.watcherName },
        subjects,
      });
    };
    roleAndBinding('watcher', namespace, props.watchAllNamespaces ? [leaderLease] : [readDeployments, leaderLease]);
    for (const ns of watchNamespaces) roleAndBinding(`watcher-${ns}`, ns, [readDeployments]);
    if (props.watchAllNamespaces) {
      // Cluster-scoped names are shared by every paddock in the cluster: qualify with the namespace.
      const clusterName = `${this.watcherName}-${namespace}`;
      new ApiObject(this, 'watcher-cluster-role', {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: clusterName, labels: watcherLabels },
        rules: [readDeployments],
      });
      new ApiObject(this, 'watcher-cluster-role-binding', {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: clusterName, labels: watcherLabels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterName },
        subjects,
      });
    }
    this.watcherDeployment = new ApiObject(this, 'watcher', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: this.watcherName, labels: watcherLabels },
      spec: {
        replicas,
        selector: { matchLabels: watcherLabels },
        template: {
          metadata: { labels: watcherLabels },
          spec: podSpec(this.watcherName, {
            name: 'watcher',
            args: ['watch', '--repo', '$(PADDOCK_REPO)', '--definitions', this.definitionsDir, '--listen', `0.0.0.0:${WATCHER_PORT}`],
            ports: [{ name: 'http', containerPort: WATCHER_PORT, protocol: 'TCP' }],
            livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 3 },
            env: [
              ...commonEnv,
              { name: 'PADDOCK_ARGO_REFRESH', value: argoRefresh },
              // The leader Lease's holder identity and namespace.
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            ],
          }),
        },
      },
    });

    // Any replica can follow and refresh (each has the Role), so the Service selects them all.
    this.watcherService = this.httpService('watcher-service', this.watcherName, watcherLabels, WATCHER_PORT);

    // --- the sidecar: no Kubernetes API access at all; it tells the watcher of its pushes ---
    const sidecarLabels = selectorOf('sidecar');
    new ApiObject(this, 'sidecar-service-account', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: this.sidecarName, labels: sidecarLabels },
      automountServiceAccountToken: false,
    });
    this.sidecarDeployment = new ApiObject(this, 'sidecar', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: this.sidecarName, labels: sidecarLabels },
      spec: {
        // One sidecar: lease heartbeats live in its memory, so two would each reap the other's
        // leases. Recreate keeps it one during a rollout too.
        replicas: 1,
        strategy: { type: 'Recreate' },
        selector: { matchLabels: sidecarLabels },
        template: {
          metadata: { labels: sidecarLabels },
          spec: podSpec(this.sidecarName, {
            name: 'sidecar',
            args: ['serve', '--repo', '$(PADDOCK_REPO)', '--definitions', this.definitionsDir, '--listen', `0.0.0.0:${SIDECAR_PORT}`],
            ports: [{ name: 'http', containerPort: SIDECAR_PORT, protocol: 'TCP' }],
            env: [
              ...commonEnv,
              { name: 'PADDOCK_ARGO_REFRESH', value: 'off' },
              ...(argoRefresh !== 'off' ? [{ name: 'PADDOCK_WATCHER_URL', value: `http://${this.watcherName}.${namespace}.svc:${WATCHER_PORT}` }] : []),
              secretEnv('PADDOCK_API_TOKENS', keys.apiTokensKey),
            ],
            readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 10, failureThreshold: 3 },
            livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 3 },
          }, { automountServiceAccountToken: false }),
        },
      },
    });
    this.sidecarService = this.httpService('sidecar-service', this.sidecarName, sidecarLabels, SIDECAR_PORT);
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

function checkRepoUrl(where: string, field: string, url: string | undefined): void {
  if (typeof url !== 'string' || !url.trim() || /\s/.test(url)) throw new Error(`${where}: ${field} must be a git URL, got "${url ?? ''}"`);
  // `https://user:token@host/...` would put a credential into the manifests.
  if (hasPassword(url)) {
    throw new Error(`${where}: ${field} must not carry a password or token; use an SSH URL and the git SSH key Secret`);
  }
}

/** ssh as paddock's git runs it: the mounted key only, host keys checked against the mounted known_hosts, never a prompt. */
function gitSshCommand(): string {
  return [
    'ssh', '-i', SSH_KEY_FILE, '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${KNOWN_HOSTS_FILE}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10',
  ].join(' ');
}

