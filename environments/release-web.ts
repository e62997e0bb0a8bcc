// A release of a service rendered from a mustache template. CI posts new releases
// (kubernaut-compatible `POST /api/releases`); these two inline records show the rule:
// the newest release that is not soft-deleted is the one that runs (here 1.4.1, because
// 1.5.0 was deleted and the service rolled back). Its images come from a private registry:
// the external-secrets operator writes the pull Secret from the platform's secret store, so no
// credential is ever in git.
import type { Construct } from 'constructs';
import { Environment, Release } from 'paddock';

const template = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{service}}
  labels: { app: {{service}}, version: "{{version}}" }
spec:
  replicas: {{attributes.replicas}}
  selector: { matchLabels: { app: {{service}} } }
  template:
    metadata:
      labels: { app: {{service}}, version: "{{version}}" }
    spec:
      containers:
        - name: {{service}}
          image: {{image}}
          env:
            - { name: LOG_LEVEL, value: "{{attributes.logLevel}}" }
---
apiVersion: v1
kind: Service
metadata:
  name: {{service}}
spec:
  selector: { app: {{service}} }
  ports: [{ port: 80, targetPort: 8080 }]
`;

export default (scope: Construct) => {
  const env = new Environment(scope, 'storefront', {
    namespace: 'storefront',
    registryCredentials: { store: 'platform-secrets', key: 'registry/ghcr.io' },
  });
  new Release(env, 'web', {
    service: 'web',
    template,
    namespaceAttributes: { logLevel: 'info', replicas: '1' },
    serviceAttributes: { replicas: '2' },
    records: [
      { id: 'r-0001', service: 'web', version: '1.4.1', image: 'ghcr.io/example/web:1.4.1', attributes: { logLevel: 'debug' }, createdAt: '2026-11-01T10:00:00.000Z' },
      { id: 'r-0002', service: 'web', version: '1.5.0', image: 'ghcr.io/example/web:1.5.0', attributes: {}, createdAt: '2026-11-02T10:00:00.000Z', deletedAt: '2026-11-02T11:00:00.000Z' },
    ],
  });
};
