/**
 * Workspace (CONTRACT "The construct library", "Records in state/"): one group `ws-<name>` per
 * workspace record, with a Deployment of one sshd pod sized by the record, a NodePort Service on
 * the allocated port, a PVC of the requested size and the user's public key.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkspaceRecord } from '../core/records.ts';
import { Workspace } from '../constructs/workspace.ts';
import type { SynthResult } from '../src/synth/index.ts';
import { definitionsDir, objectAt, stateWith, synthDir, synthSource } from './helpers/synth.ts';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ada@example.com';

function record(name: string, extra: Partial<WorkspaceRecord> = {}): WorkspaceRecord {
  return { name, email: `${name}@example.com`, ram: 4, cpu: 2, storage: '20Gi', publicKey: KEY, port: 30022, createdAt: '2026-01-01T00:00:00.000Z', ...extra };
}

const workspaces = (...records: WorkspaceRecord[]) => stateWith({ workspaces: new Map(records.map((r) => [r.name, r])) });

describe('a workspace from its record', () => {
  let result: SynthResult;
  beforeAll(async () => {
    // No definition mentions workspaces: the records render on their own.
    result = await synthDir(definitionsDir({}), { state: workspaces(record('ada')) });
  });

  it('GIVEN ram 4 and cpu 2 WHEN synthesized THEN the sshd container requests and is limited to 4Gi and 2 cores', () => {
    const c = objectAt(result, 'groups/ws-ada/deployment-ada.yaml').spec.template.spec.containers[0];
    expect(c.resources).toEqual({ requests: { memory: '4Gi', cpu: '2' }, limits: { memory: '4Gi', cpu: '2' } });
  });

  it('GIVEN storage 20Gi WHEN synthesized THEN the home PVC requests 20Gi and the pod mounts it', () => {
    const pvc = objectAt(result, 'groups/ws-ada/persistentvolumeclaim-ada-home.yaml');
    expect(pvc.spec.resources.requests.storage).toBe('20Gi');
    expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
    const volumes = objectAt(result, 'groups/ws-ada/deployment-ada.yaml').spec.template.spec.volumes;
    expect(volumes).toContainEqual({ name: 'home', persistentVolumeClaim: { claimName: 'ada-home' } });
  });

  it('GIVEN port 30022 WHEN synthesized THEN a NodePort Service exposes sshd (2222) on node port 30022', () => {
    const svc = objectAt(result, 'groups/ws-ada/service-ada.yaml');
    expect(svc.spec.type).toBe('NodePort');
    expect(svc.spec.ports).toEqual([{ name: 'ssh', port: 22, targetPort: 2222, nodePort: 30022, protocol: 'TCP' }]);
    const pod = objectAt(result, 'groups/ws-ada/deployment-ada.yaml').spec.template.metadata.labels;
    expect(Object.entries(svc.spec.selector).every(([k, v]) => pod[k] === v)).toBe(true);
  });

  it('GIVEN a workspace WHEN synthesized THEN its Deployment runs one pod, replaced with Recreate because the home volume is ReadWriteOnce', () => {
    const d = objectAt(result, 'groups/ws-ada/deployment-ada.yaml');
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy).toEqual({ type: 'Recreate' });
    expect(d.metadata.namespace).toBe('workspaces');
  });

  it('GIVEN a public key WHEN synthesized THEN the ConfigMap\'s authorized_keys holds exactly that key, mounted where sshd reads it', () => {
    expect(objectAt(result, 'groups/ws-ada/configmap-ada-ssh.yaml').data).toEqual({ authorized_keys: `${KEY}\n` });
    const c = objectAt(result, 'groups/ws-ada/deployment-ada.yaml').spec.template.spec.containers[0];
    const keysMount = c.volumeMounts.find((m: any) => m.name === 'keys');
    const keyFile = c.env.find((e: any) => e.name === 'PUBLIC_KEY_FILE').value;
    expect(keyFile).toBe(`${keysMount.mountPath}/authorized_keys`);
  });

  it('GIVEN a workspace WHEN synthesized THEN its group is ws-<name> with the Application and the stamp like any other', () => {
    expect(result.groups.map((g) => [g.name, g.owner])).toEqual([['ws-ada', 'ada@example.com']]);
    expect(objectAt(result, 'apps/ws-ada.yaml').spec.source.path).toBe('groups/ws-ada');
    const c = objectAt(result, 'groups/ws-ada/deployment-ada.yaml').spec.template.spec.containers[0];
    expect(c.env[0]).toEqual({ name: 'GROUP_ID', value: 'ws-ada' });
  });
});

describe('Workspace.fromRecords', () => {
  it('GIVEN three workspace records and a definition calling Workspace.fromRecords WHEN synthesized THEN one group ws-<name> per record, styled by the definition', async () => {
    const state = workspaces(record('cy', { port: 30024 }), record('ada'), record('bo', { port: 30023, ram: 0.5, cpu: 0.25, storage: '5Gi' }));
    const result = await synthSource(`
      import { Workspace } from 'paddock';
      export default (scope) => { Workspace.fromRecords(scope, { namespace: 'dev', image: 'registry.test/sshd:1' }); };`, { state });
    expect(result.groups.map((g) => g.name)).toEqual(['ws-ada', 'ws-bo', 'ws-cy']);
    const bo = objectAt(result, 'groups/ws-bo/deployment-bo.yaml');
    expect(bo.metadata.namespace).toBe('dev');
    expect(bo.spec.template.spec.containers[0].image).toBe('registry.test/sshd:1');
    expect(bo.spec.template.spec.containers[0].resources.limits).toEqual({ memory: '0.5Gi', cpu: '0.25' });
    expect(objectAt(result, 'groups/ws-cy/service-cy.yaml').spec.ports[0].nodePort).toBe(30024);
    expect(objectAt(result, 'apps/ws-bo.yaml').spec.destination.namespace).toBe('dev');
  });

  it('GIVEN no workspace records WHEN synthesized THEN no workspace group exists', async () => {
    const result = await synthDir(definitionsDir({}));
    expect(result.groups).toEqual([]);
    expect([...result.files.keys()]).toEqual(['README.md', 'apps/paddock-apps.appproject.yaml', 'apps/paddock-root.yaml', 'apps/paddock.appproject.yaml']);
  });
});

describe('Workspace.nameFromEmail', () => {
  it.each([
    ['ada@example.com', 'ada'],
    ['Ada.Lovelace@Example.com', 'ada-lovelace'],
    ['john_doe+dev@example.com', 'john-doe-dev'],
    ['--x--@example.com', 'x'],
    ['Ünïcödé@example.com', 'n-c-d'],
    ['@example.com', 'user'],
  ])('GIVEN %s WHEN named THEN the workspace is %s', (email, name) => {
    expect(Workspace.nameFromEmail(email)).toBe(name);
  });

  it('GIVEN a very long email WHEN named THEN the name is short enough for ws-<name> to be a DNS label, and does not end with a dash', () => {
    const name = Workspace.nameFromEmail(`${'a'.repeat(59)}.b${'c'.repeat(40)}@example.com`);
    expect(name).toBe('a'.repeat(59));
    expect(Workspace.groupOf(name).length).toBeLessThanOrEqual(63);
    expect(Workspace.groupOf(name)).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  });
});
