import { ApiObject } from 'cdk8s';
import { Construct, type IConstruct } from 'constructs';
import { Environment } from './environment.ts';
import { contextOf } from '../core/context.ts';
import { isDnsLabel, toDnsLabel } from '../core/names.ts';
import type { WorkspaceRecord } from '../core/records.ts';

export const DEFAULT_WORKSPACE_IMAGE = 'lscr.io/linuxserver/openssh-server:latest';
/** Port sshd listens on inside the workspace image. */
export const WORKSPACE_SSH_PORT = 2222;
const HOME = '/config';
const KEYS_DIR = '/etc/paddock/ssh';

/** The fields of a workspace record the construct renders from. */
const RENDERS_RECORDS = Symbol.for('paddock.Workspace.fromRecords');

export type WorkspaceSpec = Pick<WorkspaceRecord, 'name' | 'email' | 'ram' | 'cpu' | 'storage' | 'publicKey' | 'port' | 'stoppedAt'>;

export interface WorkspaceOptions {
  /** An sshd image that reads `PUBLIC_KEY_FILE` and `USER_NAME`, listening on 2222. @default 'lscr.io/linuxserver/openssh-server:latest' */
  readonly image?: string;
  /** StorageClass of the home volume. @default the cluster's default */
  readonly storageClassName?: string;
}

export interface WorkspaceProps extends WorkspaceOptions {
  /** The workspace record: who, how big, which key and which NodePort. */
  readonly record: WorkspaceSpec;
}

/**
 * A per-user workspace: a Deployment of one sshd pod with the user's public key, a PVC for the
 * home directory, and a NodePort Service on the port allocated to the user.
 */
export class Workspace extends Construct {
  /**
   * One Environment (group `ws-<name>`) per workspace record in `state/workspaces/`.
   * Call it from a definition to choose the namespace, image or storage class.
   */
  public static fromRecords(scope: Construct, props: WorkspaceOptions & { readonly namespace?: string } = {}): Workspace[] {
    const root = scope.node.root;
    if (!Workspace.rendersRecords(root)) Object.defineProperty(root, RENDERS_RECORDS, { value: true });
    const records = [...contextOf(scope).state.workspaces.values()].sort((a, b) => a.name.localeCompare(b.name));
    return records.map((record) => {
      const env = new Environment(scope, Workspace.groupOf(record.name), { namespace: props.namespace ?? 'workspaces', owner: record.email });
      return new Workspace(env, 'workspace', { ...props, record });
    });
  }

  /**
   * True when a definition under `root` called `fromRecords`: it renders the records itself
   * (paddock renders them with the defaults otherwise). A `Workspace` written inline does not count.
   */
  public static rendersRecords(root: IConstruct): boolean {
    return RENDERS_RECORDS in root;
  }

  /** The group a workspace lives in. */
  public static groupOf(name: string): string {
    return `ws-${name}`;
  }

  /** The user a workspace's owner logs in as: its name without dashes, at most 32 characters. */
  public static userOf(name: string): string {
    return toDnsLabel(name.replace(/-/g, ''), 32) || 'user';
  }

  /** A workspace name from an email: lowercase `[a-z0-9-]`, short enough for `ws-<name>` to be a DNS label. */
  public static nameFromEmail(email: string): string {
    return toDnsLabel(email.split('@')[0].replace(/[._+]/g, '-'), 60) || 'user';
  }

  public readonly name: string;
  /** The user to log in as. */
  public readonly user: string;

  constructor(scope: Construct, id: string, props: WorkspaceProps) {
    super(scope, id);
    const where = this.node.path;
    if (!Environment.enclosing(this)) throw new Error(`${where}: a Workspace must be inside an Environment`);
    const r = props.record;
    if (!isDnsLabel(r.name)) throw new Error(`${where}: workspace name "${r.name}" must be a DNS label`);
    if (!(r.ram > 0) || !(r.cpu > 0)) throw new Error(`${where}: ram and cpu must be positive, got ram=${r.ram} cpu=${r.cpu}`);
    if (!Number.isInteger(r.port)) throw new Error(`${where}: port must be an integer, got ${r.port}`);
    this.name = r.name;
    this.user = Workspace.userOf(r.name);
    const labels = { 'app.kubernetes.io/name': 'workspace', 'paddock.dev/workspace': r.name };
    const size = { memory: `${r.ram}Gi`, cpu: String(r.cpu) };

    new ApiObject(this, 'keys', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: `${r.name}-ssh`, labels },
      data: { authorized_keys: `${r.publicKey.trim()}\n` },
    });
    new ApiObject(this, 'home', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: `${r.name}-home`, labels },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: r.storage } },
        ...(props.storageClassName ? { storageClassName: props.storageClassName } : {}),
      },
    });
    new ApiObject(this, 'deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: r.name, labels, annotations: { 'paddock.dev/email': r.email } },
      spec: {
        // Stopped: no pod; the home volume and the port stay.
        replicas: r.stoppedAt ? 0 : 1,
        // One pod at a time: the home volume is ReadWriteOnce.
        strategy: { type: 'Recreate' },
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [{
              name: 'sshd',
              image: props.image ?? DEFAULT_WORKSPACE_IMAGE,
              ports: [{ name: 'ssh', containerPort: WORKSPACE_SSH_PORT }],
              env: [
                { name: 'USER_NAME', value: this.user },
                { name: 'PUBLIC_KEY_FILE', value: `${KEYS_DIR}/authorized_keys` },
                { name: 'PASSWORD_ACCESS', value: 'false' },
                { name: 'SUDO_ACCESS', value: 'true' },
              ],
              resources: { requests: size, limits: size },
              volumeMounts: [
                { name: 'home', mountPath: HOME },
                { name: 'keys', mountPath: KEYS_DIR, readOnly: true },
              ],
            }],
            volumes: [
              { name: 'home', persistentVolumeClaim: { claimName: `${r.name}-home` } },
              { name: 'keys', configMap: { name: `${r.name}-ssh` } },
            ],
          },
        },
      },
    });
    new ApiObject(this, 'service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: r.name, labels },
      spec: {
        type: 'NodePort',
        selector: labels,
        ports: [{ name: 'ssh', port: 22, targetPort: WORKSPACE_SSH_PORT, nodePort: r.port, protocol: 'TCP' }],
      },
    });
  }
}
