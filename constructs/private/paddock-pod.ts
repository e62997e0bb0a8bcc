/**
 * The pod both paddock Deployments run: the paddock container with the definitions mounted
 * read-only, git-sync beside it keeping them checked out, a one-time git-sync first so they exist
 * when paddock starts, and the git SSH key where an SSH URL needs it. Secrets only by reference.
 */
import type { ControlPlaneConfig } from './control-plane-config.ts';

/** The shared emptyDir git-sync writes into: its `--root`. */
export const DEFINITIONS_ROOT = '/definitions';
/** git-sync's `--link` under the root: a symlink flipped atomically to each new checkout. */
export const DEFINITIONS_LINK = 'current';
/** git-sync's default key paths, used by paddock's own ssh as well. */
const GIT_SECRET_DIR = '/etc/git-secret';
const SSH_KEY_FILE = `${GIT_SECRET_DIR}/ssh`;
const KNOWN_HOSTS_FILE = `${GIT_SECRET_DIR}/known_hosts`;
/**
 * git-sync runs as 65533:65533. As the pod's fsGroup, the git SSH Secret's files (mode 0400, owned
 * by root) become group-readable by both git-sync and paddock, which is what git-sync documents.
 */
const GIT_SYNC_GROUP = 65533;

type Json = Record<string, any>;

/** An env entry read from the control plane's Secret. */
export function secretEnv(c: ControlPlaneConfig, name: string, key: string): Json {
  return { name, valueFrom: { secretKeyRef: { name: c.secretName, key } } };
}

/** Settings every paddock container gets, the sidecar URL included. Secrets only as secretKeyRef. */
export function commonEnv(c: ControlPlaneConfig, sidecarUrl: string): Json[] {
  return [
    { name: 'PADDOCK_REPO', value: c.repo },
    { name: 'PADDOCK_BRANCH', value: c.branch },
    { name: 'PADDOCK_SIDECAR_URL', value: sidecarUrl },
    ...(c.argoRepoUrl ? [{ name: 'PADDOCK_ARGO_REPO_URL', value: c.argoRepoUrl }] : []),
    secretEnv(c, 'PADDOCK_GC_SECRET', c.keys.gcSecretKey),
    ...(c.sshForPaddock ? [{ name: 'GIT_SSH_COMMAND', value: gitSshCommand() }] : []),
    ...c.env.map(([name, value]) => ({ name, value })),
  ];
}

/** The pod spec of a paddock Deployment: `paddock` is its container (image and mounts added here). */
export function paddockPodSpec(c: ControlPlaneConfig, serviceAccountName: string, paddock: Json, more: Json = {}): Json {
  const { volumes: moreVolumes = [], ...rest } = more;
  const gitSshMount = { name: 'git-ssh', mountPath: GIT_SECRET_DIR, readOnly: true };
  const gitSyncArgs = [
    `--repo=${c.definitionsRepo}`,
    `--ref=${c.definitionsBranch}`,
    `--root=${DEFINITIONS_ROOT}`,
    `--link=${DEFINITIONS_LINK}`,
    `--period=${c.syncPeriod}`,
    // The whole history (a small repo): a writer tells older definitions from newer by it
    // (src/repo/definitions-order.ts), and waits for the newer ones another pod has already.
    '--depth=0',
    ...(c.sshForGitSync ? [`--ssh-key-file=${SSH_KEY_FILE}`, '--ssh-known-hosts=true', `--ssh-known-hosts-file=${KNOWN_HOSTS_FILE}`] : []),
  ];
  const gitSync = (name: string, extraArgs: string[] = []) => ({
    name,
    image: c.gitSyncImage,
    args: [...gitSyncArgs, ...extraArgs],
    volumeMounts: [{ name: 'definitions', mountPath: DEFINITIONS_ROOT }, ...(c.sshForGitSync ? [gitSshMount] : [])],
  });
  const gitSshVolume = {
    name: 'git-ssh',
    secret: {
      secretName: c.gitSecretName,
      // Only the two git files, even when the Secret also holds the GC secret and API tokens.
      items: [{ key: c.keys['gitSsh.privateKeyKey'], path: 'ssh' }, { key: c.keys['gitSsh.knownHostsKey'], path: 'known_hosts' }],
      defaultMode: 0o400,
    },
  };
  return {
    serviceAccountName,
    ...rest,
    securityContext: { fsGroup: GIT_SYNC_GROUP },
    initContainers: [gitSync('git-sync-init', ['--one-time'])],
    containers: [
      {
        ...paddock,
        image: c.image,
        volumeMounts: [{ name: 'definitions', mountPath: DEFINITIONS_ROOT, readOnly: true }, ...(c.sshForPaddock ? [gitSshMount] : []), ...(paddock.volumeMounts ?? [])],
      },
      gitSync('git-sync'),
    ],
    volumes: [{ name: 'definitions', emptyDir: {} }, ...(c.sshForPaddock || c.sshForGitSync ? [gitSshVolume] : []), ...moreVolumes],
  };
}

/** ssh as paddock's git runs it: the mounted key only, host keys checked against the mounted known_hosts, never a prompt. */
function gitSshCommand(): string {
  return [
    'ssh', '-i', SSH_KEY_FILE, '-o', 'IdentitiesOnly=yes',
    '-o', `UserKnownHostsFile=${KNOWN_HOSTS_FILE}`, '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10',
  ].join(' ');
}
