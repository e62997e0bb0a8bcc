// Self-test of the local test cluster (scripts/cluster-up, started by global-setup.ts): talks to
// it with @kubernetes/client-node, the way paddock's own tests do. Skipped against an external
// cluster (PADDOCK_CLUSTER=external), whose address and credentials are the user's.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { CoordinationV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { theCluster } from '../helpers.ts';

const cluster = theCluster();

describe.skipIf(cluster?.mode !== 'local')('test cluster', () => {
  const kc = new KubeConfig();
  if (cluster?.mode === 'local') kc.loadFromFile(cluster.kubeconfig);
  const ns = `selftest-${randomBytes(3).toString('hex')}`;

  it('exports the same values in process.env', () => {
    expect(process.env.KUBECONFIG).toBe(cluster!.kubeconfig);
    expect(cluster!.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates a namespace, applies server-side, and updates a Lease', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: ns } } });

    const objects = KubernetesObjectApi.makeApiClient(kc);
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: ns }, data: { a: '1' } };
    await objects.patch(cm, undefined, undefined, 'paddock-selftest', true, 'application/apply-patch+yaml');
    const dry = await objects.patch(
      { ...cm, data: { a: '2' } }, undefined, 'All', 'paddock-selftest', true, 'application/apply-patch+yaml',
    );
    expect((dry as { data?: Record<string, string> }).data?.a).toBe('2');
    expect((await core.readNamespacedConfigMap({ name: 'c', namespace: ns })).data?.a).toBe('1');

    const coord = kc.makeApiClient(CoordinationV1Api);
    const lease = await coord.createNamespacedLease({
      namespace: ns,
      body: { metadata: { name: 'slot' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 30 } },
    });
    lease.spec!.holderIdentity = 'b';
    const updated = await coord.replaceNamespacedLease({ name: 'slot', namespace: ns, body: lease });
    expect(updated.spec?.holderIdentity).toBe('b');
    // The stale resourceVersion must now conflict.
    await expect(coord.replaceNamespacedLease({ name: 'slot', namespace: ns, body: lease })).rejects.toMatchObject({
      code: 409,
    });
  });

  it('accepts the admin bearer token', async () => {
    const token = readFileSync(cluster!.tokenFile!, 'utf8').trim();
    const tk = new KubeConfig();
    tk.loadFromOptions({
      clusters: [{ name: 'c', server: cluster!.server, caFile: cluster!.caFile }],
      users: [{ name: 'u', token }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const list = await tk.makeApiClient(CoreV1Api).listNamespace();
    expect(list.items.map((n) => n.metadata?.name)).toContain('default');
  });
});
