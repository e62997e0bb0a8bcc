// Workspaces: one group per record in the manifests repo's state/workspaces/ (made by
// `POST /api/workspaces`), plus one written inline here as an example.
import type { Construct } from 'constructs';
import { Environment, Workspace } from 'paddock';

export default (scope: Construct) => {
  Workspace.fromRecords(scope, { namespace: 'workspaces' });

  const demo = new Environment(scope, 'ws-demo', { namespace: 'workspaces', owner: 'demo@example.com' });
  new Workspace(demo, 'workspace', {
    record: {
      name: 'demo',
      email: 'demo@example.com',
      ram: 2,
      cpu: 1,
      storage: '10Gi',
      publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFhWQ0xlYWtlZEtleUZvckRlbW9Pbmx5MTIzNDU2Nzg5 demo@example.com',
      port: 30022,
    },
  });
};
