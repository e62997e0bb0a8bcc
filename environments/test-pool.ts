// A pool of three leasable test environments (Boskos-compatible: /acquire, /release, ...).
// A resource released dirty, or whose lease expires, is removed by a commit; the janitor
// brings it back fresh and free.
import type { Construct } from 'constructs';
import { ApiObject } from 'cdk8s';
import { Environment, LeasePool } from 'paddock';

export default (scope: Construct) => {
  new LeasePool(scope, 'e2e', {
    type: 'e2e-env',
    count: 3,
    environment: (pool, resource) => {
      const env = new Environment(pool, resource.name, { namespace: resource.name });
      new ApiObject(env, 'db', {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: 'db' },
        spec: {
          serviceName: 'db',
          replicas: 1,
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' } },
            spec: { containers: [{ name: 'postgres', image: 'postgres:16', env: [{ name: 'POSTGRES_PASSWORD', value: 'test' }] }] },
          },
        },
      });
      return env;
    },
  });
};
