/** The bench's environments: N definition files of 3 objects each (Deployment, Service, Job). */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The plain objects of environment `i`, shared by paddock's definitions, the cdk8s baseline and the floor. */
export function objectsFor(i: number): Array<{ id: string; obj: Record<string, any> }> {
  const name = `svc-${i}`;
  const labels = { app: name };
  return [
    {
      id: 'deployment',
      obj: {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels },
        spec: {
          replicas: 2, selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: `ghcr.io/bench/${name}:1.0.${i}`, ports: [{ containerPort: 8080 }], env: [{ name: 'MODE', value: 'bench' }] }] } },
        },
      },
    },
    { id: 'service', obj: { apiVersion: 'v1', kind: 'Service', metadata: { name, labels }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } } },
    {
      id: 'job',
      obj: {
        apiVersion: 'batch/v1', kind: 'Job', metadata: { name: `${name}-migrate`, labels },
        spec: { backoffLimit: 1, template: { metadata: { labels }, spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: `ghcr.io/bench/${name}:1.0.${i}`, command: ['migrate', 'up'] }] } } },
      },
    },
  ];
}

/** Writes N definition files into `dir`; each imports the shared generator. */
export function writeDefinitions(dir: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, '_objects.ts'), `export ${objectsFor.toString()}\n`);
  for (let i = 0; i < n; i++) {
    writeFileSync(path.join(dir, `env-${String(i).padStart(5, '0')}.ts`), [
      "import { ApiObject } from 'cdk8s';",
      "import { Environment } from 'paddock';",
      "import { objectsFor } from './_objects';",
      'export default (scope) => {',
      `  const env = new Environment(scope, 'env-${i}', { namespace: 'bench-${i % 50}' });`,
      `  for (const { id, obj } of objectsFor(${i})) new ApiObject(env, id, obj);`,
      '};',
      '',
    ].join('\n'));
  }
}
