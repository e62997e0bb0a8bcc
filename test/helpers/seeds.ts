/** The old tools' own inputs, verbatim from their documents, and definitions built around them. */

/** The example of the deployment cloner's document (seed 004), as it gives it: the value of its `profiler-rc-config` key. */
export const SEED_004_RULES = `default:
  deployments:
    nginx-deployment:
      env: "PROFILING_ENABLED: True"
      scale_factor: "0.5"
      name_suffix: "profiler"
    nginx-deployment-2:
      env: "PROFILING_ENABLED: True"
      image: "busybox"
      scale_factor: "0.1"
      name_suffix: "profiler"`;

/**
 * A definition with the seed's two source Deployments (group `web`, namespace `default`, 4 and
 * 10 replicas) and a group `profiling` whose clones come from the ConfigMap `ddprof-rcconfig` in
 * `namespace` in the cluster, key `profiler-rc-config` (`Clone.fromLiveConfigMap`).
 */
export function followingSeedRules(namespace: string): string {
  return `
import { ApiObject } from 'cdk8s';
import { Clone, Environment } from 'paddock';
const deployment = (env, name, replicas) => new ApiObject(env, name, {
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } } },
});
export default (scope) => {
  const web = new Environment(scope, 'web', { namespace: 'default' });
  deployment(web, 'nginx-deployment', 4);
  deployment(web, 'nginx-deployment-2', 10);
  const profiling = new Environment(scope, 'profiling', { namespace: 'default' });
  Clone.fromLiveConfigMap(profiling, { namespace: ${JSON.stringify(namespace)}, name: 'ddprof-rcconfig', key: 'profiler-rc-config' });
};`;
}
