/**
 * Whether paddock has a cluster (KUBECONFIG, or a pod's service account), and the cluster module
 * when it does. @kubernetes/client-node takes about a second to load; a command without a
 * cluster (`paddock up`, CI's `synth`, a sidecar in a pod) never loads it.
 */
export type ClusterModule = typeof import('./cluster.ts');

export function hasCluster(): boolean {
  return !!process.env.KUBECONFIG || !!process.env.KUBERNETES_SERVICE_HOST;
}

/** The cluster module (watch/cluster.ts), or undefined without a cluster. */
export async function loadCluster(): Promise<ClusterModule | undefined> {
  return hasCluster() ? import('./cluster.ts') : undefined;
}
