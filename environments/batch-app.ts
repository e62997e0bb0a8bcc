// An app with its job and service. The job tells paddock when its work is done: the
// classic GC call, unchanged, removes this whole group in one commit.
import type { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-28';
import { Environment } from 'paddock';

export default (scope: Construct) => {
  const env = new Environment(scope, 'batch-app', { namespace: 'batch', ttl: '6h', owner: 'data-team' });

  const web = new kplus.Deployment(env, 'web', {
    replicas: 2,
    containers: [{ name: 'web', image: 'nginx:1.27', portNumber: 80 }],
  });
  web.exposeViaService({ name: 'batch-app-web', ports: [{ port: 80, targetPort: 80 }] });

  new kplus.Job(env, 'report', {
    backoffLimit: 2,
    containers: [{
      name: 'report',
      image: 'curlimages/curl:8.10.1',
      command: ['sh', '-c'],
      args: [
        'echo "building the report..." && sleep 5 && ' +
          'curl -fsS -X POST "$GARBAGE_COLLECTOR_URL" -H "content-type: application/json" -d "{ \\"label\\": \\"group_id=$GROUP_ID\\" }"',
      ],
    }],
  });
};
