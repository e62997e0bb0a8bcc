/** Kubernetes API helpers shared by the cluster tier and the e2e bench (no vitest here). */
import type { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';

/** True when `read` finds the object, false on 404; any other error is thrown. */
export async function exists(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return false;
    throw e;
  }
}

/** Whether any object of a `workloadGroupsSource` group is left in namespace `group`: its ConfigMap `settings` or Deployment `app`. */
export async function workloadLeft(core: CoreV1Api, apps: AppsV1Api, group: string): Promise<boolean> {
  return (await exists(() => core.readNamespacedConfigMap({ name: 'settings', namespace: group }))) || (await exists(() => apps.readNamespacedDeployment({ name: 'app', namespace: group })));
}
