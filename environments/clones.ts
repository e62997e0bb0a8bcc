// Clones: a half-size copy of a deployment with another image, and clones made from the
// seed's `profiler-rc-config` rules (their sources are found in this synthesis, or live in
// the cluster when paddock runs with a KUBECONFIG).
import type { Construct } from 'constructs';
import { ApiObject } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Clone, Environment } from 'paddock';

export default (scope: Construct) => {
  const shop = new Environment(scope, 'shop', { namespace: 'shop' });
  const api = new kplus.Deployment(shop, 'api', {
    metadata: { name: 'shop-api' },
    replicas: 4,
    containers: [{ name: 'api', image: 'ghcr.io/example/shop-api:2.3.0', portNumber: 8080, envVariables: { MODE: kplus.EnvValue.fromValue('prod') } }],
  });
  api.exposeViaService({ name: 'shop-api', ports: [{ port: 80, targetPort: 8080 }] });

  const canary = new Environment(scope, 'shop-canary', { namespace: 'shop', ttl: '2h' });
  new Clone(canary, 'api-canary', {
    source: api,
    nameSuffix: '-canary',
    scaleFactor: 0.5,
    image: 'ghcr.io/example/shop-api:2.4.0-rc1',
    env: { MODE: 'canary' },
  });

  const profiling = new Environment(scope, 'shop-profiling', { namespace: 'shop' });
  const rules = new ApiObject(profiling, 'profiler-rc-config', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'profiler-rc-config' },
    // The deployment cloner's own format (its `profiler-rc-config` key), as its users wrote it.
    data: {
      'profiler-rc-config': [
        'shop:',
        '  deployments:',
        '    shop-api:',
        '      env: { PROFILER: "pyroscope", PROFILER_SAMPLE_RATE: "100" }',
        '      scale_factor: "0.25"',
        '      name_suffix: "profiler"',
        '      image: "ghcr.io/example/shop-api:2.3.0-profiling"',
      ].join('\n'),
    },
  });
  Clone.fromConfigMap(profiling, rules);
};
