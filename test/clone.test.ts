/**
 * Clone (CONTRACT "The construct library"): a copy of a Deployment with a name suffix,
 * replicas = ceil(source x factor), other images, extra env, pods of its own, stamped for its
 * own group; sources in the same synthesis, in another definition file, or live in the cluster.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { gcUrl } from '../core/gc-token.ts';
import { DefinitionError } from '../src/errors.ts';
import { loadDefinitions } from '../src/synth/loader.ts';
import { SynthCache, synthesize, type SynthResult } from '../src/synth/synthesize.ts';
import { followingSeedRules, SEED_004_RULES } from './helpers/seeds.ts';
import { definitionsDir, inputs, liveSources, objectAt, stateWith, synthDir, synthSource, TEST_SECRET } from './helpers/synth.ts';

const SIDECAR = inputs().sidecarUrl;

/** Helpers pasted into definition sources: a raw Deployment (and its Service) named `name`. */
const HELPERS = `
import { ApiObject } from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import { Clone, Environment } from 'paddock';
const deployment = (env, name, replicas, containers = [{ name: 'main', image: 'registry.test/' + name + ':1' }], initContainers) =>
  new ApiObject(env, name, {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name, tier: 'backend' } }, spec: { containers, ...(initContainers ? { initContainers } : {}) } },
    },
  });
const service = (env, name) => new ApiObject(env, name + '-svc', {
  apiVersion: 'v1', kind: 'Service', metadata: { name },
  spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
});
`;

const podLabels = (d: any) => d.spec.template.metadata.labels as Record<string, string>;
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const envList = (c: any) => c.env.map((e: any) => [e.name, e.value]);

describe('clone replicas', () => {
  let result: SynthResult;
  beforeAll(async () => {
    result = await synthSource(`${HELPERS}
      export default (scope) => {
        const src = new Environment(scope, 'sources', { namespace: 'shop' });
        const s4 = deployment(src, 'four', 4);
        const s3 = deployment(src, 'three', 3);
        const s1 = deployment(src, 'one', 1);
        const s0 = deployment(src, 'zero', 0);
        const s10 = deployment(src, 'ten', 10);
        const s100 = deployment(src, 'hundred', 100);
        const clones = new Environment(scope, 'clones', { namespace: 'shop' });
        new Clone(clones, 'four-half', { source: s4, nameSuffix: '-half', scaleFactor: 0.5 });
        new Clone(clones, 'four-same', { source: s4, nameSuffix: '-same', scaleFactor: 1 });
        new Clone(clones, 'four-big', { source: s4, nameSuffix: '-big', scaleFactor: 2.5 });
        new Clone(clones, 'three-half', { source: s3, nameSuffix: '-half', scaleFactor: 0.5 });
        new Clone(clones, 'one-tenth', { source: s1, nameSuffix: '-tenth', scaleFactor: 0.1 });
        new Clone(clones, 'zero-double', { source: s0, nameSuffix: '-double', scaleFactor: 2 });
        new Clone(clones, 'ten-seven', { source: s10, nameSuffix: '-seven', scaleFactor: 0.7 });
        new Clone(clones, 'hundred-more', { source: s100, nameSuffix: '-more', scaleFactor: 1.1 });
        new Clone(clones, 'four-none', { source: s4, nameSuffix: '-none', scaleFactor: 0 });
      };`);
  });

  it.each([
    ['four-half', 4, 0.5, 2],
    ['four-same', 4, 1, 4],
    ['four-big', 4, 2.5, 10],
    ['three-half', 3, 0.5, 2],
    ['one-tenth', 1, 0.1, 1],
    ['zero-double', 0, 2, 0],
    ['ten-seven', 10, 0.7, 7],
    // 100 x 1.1 is 110.00000000000001 in floating point: still 110, not 111.
    ['hundred-more', 100, 1.1, 110],
    // At least 1 when the source has any.
    ['four-none', 4, 0, 1],
  ])('GIVEN a clone %s of a source with %i replicas and factor %d WHEN synthesized THEN it has %i replicas', (name, _src, _factor, want) => {
    expect(objectAt(result, `groups/clones/deployment-${name}.yaml`).spec.replicas).toBe(want);
  });

  it('GIVEN clones of a source WHEN synthesized THEN the source itself keeps its replicas', () => {
    expect(objectAt(result, 'groups/sources/deployment-four.yaml').spec.replicas).toBe(4);
  });
});

describe('clone pods are their own', () => {
  let result: SynthResult;
  beforeAll(async () => {
    result = await synthSource(`${HELPERS}
      export default (scope) => {
        const shop = new Environment(scope, 'shop', { namespace: 'shop' });
        const web = deployment(shop, 'web', 2);
        service(shop, 'web');
        const api = new kplus.Deployment(shop, 'api', { metadata: { name: 'api' }, containers: [{ name: 'api', image: 'registry.test/api:1', portNumber: 8080 }] });
        api.exposeViaService({ name: 'api', ports: [{ port: 80, targetPort: 8080 }] });
        const canary = new Environment(scope, 'canary', { namespace: 'shop' });
        new Clone(canary, 'web', { source: web, nameSuffix: '-canary' });
        new Clone(canary, 'api', { source: api, nameSuffix: '-canary' });
      };`);
  });

  it.each([
    ['a raw Deployment', 'deployment-web', 'service-web', 'deployment-web-canary'],
    ['a cdk8s-plus Deployment', 'deployment-api', 'service-api', 'deployment-api-canary'],
  ])('GIVEN a clone of %s and the source\'s Service WHEN synthesized THEN the Service selects the source pods but not the clone pods', (_what, source, svc, clone) => {
    const selector = objectAt(result, `groups/shop/${svc}.yaml`).spec.selector;
    expect(selects(selector, podLabels(objectAt(result, `groups/shop/${source}.yaml`)))).toBe(true);
    expect(selects(selector, podLabels(objectAt(result, `groups/canary/${clone}.yaml`)))).toBe(false);
  });

  it.each([['web'], ['api']])('GIVEN the clone of %s WHEN synthesized THEN its selector matches its own pods and not the source\'s', (name) => {
    const clone = objectAt(result, `groups/canary/deployment-${name}-canary.yaml`);
    const source = objectAt(result, `groups/shop/deployment-${name}.yaml`);
    expect(selects(clone.spec.selector.matchLabels, podLabels(clone))).toBe(true);
    expect(selects(clone.spec.selector.matchLabels, podLabels(source))).toBe(false);
    expect(clone.spec.selector.matchLabels['paddock.dev/clone']).toBe(`${name}-canary`);
  });

  it('GIVEN a raw source with pod labels app: web, tier: backend WHEN cloned with -canary THEN the clone\'s pod labels carry the suffix and the clone group', () => {
    expect(podLabels(objectAt(result, 'groups/canary/deployment-web-canary.yaml'))).toEqual({
      app: 'web-canary', tier: 'backend-canary', 'paddock.dev/clone': 'web-canary',
      'paddock.dev/group': 'canary', group_id: 'canary', 'app.kubernetes.io/managed-by': 'paddock',
    });
  });

  it('GIVEN a clone in another group than its source WHEN synthesized THEN its labels, GROUP_ID and GARBAGE_COLLECTOR_URL are the clone group\'s', () => {
    const clone = objectAt(result, 'groups/canary/deployment-web-canary.yaml');
    expect(clone.metadata.labels).toMatchObject({ 'paddock.dev/group': 'canary', group_id: 'canary' });
    expect(clone.metadata.namespace).toBe('shop');
    expect(clone.metadata.annotations['paddock.dev/clone-of']).toBe('shop/web');
    const env = clone.spec.template.spec.containers[0].env;
    expect(env).toEqual([
      { name: 'GROUP_ID', value: 'canary' },
      { name: 'GARBAGE_COLLECTOR_URL', value: gcUrl(SIDECAR, TEST_SECRET, 'canary') },
    ]);
    expect(gcUrl(SIDECAR, TEST_SECRET, 'canary')).not.toBe(gcUrl(SIDECAR, TEST_SECRET, 'shop'));
  });
});

describe('clone images and env', () => {
  let result: SynthResult;
  beforeAll(async () => {
    result = await synthSource(`${HELPERS}
      export default (scope) => {
        const shop = new Environment(scope, 'shop', { namespace: 'shop' });
        const containers = [
          { name: 'main', image: 'registry.test/main:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] },
          { name: 'proxy', image: 'registry.test/proxy:1' },
        ];
        const web = deployment(shop, 'web', 2, containers, [{ name: 'init', image: 'registry.test/init:1' }]);
        const canary = new Environment(scope, 'canary', { namespace: 'shop' });
        new Clone(canary, 'all', { source: web, nameSuffix: '-all', image: 'registry.test/rc:2' });
        new Clone(canary, 'some', { source: web, nameSuffix: '-some', image: { main: 'registry.test/main:2', init: 'registry.test/init:2' } });
        new Clone(canary, 'env', { source: web, nameSuffix: '-env', env: { B: 'override', C: '3' } });
      };`);
  });

  it('GIVEN one image for the clone WHEN synthesized THEN every container and init container runs it', () => {
    const spec = objectAt(result, 'groups/canary/deployment-web-all.yaml').spec.template.spec;
    expect(spec.containers.map((c: any) => c.image)).toEqual(['registry.test/rc:2', 'registry.test/rc:2']);
    expect(spec.initContainers.map((c: any) => c.image)).toEqual(['registry.test/rc:2']);
  });

  it('GIVEN images by container name WHEN synthesized THEN only the named containers change', () => {
    const spec = objectAt(result, 'groups/canary/deployment-web-some.yaml').spec.template.spec;
    expect(spec.containers.map((c: any) => [c.name, c.image])).toEqual([['main', 'registry.test/main:2'], ['proxy', 'registry.test/proxy:1']]);
    expect(spec.initContainers[0].image).toBe('registry.test/init:2');
  });

  it('GIVEN env for the clone WHEN synthesized THEN variables are overridden by name, added, and the source\'s others kept', () => {
    const [main, proxy] = objectAt(result, 'groups/canary/deployment-web-env.yaml').spec.template.spec.containers;
    expect(envList(main)).toEqual([
      ['GROUP_ID', 'canary'], ['GARBAGE_COLLECTOR_URL', gcUrl(SIDECAR, TEST_SECRET, 'canary')],
      ['A', '1'], ['B', 'override'], ['C', '3'],
    ]);
    expect(envList(proxy).slice(2)).toEqual([['B', 'override'], ['C', '3']]);
  });

  it('GIVEN clones WHEN synthesized THEN the source is unchanged', () => {
    const main = objectAt(result, 'groups/shop/deployment-web.yaml').spec.template.spec.containers[0];
    expect(main.image).toBe('registry.test/main:1');
    expect(envList(main).slice(2)).toEqual([['A', '1'], ['B', '2']]);
  });

  it('GIVEN a variable removed from the source WHEN synthesized again THEN it disappears from the clone', async () => {
    const source = (env: string) => `${HELPERS}
      export default (scope) => {
        const shop = new Environment(scope, 'shop', { namespace: 'shop' });
        const web = deployment(shop, 'web', 2, [{ name: 'main', image: 'registry.test/main:1', env: ${env} }]);
        new Clone(new Environment(scope, 'canary', { namespace: 'shop' }), 'web', { source: web, nameSuffix: '-canary', env: { C: '3' } });
      };`;
    const dir = definitionsDir({ 'env.ts': source(`[{ name: 'A', value: '1' }, { name: 'B', value: '2' }]`) });
    const names = (r: SynthResult) => objectAt(r, 'groups/canary/deployment-web-canary.yaml').spec.template.spec.containers[0].env.map((e: any) => e.name);
    expect(names(await synthDir(dir))).toEqual(['GROUP_ID', 'GARBAGE_COLLECTOR_URL', 'A', 'B', 'C']);
    writeFileSync(path.join(dir, 'env.ts'), source(`[{ name: 'A', value: '1' }]`));
    expect(names(await synthDir(dir))).toEqual(['GROUP_ID', 'GARBAGE_COLLECTOR_URL', 'A', 'C']);
  });
});

describe('clones by reference', () => {
  const CANARY_BY_REF = `${HELPERS}
    export default (scope) => {
      const canary = new Environment(scope, 'canary', { namespace: 'shop' });
      new Clone(canary, 'api', { source: { namespace: 'shop', name: 'api' }, nameSuffix: '-canary', scaleFactor: 0.5, image: 'registry.test/api:rc' });
    };`;

  it('GIVEN a clone by {namespace, name} and the Deployment in another definition file WHEN synthesized THEN the clone renders from it', async () => {
    // The clone's file sorts first, so the source is found whatever the order files are built in.
    const result = await synthDir(definitionsDir({
      'a-canary.ts': CANARY_BY_REF,
      'z-shop.ts': `${HELPERS}\nexport default (scope) => { deployment(new Environment(scope, 'shop', { namespace: 'shop' }), 'api', 4); };`,
    }));
    const clone = objectAt(result, 'groups/canary/deployment-api-canary.yaml');
    expect(clone.spec.replicas).toBe(2);
    expect(clone.metadata.namespace).toBe('shop');
    expect(clone.spec.template.spec.containers[0].image).toBe('registry.test/api:rc');
    expect(clone.spec.template.spec.containers[0].env[0]).toEqual({ name: 'GROUP_ID', value: 'canary' });
    expect(result.waiting).toEqual([]);
  });

  it('GIVEN a clone by reference of a Deployment in another file WHEN that file changes the Deployment and the set is synthesized again with the same cache THEN the clone follows (its own file did not change)', async () => {
    const dir = definitionsDir({
      'a-canary.ts': CANARY_BY_REF,
      'z-shop.ts': `${HELPERS}\nexport default (scope) => { deployment(new Environment(scope, 'shop', { namespace: 'shop' }), 'api', 4); };`,
    });
    const cache = new SynthCache();
    const first = await loadDefinitions(dir);
    expect(objectAt(await synthesize(first.definitions, inputs(), cache), 'groups/canary/deployment-api-canary.yaml').spec.replicas).toBe(2);
    writeFileSync(path.join(dir, 'z-shop.ts'), `${HELPERS}\nexport default (scope) => { deployment(new Environment(scope, 'shop', { namespace: 'shop' }), 'api', 8); };`);
    const shop = await loadDefinitions(dir, ['z-shop.ts']);
    const canary = first.definitions.find((d) => d.file.endsWith('a-canary.ts'))!;
    const again = await synthesize([canary, ...shop.definitions], inputs(), cache);
    expect(cache.lastBuilt).toBe(1);
    expect(objectAt(again, 'groups/canary/deployment-api-canary.yaml').spec.replicas).toBe(4);
  });

  it('GIVEN a clone by reference with no such Deployment anywhere WHEN synthesized THEN it is listed as waiting and nothing is written for it', async () => {
    const dir = definitionsDir({ 'canary.ts': CANARY_BY_REF });
    const result = await synthDir(dir);
    expect(result.waiting).toEqual([{ group: 'canary', file: path.join(dir, 'canary.ts'), clone: 'shop/api-canary', source: 'shop/api' }]);
    expect([...result.files.keys()].filter((p) => p.includes('canary'))).toEqual([]);
  });

  it('GIVEN a clone by reference and the Deployment live in the cluster WHEN synthesized THEN it renders from the live object without its server fields, finalizers or Argo CD directives', async () => {
    const live = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'api', namespace: 'shop', uid: '2f6c1a0e-0000-4000-8000-000000000001', resourceVersion: '123456', generation: 7,
        creationTimestamp: '2026-01-01T00:00:00Z',
        managedFields: [{ manager: 'argocd-controller', operation: 'Apply' }],
        finalizers: ['example.com/keep-me'],
        labels: { app: 'api', 'app.kubernetes.io/instance': 'shop', 'argocd.argoproj.io/instance': 'shop' },
        annotations: {
          'argocd.argoproj.io/tracking-id': 'shop:apps/Deployment:shop/api',
          'argocd.argoproj.io/sync-options': 'Delete=false,Prune=false',
          'argocd.argoproj.io/hook': 'PostDelete',
          'deployment.kubernetes.io/revision': '3',
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
          team: 'payments',
        },
      },
      spec: {
        replicas: 6,
        selector: { matchLabels: { app: 'api' } },
        template: {
          metadata: { labels: { app: 'api', 'app.kubernetes.io/instance': 'shop' }, creationTimestamp: null },
          spec: { containers: [{ name: 'api', image: 'registry.test/api:live' }] },
        },
      },
      status: { replicas: 6, readyReplicas: 6, observedGeneration: 7 },
    };
    const result = await synthSource(CANARY_BY_REF, liveSources(new Map([['shop/api', live]])));
    const clone = objectAt(result, 'groups/canary/deployment-api-canary.yaml');
    expect(result.waiting).toEqual([]);
    expect(clone.status).toBeUndefined();
    expect(Object.keys(clone.metadata).sort()).toEqual(['annotations', 'labels', 'name', 'namespace']);
    expect(clone.metadata.labels).toEqual({ app: 'api', 'paddock.dev/group': 'canary', group_id: 'canary', 'app.kubernetes.io/managed-by': 'paddock' });
    expect(clone.metadata.annotations).toEqual({ team: 'payments', 'paddock.dev/clone-of': 'shop/api' });
    expect(clone.spec.replicas).toBe(3);
    expect(podLabels(clone)['app.kubernetes.io/instance']).toBeUndefined();
    expect(clone.spec.template.metadata.creationTimestamp).toBeUndefined();
    expect(clone.spec.template.spec.containers[0].image).toBe('registry.test/api:rc');
  });
});

describe('Clone.fromConfigMap: paddock\'s list of rules', () => {
  const withRules = (rulesYaml: string) => `${HELPERS}
    export default (scope) => {
      const shop = new Environment(scope, 'shop', { namespace: 'shop' });
      deployment(shop, 'api', 4, [{ name: 'api', image: 'registry.test/api:1', env: [{ name: 'MODE', value: 'prod' }] }]);
      const profiling = new Environment(scope, 'profiling', { namespace: 'shop' });
      const rules = new ApiObject(profiling, 'profiler-rc-config', {
        apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'profiler-rc-config' },
        data: { 'rules.yaml': ${JSON.stringify(rulesYaml)} },
      });
      Clone.fromConfigMap(profiling, rules);
    };`;

  it('GIVEN a rules.yaml list with name_suffix, scale_factor, image and an extra_env map WHEN synthesized THEN the clone follows the rule', async () => {
    const result = await synthSource(withRules("- namespace: shop\n  name: api\n  name_suffix: -profiler\n  scale_factor: 0.5\n  image: x:prof\n  extra_env:\n    PROFILER: 'on'"));
    const clone = objectAt(result, 'groups/profiling/deployment-api-profiler.yaml');
    expect(clone.metadata.namespace).toBe('shop');
    expect(clone.spec.replicas).toBe(2);
    expect(clone.spec.template.spec.containers[0].image).toBe('x:prof');
    expect(envList(clone.spec.template.spec.containers[0])).toEqual([
      ['GROUP_ID', 'profiling'], ['GARBAGE_COLLECTOR_URL', gcUrl(SIDECAR, TEST_SECRET, 'profiling')],
      ['MODE', 'prod'], ['PROFILER', 'on'],
    ]);
    expect(objectAt(result, 'groups/profiling/configmap-profiler-rc-config.yaml').kind).toBe('ConfigMap');
  });

  it('GIVEN the {rules: [...]} form with extra_env as a list of {name, value} WHEN synthesized THEN the clone follows the rule', async () => {
    const result = await synthSource(withRules("rules:\n  - namespace: shop\n    name: api\n    name_suffix: -debug\n    scale_factor: 0.25\n    extra_env:\n      - name: DEBUG\n        value: '1'\n      - name: MODE\n        value: debug"));
    const clone = objectAt(result, 'groups/profiling/deployment-api-debug.yaml');
    expect(clone.spec.replicas).toBe(1);
    expect(clone.spec.template.spec.containers[0].image).toBe('registry.test/api:1');
    expect(envList(clone.spec.template.spec.containers[0]).slice(2)).toEqual([['DEBUG', '1'], ['MODE', 'debug']]);
  });

  it('GIVEN a rule that does not name its source WHEN synthesized THEN a DefinitionError names the ConfigMap and the data key', async () => {
    const err = await synthSource(withRules('- name_suffix: -profiler\n  scale_factor: 0.5')).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(DefinitionError);
    expect(err.message).toMatch(/env\.ts: profiling: ConfigMap profiler-rc-config: data\.rules\.yaml\[0\] needs namespace and name of the source Deployment$/);
  });
});


describe('Clone.fromConfigMap: the seed-004 cloner\'s own format', () => {
  const withConfig = (config: string, key = 'profiler-rc-config') => `${HELPERS}
    export default (scope) => {
      const web = new Environment(scope, 'web', { namespace: 'default' });
      deployment(web, 'nginx-deployment', 4, [{ name: 'nginx', image: 'nginx:1.27' }]);
      deployment(web, 'nginx-deployment-2', 10, [{ name: 'nginx', image: 'nginx:1.27' }]);
      const profiling = new Environment(scope, 'profiling', { namespace: 'default' });
      const rules = new ApiObject(profiling, 'ddprof-rcconfig', {
        apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ddprof-rcconfig' },
        data: { ${JSON.stringify(key)}: ${JSON.stringify(config)} },
      });
      Clone.fromConfigMap(profiling, rules);
    };`;

  it('GIVEN the document\'s example verbatim WHEN synthesized THEN each deployment gets its <source>-profiler clone: scaled by the string factor, its image, and the "NAME: value" variable', async () => {
    const result = await synthSource(withConfig(SEED_004_RULES));
    const first = objectAt(result, 'groups/profiling/deployment-nginx-deployment-profiler.yaml');
    const second = objectAt(result, 'groups/profiling/deployment-nginx-deployment-2-profiler.yaml');
    expect([first.metadata.namespace, first.spec.replicas, first.spec.template.spec.containers[0].image]).toEqual(['default', 2, 'nginx:1.27']);
    expect([second.metadata.namespace, second.spec.replicas, second.spec.template.spec.containers[0].image]).toEqual(['default', 1, 'busybox']);
    for (const clone of [first, second]) {
      expect(envList(clone.spec.template.spec.containers[0]).slice(2)).toEqual([['PROFILING_ENABLED', 'True']]);
    }
  });

  it('GIVEN several namespaces, a numeric factor, a suffix with its dash and env as a map or several lines THEN each rule is read as the cloner reads it', async () => {
    const config = [
      'default:',
      '  deployments:',
      '    nginx-deployment:',
      '      scale_factor: 0.25',
      '      name_suffix: -debug',
      '      env: { A: "1", B: two }',
      '    nginx-deployment-2:',
      '      scale_factor: "1"',
      '      name_suffix: canary',
      '      env: "A: 1\\nB: two"',
    ].join('\n');
    const result = await synthSource(withConfig(config));
    const debug = objectAt(result, 'groups/profiling/deployment-nginx-deployment-debug.yaml');
    const canary = objectAt(result, 'groups/profiling/deployment-nginx-deployment-2-canary.yaml');
    expect(debug.spec.replicas).toBe(1);
    expect(canary.spec.replicas).toBe(10);
    expect(envList(debug.spec.template.spec.containers[0]).slice(2)).toEqual([['A', '1'], ['B', 'two']]);
    expect(envList(canary.spec.template.spec.containers[0]).slice(2)).toEqual([['A', '1'], ['B', 'two']]);
  });

  it('GIVEN a rule without its mandatory fields or with a bad one THEN the error names the ConfigMap, key, namespace, deployment and field', async () => {
    const bad = async (rule: string) => (await synthSource(withConfig(`default:\n  deployments:\n    nginx-deployment:\n${rule}`)).then(() => undefined, (e) => e))?.message;
    expect(await bad('      name_suffix: profiler')).toMatch(/profiling: ConfigMap ddprof-rcconfig: data\.profiler-rc-config: default\.deployments\.nginx-deployment\.scale_factor is required$/);
    expect(await bad('      scale_factor: half\n      name_suffix: profiler')).toMatch(/default\.deployments\.nginx-deployment\.scale_factor must be a number >= 0, got "half"$/);
    expect(await bad('      scale_factor: "0.5"')).toMatch(/default\.deployments\.nginx-deployment\.name_suffix is required$/);
    expect(await bad('      scale_factor: "0.5"\n      name_suffix: p\n      env: "no colon here"')).toMatch(/default\.deployments\.nginx-deployment\.env: "no colon here" is not "NAME: value"$/);
  });
});


describe('Clone.fromLiveConfigMap: rules from a ConfigMap in the cluster', () => {
  const source = followingSeedRules('profiler-m');
  const rules = (data: Record<string, string>) => stateWith({ rules: new Map([['profiler-m/ddprof-rcconfig', { namespace: 'profiler-m', name: 'ddprof-rcconfig', data }]]) });

  it('GIVEN no record of the ConfigMap yet WHEN synthesized THEN no clones, no error for the empty group, and the ConfigMap is listed for the watcher to follow', async () => {
    const result = await synthSource(source);
    expect([...result.files.keys()].filter((p) => p.startsWith('groups/profiling/'))).toEqual([]);
    expect(result.liveRules).toEqual(['profiler-m/ddprof-rcconfig']);
  });

  it('GIVEN the record holds the seed\'s rules under the key (and another key) WHEN synthesized THEN the clones are the key\'s, as fromConfigMap makes them', async () => {
    const result = await synthSource(source, { state: rules({ 'profiler-rc-config': SEED_004_RULES, other: 'not: [rules' }) });
    const first = objectAt(result, 'groups/profiling/deployment-nginx-deployment-profiler.yaml');
    expect([first.spec.replicas, first.spec.template.spec.containers[0].image]).toEqual([2, 'nginx:1.27']);
    expect(objectAt(result, 'groups/profiling/deployment-nginx-deployment-2-profiler.yaml').spec.template.spec.containers[0].image).toBe('busybox');
  });

  it('GIVEN the record\'s rules do not parse WHEN synthesized THEN a DefinitionError names the ConfigMap, its key and the field', async () => {
    const err = await synthSource(source, { state: rules({ 'profiler-rc-config': 'default:\n  deployments:\n    nginx-deployment:\n      scale_factor: "lots"\n      name_suffix: p\n' }) }).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(DefinitionError);
    expect(err.message).toMatch(/ConfigMap ddprof-rcconfig: data\.profiler-rc-config: default\.deployments\.nginx-deployment\.scale_factor must be a number/);
  });
});
