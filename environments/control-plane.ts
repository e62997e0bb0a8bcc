// paddock deploying itself: the watcher (leader-elected, two replicas) and the sidecar, each
// beside a git-sync container that keeps the definitions repo checked out, with the least RBAC
// the watcher needs. The sidecar's Service makes http://paddock-sidecar.paddock.svc:8080 the
// base of every group's GARBAGE_COLLECTOR_URL.
//
// Secrets never appear here or in the manifests: create the Secret once, by hand or with your
// secrets tooling, and paddock's pods read it by reference:
//
//   kubectl create namespace paddock
//   ssh-keyscan git.example.com > known_hosts
//   kubectl -n paddock create secret generic paddock-secrets \
//     --from-literal=gc-secret="$(openssl rand -hex 32)" \
//     --from-literal=api-tokens="$(openssl rand -hex 24)" \
//     --from-file=ssh-privatekey=./paddock-deploy-key \
//     --from-file=known_hosts=./known_hosts
import type { Construct } from 'constructs';
import { Environment, PaddockControlPlane } from 'paddock';

export default (scope: Construct) => {
  const system = new Environment(scope, 'paddock-system', { namespace: 'paddock', owner: 'platform' });
  new PaddockControlPlane(system, 'paddock', {
    repo: 'git@git.example.com:platform/manifests.git',
    definitionsRepo: 'https://git.example.com/platform/environments.git',
    // Live clone sources (environments/clones.ts) are read from the shop namespace.
    watchNamespaces: ['shop'],
  });
};
