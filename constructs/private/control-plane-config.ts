/**
 * `PaddockControlPlane`'s props, checked in one place and resolved to the values its objects
 * are made of. Every refusal names the construct path and the prop.
 */
import { parseLeaseConfig } from '../../core/lease-config.ts';
import { isDnsLabel, isDnsSubdomain } from '../../core/names.ts';
import { hasPassword, isSshUrl } from '../../core/urls.ts';
import { paddockVersion } from '../../core/version.ts';
import type { PaddockControlPlaneProps } from '../paddock-control-plane.ts';

/** The git-sync image that keeps the definitions checked out beside each paddock container. */
export const DEFAULT_GIT_SYNC_IMAGE = 'registry.k8s.io/git-sync/git-sync:v4.2.4';
/** Where paddock's images are published; the tag is this package's version. */
export const PADDOCK_IMAGE_REPOSITORY = 'ghcr.io/paddock-dev/paddock';

/** Variables the construct sets itself: not to be given in `env`. */
const MANAGED_ENV = new Set([
  'PADDOCK_REPO', 'PADDOCK_BRANCH', 'PADDOCK_SIDECAR_URL', 'PADDOCK_ARGO_REPO_URL', 'PADDOCK_GC_SECRET', 'PADDOCK_API_TOKENS',
  'PADDOCK_LISTEN', 'PADDOCK_DEFINITIONS', 'PADDOCK_LEASE_USERS', 'PADDOCK_ARGO_REFRESH', 'PADDOCK_WATCH_LISTEN', 'PADDOCK_WATCHER_URL', 'GIT_SSH_COMMAND', 'POD_NAME', 'POD_NAMESPACE', 'GROUP_ID', 'GARBAGE_COLLECTOR_URL',
]);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const GO_DURATION = /^(\d+(ms|s|m|h))+$/;
const GIT_REF = /^[A-Za-z0-9][A-Za-z0-9._\/-]*$/;
const SUFFIX_ROOM = '-watcher'.length;

/** paddock's own image for this version of the library. */
export function defaultPaddockImage(): string {
  return `${PADDOCK_IMAGE_REPOSITORY}:${paddockVersion() ?? 'latest'}`;
}

export interface ControlPlaneConfig {
  readonly prefix: string;
  readonly replicas: number;
  readonly repo: string;
  readonly branch: string;
  readonly argoRepoUrl?: string;
  readonly definitionsRepo: string;
  readonly definitionsBranch: string;
  /** Relative to the definitions repo's root, '' for the root. */
  readonly definitionsPath: string;
  readonly argoRefresh: 'hard' | 'normal' | 'off';
  readonly dashboard: boolean;
  readonly podMonitor?: { readonly interval: string };
  readonly syncPeriod: string;
  readonly image: string;
  readonly gitSyncImage: string;
  readonly secretName: string;
  readonly gitSecretName: string;
  readonly keys: { readonly gcSecretKey: string; readonly apiTokensKey: string; readonly 'gitSsh.privateKeyKey': string; readonly 'gitSsh.knownHostsKey': string };
  /** Key of the lease users (`PADDOCK_LEASE_USERS`) in the Secret, when lease calls need basic auth. */
  readonly leaseUsersKey?: string;
  /** The sidecar's lease pools (`--lease-config`), checked: Boskos's resources YAML or the seed's JSON lines. */
  readonly leaseConfig?: string;
  readonly watchNamespaces: readonly string[];
  readonly rulesNamespaces: readonly string[];
  readonly watchAllNamespaces: boolean;
  readonly env: ReadonlyArray<readonly [string, string]>;
  /** paddock's own git talks SSH (an SSH `repo`). */
  readonly sshForPaddock: boolean;
  /** git-sync talks SSH (an SSH `definitionsRepo`). */
  readonly sshForGitSync: boolean;
}

/** `props` checked (errors name `where` and the prop) and with their defaults, for a control plane in `namespace`. */
export function resolveControlPlane(where: string, props: PaddockControlPlaneProps, namespace: string): ControlPlaneConfig {
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
  const podMonitor = props.podMonitor ? { interval: (typeof props.podMonitor === 'object' ? props.podMonitor.interval : undefined) ?? '30s' } : undefined;
  if (podMonitor && !GO_DURATION.test(podMonitor.interval)) throw new Error(`${where}: podMonitor.interval "${podMonitor.interval}" must be a duration such as 30s`);
  const syncPeriod = props.syncPeriod ?? '30s';
  if (!GO_DURATION.test(syncPeriod) || !/[1-9]/.test(syncPeriod)) throw new Error(`${where}: syncPeriod "${syncPeriod}" must be a duration such as 30s, 1m or 1m30s`);
  const image = props.image ?? defaultPaddockImage();
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
  const leaseUsersKey = props.leaseUsersKey;
  for (const [field, key] of [...Object.entries(keys), ...(leaseUsersKey !== undefined ? [['leaseUsersKey', leaseUsersKey]] : [])]) {
    if (!SECRET_KEY.test(key) || key.length > 253) throw new Error(`${where}: ${field} "${key}" is not a Secret key (letters, digits, '-', '_' and '.')`);
  }

  const watchNamespaces = props.watchNamespaces ?? [];
  const seen = new Set<string>();
  for (const ns of watchNamespaces) {
    if (!isDnsLabel(ns)) throw new Error(`${where}: watchNamespaces: "${ns}" is not a namespace name (a DNS label)`);
    if (ns === namespace) throw new Error(`${where}: watchNamespaces: "${ns}" is paddock's own namespace, which the watcher reads already`);
    if (seen.has(ns)) throw new Error(`${where}: watchNamespaces: "${ns}" is listed twice`);
    seen.add(ns);
  }
  const rulesNamespaces = props.rulesNamespaces ?? [];
  const seenRules = new Set<string>();
  for (const ns of rulesNamespaces) {
    if (!isDnsLabel(ns)) throw new Error(`${where}: rulesNamespaces: "${ns}" is not a namespace name (a DNS label)`);
    if (seenRules.has(ns)) throw new Error(`${where}: rulesNamespaces: "${ns}" is listed twice`);
    seenRules.add(ns);
  }
  if (props.watchAllNamespaces && watchNamespaces.length) {
    throw new Error(`${where}: watchAllNamespaces already covers every namespace; drop watchNamespaces`);
  }
  if (props.leaseConfig !== undefined) {
    if (typeof props.leaseConfig !== 'string' || !props.leaseConfig.trim()) throw new Error(`${where}: leaseConfig must be Boskos's resources YAML (resources: [{type, names}])`);
    try {
      parseLeaseConfig(props.leaseConfig, 'leaseConfig');
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
  }
  const env = Object.entries(props.env ?? {});
  for (const [name, value] of env) {
    if (!ENV_NAME.test(name)) throw new Error(`${where}: env: "${name}" is not an environment variable name`);
    if (MANAGED_ENV.has(name)) throw new Error(`${where}: env: ${name} is set by the PaddockControlPlane itself${/SECRET|TOKENS|USERS/.test(name) ? ' (from a Secret reference)' : ''}`);
    if (typeof value !== 'string') throw new Error(`${where}: env: ${name} must be a string`);
  }
  return {
    prefix, replicas, repo: props.repo, branch, argoRepoUrl: props.argoRepoUrl, definitionsRepo: props.definitionsRepo, definitionsBranch, definitionsPath,
    leaseUsersKey, leaseConfig: props.leaseConfig, argoRefresh, dashboard: props.dashboard ?? true, podMonitor, syncPeriod, image, gitSyncImage, secretName, gitSecretName, keys, watchNamespaces, rulesNamespaces, watchAllNamespaces: !!props.watchAllNamespaces, env,
    sshForPaddock: isSshUrl(props.repo), sshForGitSync: isSshUrl(props.definitionsRepo),
  };
}

function checkRepoUrl(where: string, field: string, url: string | undefined): void {
  if (typeof url !== 'string' || !url.trim() || /\s/.test(url)) throw new Error(`${where}: ${field} must be a git URL, got "${url ?? ''}"`);
  // `https://user:token@host/...` would put a credential into the manifests.
  if (hasPassword(url)) {
    throw new Error(`${where}: ${field} must not carry a password or token; use an SSH URL and the git SSH key Secret`);
  }
}
