// Vitest globalSetup of the unit tier (`npm test`): no cluster. A developer's KUBECONFIG (or a
// dangling one left by the cluster tier's scripts) would otherwise reach every paddock process
// the tests start: `push` would ask that cluster's Argo CD to refresh, `watch` would elect a
// leader there. The cluster tier (test/cluster/) sets its own.
const CLUSTER_ENV = ['KUBECONFIG', 'KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT'] as const;

export default function setup(): () => void {
  const before = Object.fromEntries(CLUSTER_ENV.map((k) => [k, process.env[k]]));
  for (const k of CLUSTER_ENV) delete process.env[k];
  return () => {
    for (const [k, v] of Object.entries(before)) if (v !== undefined) process.env[k] = v;
  };
}
