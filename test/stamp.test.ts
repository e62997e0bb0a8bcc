/**
 * The group stamp (CONTRACT "Labels and what every container gets"): every object of a group,
 * pod templates included, carries the group labels; every container gets GROUP_ID and a
 * GARBAGE_COLLECTOR_URL signed for its own group, whichever construct made it.
 */
import { createHmac } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { gcToken, tokenMatches, UNSIGNED_TOKEN } from '../core/gc-token.ts';
import type { SynthResult } from '../src/synth/index.ts';
import { objectAt, synthSource, TEST_SECRET } from './helpers/synth.ts';

const SIDECAR = 'http://sidecar.test:8080';
const GROUP_LABELS = { 'paddock.dev/group': 'stamped', group_id: 'stamped', 'app.kubernetes.io/managed-by': 'paddock' };

/** One group with every kind of workload, made by cdk8s-plus and by raw ApiObjects. */
const WORKLOADS = `
import { ApiObject, Cron, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Environment } from 'paddock';

const podTemplate = (name, extra = {}) => ({
  metadata: { labels: { app: name } },
  spec: {
    initContainers: [{ name: name + '-init', image: 'busybox:1.36' }],
    containers: [{ name, image: 'busybox:1.36', ...extra }],
  },
});

export default (scope) => {
  const env = new Environment(scope, 'stamped', { namespace: 'ns1', imagePullSecrets: ['regcred'] });

  // cdk8s-plus workloads
  new kplus.Deployment(env, 'web', {
    containers: [{
      name: 'web', image: 'nginx:1.27',
      envVariables: { GROUP_ID: kplus.EnvValue.fromValue('forged'), KEEP: kplus.EnvValue.fromValue('kept') },
    }],
    initContainers: [{ name: 'migrate', image: 'busybox:1.36' }],
  });
  new kplus.Job(env, 'report', {
    containers: [{
      name: 'report', image: 'busybox:1.36',
      resources: { cpu: { request: kplus.Cpu.millis(250) }, memory: { limit: Size.mebibytes(256) } },
    }],
  });
  new kplus.CronJob(env, 'nightly', { schedule: Cron.daily(), containers: [{ name: 'nightly', image: 'busybox:1.36' }] });

  // raw ApiObjects
  new ApiObject(env, 'db', {
    apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db' },
    spec: {
      serviceName: 'db', replicas: 1, selector: { matchLabels: { app: 'db' } },
      template: podTemplate('db', { env: [{ name: 'GARBAGE_COLLECTOR_URL', value: 'http://evil/gc/x' }, { name: 'PGDATA', value: '/data' }] }),
    },
  });
  new ApiObject(env, 'agent', {
    apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent' },
    spec: { selector: { matchLabels: { app: 'agent' } }, template: podTemplate('agent') },
  });
  new ApiObject(env, 'cleanup', {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'cleanup' },
    spec: {
      schedule: '0 3 * * *',
      jobTemplate: { spec: { template: { ...podTemplate('cleanup'), spec: { ...podTemplate('cleanup').spec, restartPolicy: 'Never' } } } },
    },
  });
  new ApiObject(env, 'worker', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'worker' },
    spec: {
      selector: { matchLabels: { app: 'worker' } },
      template: {
        metadata: { labels: { app: 'worker' } },
        spec: {
          imagePullSecrets: [{ name: 'own' }, { name: 'regcred' }],
          containers: [{
            name: 'worker', image: 'busybox:1.36', imagePullPolicy: 'Always',
            securityContext: { readOnlyRootFilesystem: true, runAsNonRoot: true },
            resources: { limits: { cpu: '1500m', memory: '2048Mi' }, requests: { cpu: '1000m', memory: '512Mi' } },
          }],
        },
      },
    },
  });
  new ApiObject(env, 'batch', {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'batch' },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'batch', image: 'busybox:1.36' }] } } },
  });
};`;

const F = {
  plusDeployment: 'groups/stamped/deployment-stamped-web.yaml',
  plusJob: 'groups/stamped/job-stamped-report.yaml',
  plusCronJob: 'groups/stamped/cronjob-stamped-nightly.yaml',
  rawStatefulSet: 'groups/stamped/statefulset-db.yaml',
  rawDaemonSet: 'groups/stamped/daemonset-agent.yaml',
  rawCronJob: 'groups/stamped/cronjob-cleanup.yaml',
  rawDeployment: 'groups/stamped/deployment-worker.yaml',
  rawJob: 'groups/stamped/job-batch.yaml',
};

const podTemplateOf = (obj: any) => (obj.kind === 'CronJob' ? obj.spec.jobTemplate.spec.template : obj.spec.template);
const envOf = (container: any) => Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));

function expectedToken(group: string): string {
  return createHmac('sha256', TEST_SECRET).update(`paddock-gc:${group}`).digest('base64url');
}

describe('the group stamp', () => {
  let result: SynthResult;
  beforeAll(async () => {
    result = await synthSource(WORKLOADS);
  });

  it('GIVEN workloads made by cdk8s-plus and raw ApiObjects WHEN synthesized THEN each is written under its own readable name, without a hash suffix', () => {
    expect([...result.files.keys()].filter((p) => p.startsWith('groups/')).sort()).toEqual(Object.values(F).sort());
    expect(objectAt(result, F.plusDeployment).metadata.name).toBe('stamped-web');
    expect(objectAt(result, F.plusCronJob).metadata.name).toBe('stamped-nightly');
    expect(objectAt(result, F.rawStatefulSet).metadata.name).toBe('db');
  });

  it.each(Object.entries(F))('GIVEN a %s WHEN synthesized THEN its metadata and its pod template carry the three group labels', (_what, file) => {
    const obj = objectAt(result, file);
    expect(obj.metadata.labels).toMatchObject(GROUP_LABELS);
    expect(podTemplateOf(obj).metadata.labels).toMatchObject(GROUP_LABELS);
  });

  it.each([['cdk8s-plus', F.plusCronJob], ['raw', F.rawCronJob]])('GIVEN a %s CronJob WHEN synthesized THEN its jobTemplate metadata carries the group labels too, so the Jobs it creates are in the group', (_how, file) => {
    const cron = objectAt(result, file);
    expect(cron.spec.jobTemplate.metadata.labels).toEqual(GROUP_LABELS);
  });

  it('GIVEN a raw pod template with labels of its own WHEN synthesized THEN those labels are kept beside the group labels', () => {
    expect(objectAt(result, F.rawDaemonSet).spec.template.metadata.labels).toEqual({ app: 'agent', ...GROUP_LABELS });
  });

  it.each(Object.entries(F))('GIVEN a %s WHEN synthesized THEN every container and init container starts with GROUP_ID and this group\'s GARBAGE_COLLECTOR_URL, once each', (_what, file) => {
    const spec = podTemplateOf(objectAt(result, file)).spec;
    const containers = [...(spec.initContainers ?? []), ...spec.containers];
    expect(containers.length).toBeGreaterThan(0);
    for (const c of containers) {
      expect(c.env.slice(0, 2), `${file} ${c.name}`).toEqual([
        { name: 'GROUP_ID', value: 'stamped' },
        { name: 'GARBAGE_COLLECTOR_URL', value: `${SIDECAR}/gc/${expectedToken('stamped')}` },
      ]);
      expect(c.env.filter((e: any) => e.name === 'GROUP_ID' || e.name === 'GARBAGE_COLLECTOR_URL')).toHaveLength(2);
    }
  });

  it('GIVEN init containers on a cdk8s-plus and a raw workload WHEN synthesized THEN they are stamped as well', () => {
    expect(envOf(objectAt(result, F.plusDeployment).spec.template.spec.initContainers[0])).toEqual({
      GROUP_ID: 'stamped', GARBAGE_COLLECTOR_URL: `${SIDECAR}/gc/${expectedToken('stamped')}`,
    });
    expect(objectAt(result, F.rawStatefulSet).spec.template.spec.initContainers[0].env.map((e: any) => e.name)).toEqual(['GROUP_ID', 'GARBAGE_COLLECTOR_URL']);
  });

  it('GIVEN a user variable named GROUP_ID or GARBAGE_COLLECTOR_URL WHEN synthesized THEN paddock\'s value replaces it and the user\'s other variables stay', () => {
    expect(objectAt(result, F.plusDeployment).spec.template.spec.containers[0].env).toEqual([
      { name: 'GROUP_ID', value: 'stamped' },
      { name: 'GARBAGE_COLLECTOR_URL', value: `${SIDECAR}/gc/${expectedToken('stamped')}` },
      { name: 'KEEP', value: 'kept' },
    ]);
    expect(objectAt(result, F.rawStatefulSet).spec.template.spec.containers[0].env).toEqual([
      { name: 'GROUP_ID', value: 'stamped' },
      { name: 'GARBAGE_COLLECTOR_URL', value: `${SIDECAR}/gc/${expectedToken('stamped')}` },
      { name: 'PGDATA', value: '/data' },
    ]);
  });

  it('GIVEN an Environment with imagePullSecrets WHEN synthesized THEN every pod gets them, added once beside its own', () => {
    expect(objectAt(result, F.plusDeployment).spec.template.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(objectAt(result, F.rawCronJob).spec.jobTemplate.spec.template.spec.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(objectAt(result, F.rawDeployment).spec.template.spec.imagePullSecrets).toEqual([{ name: 'own' }, { name: 'regcred' }]);
  });

  it('GIVEN a cdk8s-plus Deployment without settings WHEN synthesized THEN none of cdk8s-plus\'s restrictive defaults are written', () => {
    const spec = objectAt(result, F.plusDeployment).spec.template.spec;
    const c = spec.containers[0];
    expect(c.securityContext?.readOnlyRootFilesystem).toBeUndefined();
    expect(c.securityContext?.runAsNonRoot).toBeUndefined();
    expect(c.securityContext?.privileged).toBeUndefined();
    expect(c.resources).toBeUndefined();
    expect(c.imagePullPolicy).toBeUndefined();
    expect(spec.securityContext?.runAsNonRoot).toBeUndefined();
    expect(spec.automountServiceAccountToken).toBeUndefined();
    expect(spec.initContainers[0].resources).toBeUndefined();
    expect(spec.initContainers[0].securityContext?.readOnlyRootFilesystem).toBeUndefined();
  });

  it('GIVEN resources set by the user on a cdk8s-plus container WHEN synthesized THEN exactly those are written', () => {
    expect(objectAt(result, F.plusJob).spec.template.spec.containers[0].resources).toEqual({
      requests: { cpu: '250m' },
      limits: { memory: '256Mi' },
    });
  });

  it('GIVEN a raw ApiObject that sets the same values cdk8s-plus uses as defaults WHEN synthesized THEN they are never touched', () => {
    const c = objectAt(result, F.rawDeployment).spec.template.spec.containers[0];
    expect(c.imagePullPolicy).toBe('Always');
    expect(c.securityContext).toEqual({ readOnlyRootFilesystem: true, runAsNonRoot: true });
    expect(c.resources).toEqual({ limits: { cpu: '1500m', memory: '2048Mi' }, requests: { cpu: '1000m', memory: '512Mi' } });
  });
});

describe('cdk8s-plus defaults with hardened: true', () => {
  it('GIVEN an Environment with hardened: true WHEN a cdk8s-plus Deployment is synthesized THEN cdk8s-plus\'s defaults are kept', async () => {
    const result = await synthSource(`
      import * as kplus from 'cdk8s-plus-28';
      import { Environment } from 'paddock';
      export default (scope) => {
        const env = new Environment(scope, 'hard', { namespace: 'ns1', hardened: true });
        new kplus.Deployment(env, 'web', { containers: [{ name: 'web', image: 'nginx:1.27' }] });
      };`);
    const spec = objectAt(result, 'groups/hard/deployment-hard-web.yaml').spec.template.spec;
    const c = spec.containers[0];
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true });
    expect(c.imagePullPolicy).toBe('Always');
    expect(c.resources).toEqual({ limits: { cpu: '1500m', memory: '2048Mi' }, requests: { cpu: '1000m', memory: '512Mi' } });
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(c.env.map((e: any) => e.name)).toEqual(['GROUP_ID', 'GARBAGE_COLLECTOR_URL']);
  });
});

describe('GC tokens', () => {
  const TWO_GROUPS = `
    import { ApiObject } from 'cdk8s';
    import { Environment } from 'paddock';
    const job = (env) => new ApiObject(env, 'job', {
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'job' },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'busybox:1.36' }] } } },
    });
    export default (scope) => {
      job(new Environment(scope, 'alpha', { namespace: 'alpha' }));
      job(new Environment(scope, 'beta', { namespace: 'beta' }));
    };`;
  const urlIn = (result: SynthResult, group: string) =>
    envOf(objectAt(result, `groups/${group}/job-job.yaml`).spec.template.spec.containers[0]).GARBAGE_COLLECTOR_URL as string;

  it('GIVEN two groups WHEN synthesized THEN each URL is <sidecar>/gc/<base64url HMAC-SHA256 of "paddock-gc:<group>">, different per group', async () => {
    const result = await synthSource(TWO_GROUPS);
    const alpha = urlIn(result, 'alpha');
    const beta = urlIn(result, 'beta');
    expect(alpha).toBe(`${SIDECAR}/gc/${expectedToken('alpha')}`);
    expect(beta).toBe(`${SIDECAR}/gc/${expectedToken('beta')}`);
    expect(alpha).not.toBe(beta);
  });

  it('GIVEN the token in a synthesized URL WHEN checked by the sidecar\'s functions THEN it is gcToken\'s and matches only its own group', async () => {
    const result = await synthSource(TWO_GROUPS);
    const token = urlIn(result, 'alpha').split('/gc/')[1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(token).toBe(gcToken(TEST_SECRET, 'alpha'));
    expect(tokenMatches(TEST_SECRET, 'alpha', token)).toBe(true);
    expect(tokenMatches(TEST_SECRET, 'beta', token)).toBe(false);
    expect(tokenMatches('another-secret', 'alpha', token)).toBe(false);
  });

  it('GIVEN a sidecar URL with a trailing slash WHEN synthesized THEN the GC URL has a single slash before gc/', async () => {
    const result = await synthSource(TWO_GROUPS, { sidecarUrl: 'http://sidecar.test:8080/' });
    expect(urlIn(result, 'alpha')).toBe(`${SIDECAR}/gc/${expectedToken('alpha')}`);
  });

  it('GIVEN no GC secret WHEN synthesized THEN the URL carries the unsigned token, which the sidecar never accepts', async () => {
    const result = await synthSource(TWO_GROUPS, { gcSecret: undefined });
    expect(urlIn(result, 'alpha')).toBe(`${SIDECAR}/gc/${UNSIGNED_TOKEN}`);
    expect(tokenMatches(TEST_SECRET, 'alpha', UNSIGNED_TOKEN)).toBe(false);
  });
});
