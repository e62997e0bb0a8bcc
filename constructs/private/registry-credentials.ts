/**
 * A group's registry credentials with none of them in git: an ExternalSecret (external-secrets.io)
 * from which the external-secrets operator writes a `kubernetes.io/dockerconfigjson` Secret into
 * the group's namespace, read from a key of a secret store. `Environment` makes it for its
 * `registryCredentials` prop and names the Secret in every pod's `imagePullSecrets`.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { isDnsSubdomain } from '../../core/names.ts';

export interface RegistryCredentialsProps {
  /** The secret store to read from (a `ClusterSecretStore` unless `storeKind` says otherwise). */
  readonly store: string;
  /** @default 'ClusterSecretStore' */
  readonly storeKind?: 'ClusterSecretStore' | 'SecretStore';
  /** The key in the store whose value is a Docker config JSON (`{"auths": {...}}`). */
  readonly key: string;
  /** The property of that key holding it, when the key holds several. @default the whole value */
  readonly property?: string;
  /** Name of the Secret and of its ExternalSecret. @default `<group>-registry` */
  readonly secretName?: string;
  /** How often the operator reads the store again (a Go duration). @default '1h' */
  readonly refreshInterval?: string;
}

/** The API version written: external-secrets' current one (v1beta1 is no longer served since 0.17). */
export const EXTERNAL_SECRETS_API = 'external-secrets.io/v1';
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

export class RegistryCredentials extends Construct {
  /** The Secret the operator writes, for `imagePullSecrets`. */
  public readonly secretName: string;

  constructor(scope: Construct, id: string, group: string, props: RegistryCredentialsProps) {
    super(scope, id);
    const where = `${scope.node.path}: registryCredentials`;
    const name = props.secretName ?? `${group}-registry`;
    const storeKind = props.storeKind ?? 'ClusterSecretStore';
    if (!isDnsSubdomain(props.store ?? '')) throw new Error(`${where}: store "${props.store}" must be the name of a secret store`);
    if (!['ClusterSecretStore', 'SecretStore'].includes(storeKind)) throw new Error(`${where}: storeKind "${storeKind}" must be ClusterSecretStore or SecretStore`);
    if (typeof props.key !== 'string' || !props.key.trim()) throw new Error(`${where}: key must name the store's key holding the Docker config JSON`);
    if (!isDnsSubdomain(name)) throw new Error(`${where}: secretName "${name}" must be a Secret name`);
    const refreshInterval = props.refreshInterval ?? '1h';
    if (!GO_DURATION.test(refreshInterval)) throw new Error(`${where}: refreshInterval "${refreshInterval}" must be a duration such as 1h or 15m`);
    this.secretName = name;
    new ApiObject(this, 'Resource', {
      apiVersion: EXTERNAL_SECRETS_API,
      kind: 'ExternalSecret',
      metadata: { name },
      spec: {
        refreshInterval,
        secretStoreRef: { kind: storeKind, name: props.store },
        target: {
          name,
          creationPolicy: 'Owner',
          template: { type: 'kubernetes.io/dockerconfigjson', engineVersion: 'v2', data: { '.dockerconfigjson': '{{ .dockerconfigjson | toString }}' } },
        },
        data: [{ secretKey: 'dockerconfigjson', remoteRef: { key: props.key, ...(props.property ? { property: props.property } : {}) } }],
      },
    });
  }
}
