/**
 * PaddockControlPlane (CONTRACT "Commands" serve/watch, "Configuration", "Safety"): paddock
 * deployed by paddock. The watcher and the sidecar with git-sync beside them, the sidecar's
 * Service as the GARBAGE_COLLECTOR_URL base, least RBAC, and secrets only as Secret references.
 * The shipped example (environments/control-plane.ts) is synthesized as a user's would be.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Testing } from 'cdk8s';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Environment } from '../constructs/environment.ts';
import { DEFAULT_GIT_SYNC_IMAGE, PaddockControlPlane } from '../constructs/paddock-control-plane.ts';
import { loadDefinitions, synthesize, type SynthResult } from '../src/synth/index.ts';
import { inputs, objectAt, synthSource, TEST_SECRET } from './helpers/synth.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const VERSION = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
const GROUP = 'groups/paddock-system';
const at = (result: SynthResult, file: string) => objectAt(result, `${GROUP}/${file}`);
const podSpec = (result: SynthResult, name: string) => at(result, `deployment-${name}.yaml`).spec.template.spec;
const container = (spec: any, name: string) => [...(spec.initContainers ?? []), ...spec.containers].find((c: any) => c.name === name);
const envOf = (c: any, name: string) => c.env.find((e: any) => e.name === name);
const groupFiles = (result: SynthResult) => [...result.files.keys()].filter((p) => p.startsWith(`${GROUP}/`)).map((p) => p.slice(GROUP.length + 1));

const ROLE_RULES = [
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
];

/** A definition with one control plane; `props` is spliced in as source text. */
function definition(props: string, envProps = `{ namespace: 'paddock' }`): string {
  return `
    import { Environment, PaddockControlPlane } from 'paddock';
    export default (scope) => {
      const env = new Environment(scope, 'paddock-system', ${envProps});
      new PaddockControlPlane(env, 'paddock', {
        repo: 'git@git.example.com:platform/manifests.git',
        definitionsRepo: 'https://git.example.com/platform/environments.git',
        ${props}
      });
    };`;
}

describe('the shipped example environments/control-plane.ts', () => {
  let result: SynthResult;
  // Values that must never reach a manifest, even when they are in the synthesizing process's env.
  const LEAKS = { PADDOCK_GC_SECRET: 'leak-canary-gc-5f2a', PADDOCK_API_TOKENS: 'leak-canary-token-9c1d' };
  const saved: Record<string, string | undefined> = {};
  beforeAll(async () => {
    for (const [k, v] of Object.entries(LEAKS)) { saved[k] = process.env[k]; process.env[k] = v; }
    const loaded = await loadDefinitions(path.join(ROOT, 'environments'), ['control-plane.ts']);
    if (loaded.errors.length) throw loaded.errors[0];
    result = await synthesize(loaded.definitions, inputs());
  });
  afterAll(() => {
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  });

  it('GIVEN the example WHEN synthesized THEN group paddock-system in namespace paddock holds exactly the watcher, sidecar, their Services, two ServiceAccounts, the Roles and the dashboard', () => {
    expect(result.groups.map((g) => [g.name, g.namespace])).toEqual([['paddock-system', 'paddock']]);
    expect(groupFiles(result).sort()).toEqual([
      'configmap-paddock-dashboard.yaml',
      'deployment-paddock-sidecar.yaml',
      'deployment-paddock-watcher.yaml',
      'role-paddock-watcher.paddock.yaml',
      'role-paddock-watcher.shop.yaml',
      'rolebinding-paddock-watcher.paddock.yaml',
      'rolebinding-paddock-watcher.shop.yaml',
      'service-paddock-sidecar.yaml',
      'service-paddock-watcher.yaml',
      'serviceaccount-paddock-sidecar.yaml',
      'serviceaccount-paddock-watcher.yaml',
    ]);
    expect(objectAt(result, 'apps/paddock-system.yaml').spec.destination.namespace).toBe('paddock');
    for (const file of groupFiles(result).filter((f) => !f.endsWith('.shop.yaml'))) expect(at(result, file).metadata.namespace, file).toBe('paddock');
  });

  it('GIVEN the default replicas WHEN synthesized THEN the watcher runs 2 pods of `paddock watch` on the manifests repo and the synced definitions, with its pod name and namespace for the leader Lease', () => {
    const d = at(result, 'deployment-paddock-watcher.yaml');
    expect(d.spec.replicas).toBe(2);
    const w = container(d.spec.template.spec, 'watcher');
    expect(w.image).toBe(`ghcr.io/paddock-dev/paddock:${VERSION}`);
    expect(w.args).toEqual(['watch', '--repo', '$(PADDOCK_REPO)', '--definitions', '/definitions/current', '--listen', '0.0.0.0:8081']);
    expect(envOf(w, 'PADDOCK_REPO')).toEqual({ name: 'PADDOCK_REPO', value: 'git@git.example.com:platform/manifests.git' });
    expect(envOf(w, 'PADDOCK_BRANCH')).toEqual({ name: 'PADDOCK_BRANCH', value: 'main' });
    expect(envOf(w, 'PADDOCK_SIDECAR_URL')).toEqual({ name: 'PADDOCK_SIDECAR_URL', value: 'http://paddock-sidecar.paddock.svc:8080' });
    expect(envOf(w, 'POD_NAME').valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(envOf(w, 'POD_NAMESPACE').valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    expect(d.spec.template.spec.serviceAccountName).toBe('paddock-watcher');
    expect(Object.entries(d.spec.selector.matchLabels).every(([k, v]) => d.spec.template.metadata.labels[k] === v)).toBe(true);
  });

  it('GIVEN the definitions repo WHEN synthesized THEN each pod has git-sync v4 keeping it checked out into the shared emptyDir, after a one-time sync so paddock starts with definitions', () => {
    for (const name of ['paddock-watcher', 'paddock-sidecar']) {
      const spec = podSpec(result, name);
      const args = [
        '--repo=https://git.example.com/platform/environments.git',
        '--ref=main',
        '--root=/definitions',
        '--link=current',
        '--period=30s',
        '--depth=0',
      ];
      const sync = container(spec, 'git-sync');
      expect(sync.image).toBe(DEFAULT_GIT_SYNC_IMAGE);
      expect(sync.args).toEqual(args);
      expect(spec.initContainers.map((c: any) => c.name)).toEqual(['git-sync-init']);
      expect(container(spec, 'git-sync-init').args).toEqual([...args, '--one-time']);
      expect(spec.volumes).toContainEqual({ name: 'definitions', emptyDir: {} });
      for (const c of [...spec.initContainers, ...spec.containers]) {
        expect(c.volumeMounts.find((m: any) => m.name === 'definitions').mountPath, `${name}/${c.name}`).toBe('/definitions');
      }
      const paddock = spec.containers[0];
      expect(paddock.volumeMounts.find((m: any) => m.name === 'definitions').readOnly).toBe(true);
      // The https definitions repo needs no key: git-sync gets no SSH flags and no Secret mount.
      expect(sync.args.some((a: string) => a.startsWith('--ssh'))).toBe(false);
      expect(sync.volumeMounts.map((m: any) => m.name)).toEqual(['definitions']);
      // git-sync runs as 65533; the pod's fsGroup makes the 0400 key files readable to it and paddock.
      expect(spec.securityContext).toEqual({ fsGroup: 65533 });
    }
  });

  it('GIVEN the sidecar WHEN synthesized THEN it serves on 0.0.0.0:8080 with /readyz and /healthz probes, and the Service paddock-sidecar:8080 selects exactly its pods', () => {
    const d = at(result, 'deployment-paddock-sidecar.yaml');
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy).toEqual({ type: 'Recreate' });
    const s = container(d.spec.template.spec, 'sidecar');
    expect(s.args).toEqual(['serve', '--repo', '$(PADDOCK_REPO)', '--definitions', '/definitions/current', '--listen', '0.0.0.0:8080']);
    expect(s.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(s.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(s.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    // Liveness counts from the first answer: startup may wait 45 s for newer definitions.
    expect(s.startupProbe).toEqual({ httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5, failureThreshold: 36 });

    const svc = at(result, 'service-paddock-sidecar.yaml');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    const podLabels = d.spec.template.metadata.labels;
    expect(Object.entries(svc.spec.selector).every(([k, v]) => podLabels[k] === v)).toBe(true);
    expect(svc.spec.selector).toEqual(d.spec.selector.matchLabels);
    // The watcher's pods are not selected.
    const watcherLabels = at(result, 'deployment-paddock-watcher.yaml').spec.template.metadata.labels;
    expect(Object.entries(svc.spec.selector).every(([k, v]) => watcherLabels[k] === v)).toBe(false);
    // The URL every group's GARBAGE_COLLECTOR_URL starts with is this Service's.
    expect(envOf(s, 'PADDOCK_SIDECAR_URL').value).toBe(`http://${svc.metadata.name}.${svc.metadata.namespace}.svc:${svc.spec.ports[0].port}`);
  });

  it('GIVEN the watcher WHEN synthesized THEN it listens on 8081 (liveness on /healthz, readiness on /readyz), the Service paddock-watcher:8081 selects exactly its pods, and the sidecar tells it of its pushes there', () => {
    const spec = podSpec(result, 'paddock-watcher');
    const w = container(spec, 'watcher');
    expect(w.ports).toEqual([{ name: 'http', containerPort: 8081, protocol: 'TCP' }]);
    expect(w.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(w.startupProbe.periodSeconds * w.startupProbe.failureThreshold).toBe(180);
    expect(w.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const svc = at(result, 'service-paddock-watcher.yaml');
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 8081, targetPort: 'http', protocol: 'TCP' }]);
    expect(svc.spec.selector).toEqual(at(result, 'deployment-paddock-watcher.yaml').spec.selector.matchLabels);
    expect(svc.spec.selector).not.toEqual(at(result, 'service-paddock-sidecar.yaml').spec.selector);
    const s = container(podSpec(result, 'paddock-sidecar'), 'sidecar');
    expect(envOf(s, 'PADDOCK_WATCHER_URL')).toEqual({ name: 'PADDOCK_WATCHER_URL', value: `http://${svc.metadata.name}.${svc.metadata.namespace}.svc:8081` });
  });

  it('GIVEN the watcher WHEN synthesized THEN its Role allows exactly reading Deployments and leader-election Leases in its namespace, and only reading Deployments in a watched namespace', () => {
    expect(at(result, 'role-paddock-watcher.paddock.yaml').rules).toEqual(ROLE_RULES);
    const shop = at(result, 'role-paddock-watcher.shop.yaml');
    expect(shop.metadata.namespace).toBe('shop');
    expect(shop.rules).toEqual([ROLE_RULES[0]]);
  });

  it('GIVEN the defaults WHEN synthesized THEN nothing is cluster-wide: no ClusterRole or ClusterRoleBinding anywhere', () => {
    const kinds = groupFiles(result).map((f) => at(result, f).kind);
    expect(kinds).not.toContain('ClusterRole');
    expect(kinds).not.toContain('ClusterRoleBinding');
    expect([...result.files.keys()].filter((p) => /\/clusterrole/.test(p))).toEqual([]);
  });

  it('GIVEN the Roles WHEN synthesized THEN every RoleBinding binds that Role to the watcher ServiceAccount in paddock, and nothing binds the sidecar', () => {
    for (const ns of ['paddock', 'shop']) {
      const rb = at(result, `rolebinding-paddock-watcher.${ns}.yaml`);
      expect(rb.metadata.namespace).toBe(ns);
      expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'paddock-watcher' });
      expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'paddock-watcher', namespace: 'paddock' }]);
    }
    const sa = at(result, 'serviceaccount-paddock-watcher.yaml');
    expect(sa.metadata.name).toBe('paddock-watcher');
    expect(sa.automountServiceAccountToken).toBeUndefined();
  });

  it("GIVEN the default argoRefresh WHEN synthesized THEN apps/ holds a Role allowing only patch on Applications in Argo CD's namespace, bound to the watcher alone, and the root project admits exactly those two kinds besides its own", () => {
    const role = objectAt(result, 'apps/paddock-argo-refresh.role.yaml');
    expect(role).toMatchObject({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'paddock-argo-refresh', namespace: 'argocd' } });
    expect(role.rules).toEqual([{ apiGroups: ['argoproj.io'], resources: ['applications'], verbs: ['patch'] }]);
    const binding = objectAt(result, 'apps/paddock-argo-refresh.rolebinding.yaml');
    expect(binding.metadata).toMatchObject({ name: 'paddock-argo-refresh', namespace: 'argocd' });
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'paddock-argo-refresh' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'paddock-watcher', namespace: 'paddock' }]);
    expect(objectAt(result, 'apps/paddock-apps.appproject.yaml').spec.namespaceResourceWhitelist).toEqual([
      { group: 'argoproj.io', kind: 'Application' }, { group: 'argoproj.io', kind: 'AppProject' },
      { group: 'rbac.authorization.k8s.io', kind: 'Role' }, { group: 'rbac.authorization.k8s.io', kind: 'RoleBinding' },
    ]);
    // The group itself does not reach into Argo CD's namespace: its project is unchanged by the grant.
    const groupsProject = objectAt(result, 'apps/paddock.appproject.yaml');
    expect(groupsProject.spec.destinations.map((d: any) => d.namespace)).not.toContain('argocd');
    expect(groupFiles(result).filter((f) => /argo/.test(f))).toEqual([]);
    expect(envOf(container(podSpec(result, 'paddock-watcher'), 'watcher'), 'PADDOCK_ARGO_REFRESH')).toEqual({ name: 'PADDOCK_ARGO_REFRESH', value: 'hard' });
    expect(envOf(container(podSpec(result, 'paddock-sidecar'), 'sidecar'), 'PADDOCK_ARGO_REFRESH')).toEqual({ name: 'PADDOCK_ARGO_REFRESH', value: 'off' });
  });

  it('GIVEN the sidecar WHEN synthesized THEN its own ServiceAccount and pods mount no API token', () => {
    const sa = at(result, 'serviceaccount-paddock-sidecar.yaml');
    expect(sa.automountServiceAccountToken).toBe(false);
    const spec = podSpec(result, 'paddock-sidecar');
    expect(spec.serviceAccountName).toBe('paddock-sidecar');
    expect(spec.automountServiceAccountToken).toBe(false);
  });

  it('GIVEN secrets WHEN synthesized THEN PADDOCK_GC_SECRET (both) and PADDOCK_API_TOKENS (sidecar only) come from secretKeyRef, with no literal value', () => {
    const watcher = container(podSpec(result, 'paddock-watcher'), 'watcher');
    const sidecar = container(podSpec(result, 'paddock-sidecar'), 'sidecar');
    const gc = { name: 'PADDOCK_GC_SECRET', valueFrom: { secretKeyRef: { name: 'paddock-secrets', key: 'gc-secret' } } };
    expect(envOf(watcher, 'PADDOCK_GC_SECRET')).toEqual(gc);
    expect(envOf(sidecar, 'PADDOCK_GC_SECRET')).toEqual(gc);
    expect(envOf(sidecar, 'PADDOCK_API_TOKENS')).toEqual({ name: 'PADDOCK_API_TOKENS', valueFrom: { secretKeyRef: { name: 'paddock-secrets', key: 'api-tokens' } } });
    expect(envOf(watcher, 'PADDOCK_API_TOKENS')).toBeUndefined();
  });

  it('GIVEN secret values in the synthesizing process WHEN synthesized THEN no file holds them, and no env entry of a secret variable has a value', () => {
    for (const [file, text] of result.files) {
      for (const leak of [...Object.values(LEAKS), TEST_SECRET]) expect(text.includes(leak), `${file} holds ${leak}`).toBe(false);
    }
    for (const name of ['paddock-watcher', 'paddock-sidecar']) {
      const spec = podSpec(result, name);
      for (const c of [...spec.initContainers, ...spec.containers]) {
        for (const e of c.env) {
          if (/SECRET|TOKEN|PASSWORD|KEY/.test(e.name)) expect(e, `${name}/${c.name} ${e.name}`).not.toHaveProperty('value');
        }
      }
    }
  });

  it('GIVEN an SSH manifests repo WHEN synthesized THEN the key Secret is mounted read-only (key and known_hosts only, mode 0400) and GIT_SSH_COMMAND uses it with strict host key checking', () => {
    for (const [name, main] of [['paddock-watcher', 'watcher'], ['paddock-sidecar', 'sidecar']]) {
      const spec = podSpec(result, name);
      expect(spec.volumes).toContainEqual({
        name: 'git-ssh',
        secret: { secretName: 'paddock-secrets', defaultMode: 0o400, items: [{ key: 'ssh-privatekey', path: 'ssh' }, { key: 'known_hosts', path: 'known_hosts' }] },
      });
      const c = container(spec, main);
      expect(c.volumeMounts).toContainEqual({ name: 'git-ssh', mountPath: '/etc/git-secret', readOnly: true });
      const ssh = envOf(c, 'GIT_SSH_COMMAND').value;
      expect(ssh).toContain('-i /etc/git-secret/ssh');
      expect(ssh).toContain('-o UserKnownHostsFile=/etc/git-secret/known_hosts');
      expect(ssh).toContain('-o StrictHostKeyChecking=yes');
      expect(ssh).toContain('-o BatchMode=yes');
    }
  });
});

describe('PaddockControlPlane variants', () => {
  it('GIVEN prefix pd, 3 replicas and namespace ops WHEN synthesized THEN names, replicas, URL and RBAC subjects follow', async () => {
    const result = await synthSource(definition(`prefix: 'pd', replicas: 3, branch: 'prod', definitionsBranch: 'release', definitionsPath: 'environments', syncPeriod: '1m'`, `{ namespace: 'ops' }`));
    expect(groupFiles(result).sort()).toEqual([
      'configmap-pd-dashboard.yaml', 'deployment-pd-sidecar.yaml', 'deployment-pd-watcher.yaml', 'role-pd-watcher.yaml', 'rolebinding-pd-watcher.yaml',
      'service-pd-sidecar.yaml', 'service-pd-watcher.yaml', 'serviceaccount-pd-sidecar.yaml', 'serviceaccount-pd-watcher.yaml',
    ]);
    const d = at(result, 'deployment-pd-watcher.yaml');
    expect(d.spec.replicas).toBe(3);
    const w = container(d.spec.template.spec, 'watcher');
    expect(w.args).toEqual(['watch', '--repo', '$(PADDOCK_REPO)', '--definitions', '/definitions/current/environments', '--listen', '0.0.0.0:8081']);
    expect(envOf(container(podSpec(result, 'pd-sidecar'), 'sidecar'), 'PADDOCK_WATCHER_URL').value).toBe('http://pd-watcher.ops.svc:8081');
    expect(envOf(w, 'PADDOCK_BRANCH').value).toBe('prod');
    expect(envOf(w, 'PADDOCK_SIDECAR_URL').value).toBe('http://pd-sidecar.ops.svc:8080');
    expect(container(d.spec.template.spec, 'git-sync').args).toEqual([
      '--repo=https://git.example.com/platform/environments.git', '--ref=release', '--root=/definitions', '--link=current', '--period=1m', '--depth=0',
    ]);
    expect(at(result, 'rolebinding-pd-watcher.yaml').subjects).toEqual([{ kind: 'ServiceAccount', name: 'pd-watcher', namespace: 'ops' }]);
    // paddock's own group is no GC call's to remove: its containers get no GC URL (GROUP_ID they do), and the sidecar refuses it.
    const again = await synthSource(definition(`prefix: 'pd'`, `{ namespace: 'ops' }`), { sidecarUrl: 'http://pd-sidecar.ops.svc:8080' });
    for (const [pod, name] of [['pd-sidecar', 'sidecar'], ['pd-watcher', 'watcher'], ['pd-watcher', 'git-sync']]) {
      expect(envOf(container(podSpec(again, pod), name), 'GARBAGE_COLLECTOR_URL'), name).toBeUndefined();
      expect(envOf(container(podSpec(again, pod), name), 'GROUP_ID').value).toBe('paddock-system');
    }
    expect(again.groups.find((g) => g.name === 'paddock-system')?.gcExcluded).toBe(true);
  });

  it("GIVEN argoRefresh off WHEN synthesized THEN there is no Role in Argo CD's namespace, the root project admits only Applications and AppProjects, and the watcher does not refresh", async () => {
    const result = await synthSource(definition(`argoRefresh: 'off'`));
    expect([...result.files.keys()].filter((p) => p.startsWith('apps/'))).toEqual(['apps/paddock-apps.appproject.yaml', 'apps/paddock-root.yaml', 'apps/paddock-system.yaml', 'apps/paddock.appproject.yaml']);
    expect(objectAt(result, 'apps/paddock-apps.appproject.yaml').spec.namespaceResourceWhitelist).toEqual([{ group: 'argoproj.io', kind: 'Application' }, { group: 'argoproj.io', kind: 'AppProject' }]);
    expect(envOf(container(podSpec(result, 'paddock-watcher'), 'watcher'), 'PADDOCK_ARGO_REFRESH').value).toBe('off');
    expect(envOf(container(podSpec(result, 'paddock-sidecar'), 'sidecar'), 'PADDOCK_WATCHER_URL')).toBeUndefined();
  });

  it('GIVEN two control planes (one with argoRefresh normal) and Argo CD in namespace gitops WHEN synthesized THEN one Role there binds both watchers, and the normal one refreshes normally', async () => {
    const result = await synthSource(`
      import { Environment, PaddockControlPlane } from 'paddock';
      export default (scope) => {
        const common = { repo: 'git@git.example.com:platform/manifests.git', definitionsRepo: 'https://git.example.com/platform/environments.git' };
        new PaddockControlPlane(new Environment(scope, 'paddock-a', { namespace: 'team-a' }), 'paddock', common);
        new PaddockControlPlane(new Environment(scope, 'paddock-b', { namespace: 'team-b' }), 'paddock', { ...common, prefix: 'pb', argoRefresh: 'normal' });
      };`, { argo: { repoURL: 'git@git.example.com:platform/manifests.git', targetRevision: 'main', namespace: 'gitops', project: 'paddock' } });
    expect(objectAt(result, 'apps/paddock-argo-refresh.role.yaml').metadata.namespace).toBe('gitops');
    expect(objectAt(result, 'apps/paddock-argo-refresh.rolebinding.yaml').subjects).toEqual([
      { kind: 'ServiceAccount', name: 'paddock-watcher', namespace: 'team-a' },
      { kind: 'ServiceAccount', name: 'pb-watcher', namespace: 'team-b' },
    ]);
    const w = container(objectAt(result, 'groups/paddock-b/deployment-pb-watcher.yaml').spec.template.spec, 'watcher');
    expect(envOf(w, 'PADDOCK_ARGO_REFRESH').value).toBe('normal');
  });

  it('GIVEN watchAllNamespaces WHEN synthesized THEN a ClusterRole (named with the namespace) grants only reading Deployments, bound to the watcher; the Role keeps only Leases', async () => {
    const result = await synthSource(definition(`watchAllNamespaces: true`));
    const cr = at(result, 'clusterrole-paddock-watcher-paddock.yaml');
    expect(cr.metadata.namespace).toBeUndefined();
    expect(cr.rules).toEqual([ROLE_RULES[0]]);
    const crb = at(result, 'clusterrolebinding-paddock-watcher-paddock.yaml');
    expect(crb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'paddock-watcher-paddock' });
    expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'paddock-watcher', namespace: 'paddock' }]);
    expect(at(result, 'role-paddock-watcher.yaml').rules).toEqual([ROLE_RULES[1]]);
  });

  it('GIVEN an SSH definitions repo and an https manifests repo WHEN synthesized THEN git-sync gets the key and known_hosts, and paddock neither the mount nor GIT_SSH_COMMAND', async () => {
    const result = await synthSource(`
      import { Environment, PaddockControlPlane } from 'paddock';
      export default (scope) => {
        const env = new Environment(scope, 'paddock-system', { namespace: 'paddock' });
        new PaddockControlPlane(env, 'paddock', {
          repo: 'https://git.example.com/platform/manifests.git',
          definitionsRepo: 'ssh://git@git.example.com/platform/environments.git',
          gitSsh: { secretName: 'paddock-git', privateKeyKey: 'id_ed25519' },
        });
      };`);
    const spec = podSpec(result, 'paddock-watcher');
    for (const name of ['git-sync', 'git-sync-init']) {
      const sync = container(spec, name);
      expect(sync.args).toEqual(expect.arrayContaining(['--ssh-key-file=/etc/git-secret/ssh', '--ssh-known-hosts=true', '--ssh-known-hosts-file=/etc/git-secret/known_hosts']));
      expect(sync.volumeMounts).toContainEqual({ name: 'git-ssh', mountPath: '/etc/git-secret', readOnly: true });
    }
    expect(spec.volumes.find((v: any) => v.name === 'git-ssh').secret.secretName).toBe('paddock-git');
    expect(spec.volumes.find((v: any) => v.name === 'git-ssh').secret.items[0]).toEqual({ key: 'id_ed25519', path: 'ssh' });
    const w = container(spec, 'watcher');
    expect(envOf(w, 'GIT_SSH_COMMAND')).toBeUndefined();
    expect(w.volumeMounts.map((m: any) => m.name)).toEqual(['definitions']);
  });

  it('GIVEN own secret name and keys, image and extra env WHEN synthesized THEN the references and plain settings follow', async () => {
    const result = await synthSource(definition(`secretName: 'ops-paddock', gcSecretKey: 'hmac', apiTokensKey: 'tokens', image: 'registry.test/paddock:dev', gitSyncImage: 'registry.test/git-sync:v4', env: { PADDOCK_WORKSPACE_DOMAINS: 'example.com' }`));
    const s = container(podSpec(result, 'paddock-sidecar'), 'sidecar');
    expect(s.image).toBe('registry.test/paddock:dev');
    expect(envOf(s, 'PADDOCK_GC_SECRET').valueFrom.secretKeyRef).toEqual({ name: 'ops-paddock', key: 'hmac' });
    expect(envOf(s, 'PADDOCK_API_TOKENS').valueFrom.secretKeyRef).toEqual({ name: 'ops-paddock', key: 'tokens' });
    expect(envOf(s, 'PADDOCK_WORKSPACE_DOMAINS')).toEqual({ name: 'PADDOCK_WORKSPACE_DOMAINS', value: 'example.com' });
    expect(container(podSpec(result, 'paddock-sidecar'), 'git-sync').image).toBe('registry.test/git-sync:v4');
    expect(podSpec(result, 'paddock-sidecar').volumes.find((v: any) => v.name === 'git-ssh').secret.secretName).toBe('ops-paddock');
  });

  it('GIVEN a construct in an Environment WHEN read THEN sidecarUrl is http://<prefix>-sidecar.<namespace>.svc:8080 and the default image is tagged with the package version', () => {
    const app = Testing.app();
    const env = new Environment(app, 'paddock-system', { namespace: 'tools' });
    const cp = new PaddockControlPlane(env, 'paddock', { repo: 'git@h:m.git', definitionsRepo: 'https://h/d.git', prefix: 'pdk' });
    expect(cp.sidecarUrl).toBe('http://pdk-sidecar.tools.svc:8080');
    expect(cp.image).toBe(`ghcr.io/paddock-dev/paddock:${VERSION}`);
    expect(cp.definitionsDir).toBe('/definitions/current');
  });
});

describe('PaddockControlPlane and live clone rules', () => {
  it('GIVEN rulesNamespaces WHEN synthesized THEN the watcher reads ConfigMaps there and nowhere else; a namespace in both lists gets one Role with both rules', async () => {
    const result = await synthSource(definition(`watchNamespaces: ['shop'], rulesNamespaces: ['shop', 'profiler-m', 'paddock']`));
    const READ_CONFIGMAPS = { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] };
    expect(at(result, 'role-paddock-watcher.profiler-m.yaml').rules).toEqual([READ_CONFIGMAPS]);
    expect(at(result, 'role-paddock-watcher.shop.yaml').rules).toEqual([ROLE_RULES[0], READ_CONFIGMAPS]);
    expect(at(result, 'role-paddock-watcher.paddock.yaml').rules).toEqual([...ROLE_RULES, READ_CONFIGMAPS]);
    const elsewhere = await synthSource(definition(`watchNamespaces: ['shop']`));
    expect(JSON.stringify([...elsewhere.files.values()])).not.toContain('configmaps');
  });

  it.each([
    [`rulesNamespaces: ['Profiler']`, /paddock-system\/paddock: rulesNamespaces: "Profiler" is not a namespace name/],
    [`rulesNamespaces: ['a', 'a']`, /paddock-system\/paddock: rulesNamespaces: "a" is listed twice/],
  ])('GIVEN %s WHEN synthesized THEN it fails naming the prop', async (props, message) => {
    await expect(synthSource(definition(props))).rejects.toThrow(message);
  });
});

describe('PaddockControlPlane lease pools from a ConfigMap', () => {
  const BOSKOS = 'resources:\n- type: gke-project\n  state: free\n  names: [proj-a, proj-b]\n';
  it('GIVEN leaseConfig (Boskos\'s YAML) WHEN synthesized THEN it ships as a ConfigMap the sidecar mounts as a directory and reads with --lease-config; the watcher has none of it', async () => {
    const result = await synthSource(definition(`leaseConfig: ${JSON.stringify(BOSKOS)}`));
    const cm = at(result, 'configmap-paddock-leases.yaml');
    expect(cm.data).toEqual({ 'resources.yaml': BOSKOS });
    const pod = podSpec(result, 'paddock-sidecar');
    const sidecar = container(pod, 'sidecar');
    expect(sidecar.args.slice(-2)).toEqual(['--lease-config', '/etc/paddock/leases/resources.yaml']);
    expect(sidecar.volumeMounts).toContainEqual({ name: 'lease-config', mountPath: '/etc/paddock/leases', readOnly: true });
    expect(sidecar.volumeMounts.some((m: any) => m.subPath)).toBe(false);
    expect(pod.volumes).toContainEqual({ name: 'lease-config', configMap: { name: 'paddock-leases' } });
    expect(JSON.stringify(podSpec(result, 'paddock-watcher'))).not.toContain('lease-config');
  });

  it.each([
    ['resources: 7', /paddock-system\/paddock: leaseConfig: expected resources/],
    ['resources:\n- type: "bad type"\n  names: [x]\n', /paddock-system\/paddock: leaseConfig: resources\[0\]\.names: type "bad type" must be letters/],
  ])('GIVEN leaseConfig %j WHEN synthesized THEN it fails naming the prop and the entry', async (config, message) => {
    await expect(synthSource(definition(`leaseConfig: ${JSON.stringify(config)}`))).rejects.toThrow(message);
  });
});

describe('PaddockControlPlane props that cannot work', () => {
  it.each([
    ['replicas: 0', /paddock-system\/paddock: replicas must be a whole number of at least 1, got 0/],
    ['replicas: 1.5', /paddock-system\/paddock: replicas must be a whole number/],
    [`prefix: 'Paddock_Prod'`, /paddock-system\/paddock: prefix "Paddock_Prod" must be a DNS label/],
    [`prefix: '${'p'.repeat(56)}'`, /paddock-system\/paddock: prefix "p+" must be a DNS label of at most 55 characters/],
    [`watchNamespaces: ['shop', 'shop']`, /paddock-system\/paddock: watchNamespaces: "shop" is listed twice/],
    [`watchNamespaces: ['Shop']`, /paddock-system\/paddock: watchNamespaces: "Shop" is not a namespace name/],
    [`watchNamespaces: ['paddock']`, /paddock-system\/paddock: watchNamespaces: "paddock" is paddock's own namespace/],
    [`watchNamespaces: ['shop'], watchAllNamespaces: true`, /paddock-system\/paddock: watchAllNamespaces already covers every namespace/],
    [`syncPeriod: 'soon'`, /paddock-system\/paddock: syncPeriod "soon" must be a duration/],
    [`definitionsBranch: 'main branch'`, /paddock-system\/paddock: definitionsBranch "main branch" is not a git branch/],
    [`definitionsPath: '../elsewhere'`, /paddock-system\/paddock: definitionsPath "..\/elsewhere" must be a directory relative/],
    [`secretName: 'Paddock Secrets'`, /paddock-system\/paddock: secretName "Paddock Secrets" must be a Secret name/],
    [`gcSecretKey: 'gc secret'`, /paddock-system\/paddock: gcSecretKey "gc secret" is not a Secret key/],
    [`env: { PADDOCK_GC_SECRET: 'hunter2' }`, /paddock-system\/paddock: env: PADDOCK_GC_SECRET is set by the PaddockControlPlane itself \(from a Secret reference\)/],
    [`env: { 'not-a-name': 'x' }`, /paddock-system\/paddock: env: "not-a-name" is not an environment variable name/],
    [`image: ''`, /paddock-system\/paddock: image "" is not an image reference/],
    [`argoRefresh: 'soft'`, /paddock-system\/paddock: argoRefresh "soft" must be hard, normal or off/],
    [`env: { PADDOCK_ARGO_REFRESH: 'hard' }`, /paddock-system\/paddock: env: PADDOCK_ARGO_REFRESH is set by the PaddockControlPlane itself$/],
  ])('GIVEN %s WHEN synthesized THEN it fails naming the construct path and the prop', async (props, message) => {
    await expect(synthSource(definition(props))).rejects.toThrow(message);
  });

  it('GIVEN a manifests repo URL carrying a token WHEN synthesized THEN it is refused rather than written into a manifest', async () => {
    const src = definition('').replace("repo: 'git@git.example.com:platform/manifests.git'", "repo: 'https://paddock:ghp_s3cr3t@git.example.com/platform/manifests.git'");
    await expect(synthSource(src)).rejects.toThrow(/paddock-system\/paddock: repo must not carry a password or token/);
  });

  it('GIVEN no enclosing Environment WHEN constructed THEN it fails naming its path', () => {
    const app = Testing.app();
    expect(() => new PaddockControlPlane(app, 'loose', { repo: 'git@h:m.git', definitionsRepo: 'https://h/d.git' })).toThrow(/^loose: a PaddockControlPlane must be inside an Environment$/);
  });
});

describe('PaddockControlPlane: how it is seen', () => {
  it('GIVEN the defaults THEN the dashboard ships as a ConfigMap Grafana\'s sidecar loads (grafana_dashboard: "1"), holding dashboards/paddock.json; and no PodMonitor', async () => {
    const result = await synthSource(definition(''));
    const cm = at(result, 'configmap-paddock-dashboard.yaml');
    expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1', 'app.kubernetes.io/name': 'paddock' });
    expect(cm.data['paddock.json']).toBe(readFileSync(path.join(ROOT, 'dashboards/paddock.json'), 'utf8'));
    expect(JSON.parse(cm.data['paddock.json']).uid).toBe('paddock');
    expect(groupFiles(result).filter((f) => f.startsWith('podmonitor-'))).toEqual([]);
  });

  it('GIVEN dashboard: false THEN no ConfigMap; GIVEN podMonitor THEN a PodMonitor (checked against the operator\'s schema) scrapes both components\' http port', async () => {
    const off = await synthSource(definition('dashboard: false'));
    expect(groupFiles(off).filter((f) => f.startsWith('configmap-'))).toEqual([]);
    const on = await synthSource(definition(`podMonitor: { interval: '15s' }`));
    const pm = at(on, 'podmonitor-paddock.yaml');
    expect(pm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(pm.spec.podMetricsEndpoints).toEqual([{ port: 'http', path: '/metrics', interval: '15s' }]);
    for (const d of ['paddock-watcher', 'paddock-sidecar']) {
      const labels = at(on, `deployment-${d}.yaml`).spec.template.metadata.labels;
      expect(labels).toMatchObject(pm.spec.selector.matchLabels);
    }
    expect(at(await synthSource(definition('podMonitor: true')), 'podmonitor-paddock.yaml').spec.podMetricsEndpoints[0].interval).toBe('30s');
    await expect(synthSource(definition(`podMonitor: { interval: 'often' }`))).rejects.toThrow(/podMonitor.interval "often" must be a duration such as 30s/);
  });

  it('GIVEN leaseUsersKey THEN the sidecar alone gets PADDOCK_LEASE_USERS from the Secret; GIVEN it in env THEN refused', async () => {
    const result = await synthSource(definition(`leaseUsersKey: 'lease-users'`));
    expect(envOf(container(podSpec(result, 'paddock-sidecar'), 'sidecar'), 'PADDOCK_LEASE_USERS')).toEqual({ name: 'PADDOCK_LEASE_USERS', valueFrom: { secretKeyRef: { name: 'paddock-secrets', key: 'lease-users' } } });
    expect(envOf(container(podSpec(result, 'paddock-watcher'), 'watcher'), 'PADDOCK_LEASE_USERS')).toBeUndefined();
    expect(envOf(container(podSpec(await synthSource(definition('')), 'paddock-sidecar'), 'sidecar'), 'PADDOCK_LEASE_USERS')).toBeUndefined();
    await expect(synthSource(definition(`env: { PADDOCK_LEASE_USERS: 'ci:pw' }`))).rejects.toThrow(/PADDOCK_LEASE_USERS is set by the PaddockControlPlane itself \(from a Secret reference\)/);
  });
});
