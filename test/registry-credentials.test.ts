/**
 * Private registries without credentials in git (seed 000's group provisioner took a pull Secret
 * by name; paddock can also have the external-secrets operator make one): an Environment's
 * `registryCredentials` becomes an ExternalSecret (external-secrets.io/v1, checked against the
 * external-secrets schema) whose Secret every pod of the group pulls with.
 */
import { ApiObject, Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { Environment } from '../constructs/index.ts';
import { objectAt, synthSource } from './helpers/synth.ts';

const POD = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'web', image: 'ghcr.io/acme/web:1' }] } };

describe('registry credentials from an ExternalSecret', () => {
  it('GIVEN registryCredentials WHEN synthesized THEN an ExternalSecret makes a dockerconfigjson Secret from the store\'s key, and every pod pulls with it', () => {
    const env = new Environment(Testing.app(), 'shop', {
      namespace: 'shop', imagePullSecrets: ['legacy'],
      registryCredentials: { store: 'vault', storeKind: 'SecretStore', key: 'ci/registry', property: 'ghcr', refreshInterval: '15m' },
    });
    new ApiObject(env, 'web', POD);
    const [external, pod] = Testing.synth(env);
    expect(external).toMatchObject({
      apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', metadata: { name: 'shop-registry', namespace: 'shop' },
      spec: {
        refreshInterval: '15m',
        secretStoreRef: { kind: 'SecretStore', name: 'vault' },
        target: { name: 'shop-registry', creationPolicy: 'Owner', template: { type: 'kubernetes.io/dockerconfigjson' } },
        data: [{ secretKey: 'dockerconfigjson', remoteRef: { key: 'ci/registry', property: 'ghcr' } }],
      },
    });
    expect(external.spec.target.template.data['.dockerconfigjson']).toContain('.dockerconfigjson');
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'legacy' }, { name: 'shop-registry' }]);
  });

  it.each([
    [{ store: 'Vault Store', key: 'k' }, /shop: registryCredentials: store "Vault Store" must be the name of a secret store/],
    [{ store: 'vault', key: ' ' }, /shop: registryCredentials: key must name/],
    [{ store: 'vault', key: 'k', refreshInterval: 'hourly' }, /shop: registryCredentials: refreshInterval "hourly" must be a duration/],
    [{ store: 'vault', key: 'k', storeKind: 'Vault' }, /shop: registryCredentials: storeKind "Vault" must be ClusterSecretStore or SecretStore/],
  ])('GIVEN %j WHEN constructed THEN it is refused naming the prop', (props, message) => {
    expect(() => new Environment(Testing.app(), 'shop', { namespace: 'shop', registryCredentials: props as never })).toThrow(message);
  });

  it('GIVEN a definition with registryCredentials WHEN paddock synthesizes it THEN the ExternalSecret passes the schema; one written by hand with a field of the wrong type does not', async () => {
    const good = await synthSource(`
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'shop', { namespace: 'shop', registryCredentials: { store: 'vault', key: 'ci/registry' } });
  new ApiObject(env, 'web', ${JSON.stringify(POD)});
};`);
    expect(objectAt(good, 'groups/shop/externalsecret-shop-registry.yaml').spec.secretStoreRef).toEqual({ kind: 'ClusterSecretStore', name: 'vault' });
    expect([...good.files.keys()].filter((p) => p.includes('/secret-'))).toEqual([]);

    await expect(synthSource(`
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'shop', { namespace: 'shop' });
  new ApiObject(env, 'pull', { apiVersion: 'external-secrets.io/v1', kind: 'ExternalSecret', metadata: { name: 'pull' }, spec: { secretStoreRef: { name: 'vault' }, data: [{ secretKey: 'x', remoteRef: { key: 7 } }] } });
};`)).rejects.toThrow(/shop\/pull: ExternalSecret pull: spec\.data\[0\]\.remoteRef\.key: /);
  });
});
