/** Live clone sources from recorded informer events (the cluster tier runs the real informer). */
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { LiveSources } from '../src/watch/live-sources.ts';
import { liveSources, objectAt, synthSource } from './helpers/synth.ts';

const live = (replicas: number, image: string, env: Array<{ name: string; value: string }> = [], extra: Record<string, any> = {}) => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'web', namespace: 'prod', uid: 'u-1', resourceVersion: '42', labels: { app: 'web', 'app.kubernetes.io/instance': 'prod-web' }, annotations: { 'deployment.kubernetes.io/revision': '7' } },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image, env }] } } },
  status: { readyReplicas: replicas },
  ...extra,
});

const cloneDef = `
import { Clone, Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'prod-profiling', { namespace: 'prod' });
  new Clone(env, 'web-profiler', { source: { namespace: 'prod', name: 'web' }, nameSuffix: '-profiler', scaleFactor: 0.5, env: { PROFILE: 'on' } });
};`;

describe('live clone sources', () => {
  it('GIVEN recorded events WHEN applied THEN only changes a clone can see count', () => {
    const s = new LiveSources();
    expect(s.apply({ type: 'ADDED', object: live(4, 'web:1') })).toBe(true);
    expect(s.apply({ type: 'MODIFIED', object: { ...live(4, 'web:1'), status: { readyReplicas: 3 }, metadata: { ...live(4, 'web:1').metadata, resourceVersion: '43' } } })).toBe(false);
    expect(s.apply({ type: 'MODIFIED', object: live(4, 'web:2') })).toBe(true);
    expect(s.apply({ type: 'MODIFIED', object: live(6, 'web:2') })).toBe(true);
    expect(s.apply({ type: 'MODIFIED', object: live(6, 'web:2', [{ name: 'X', value: '1' }]) })).toBe(true);
    expect(s.get().get('prod/web')?.spec.replicas).toBe(6);
    expect(s.apply({ type: 'DELETED', object: live(6, 'web:2') })).toBe(true);
    expect(s.get().has('prod/web')).toBe(false);
    expect(s.apply({ type: 'DELETED', object: live(6, 'web:2') })).toBe(false);
  });

  it('GIVEN a clone of a live source WHEN the source changes image, env, replicas, is deleted and comes back THEN the synthesized clone follows', async () => {
    const s = new LiveSources();
    // no source yet: the clone waits, nothing is written for it
    let r = await synthSource(cloneDef, liveSources(s.get()));
    expect(r.waiting.map((w) => w.source)).toEqual(['prod/web']);
    expect(r.sources).toEqual(['prod/web']);
    expect([...r.files.keys()].some((p) => p.startsWith('groups/prod-profiling/'))).toBe(false);

    s.apply({ type: 'ADDED', object: live(4, 'web:1', [{ name: 'MODE', value: 'prod' }, { name: 'OLD', value: 'x' }]) });
    r = await synthSource(cloneDef, liveSources(s.get()));
    let d = objectAt(r, 'groups/prod-profiling/deployment-web-profiler.yaml');
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.template.spec.containers[0].image).toBe('web:1');
    expect(d.metadata.uid).toBeUndefined();
    expect(d.metadata.labels['app.kubernetes.io/instance']).toBeUndefined();
    expect(d.status).toBeUndefined();
    expect(d.spec.template.spec.containers[0].env.map((e: any) => e.name)).toEqual(['GROUP_ID', 'GARBAGE_COLLECTOR_URL', 'MODE', 'OLD', 'PROFILE']);

    s.apply({ type: 'MODIFIED', object: live(7, 'web:2', [{ name: 'MODE', value: 'prod' }]) });
    r = await synthSource(cloneDef, liveSources(s.get()));
    d = objectAt(r, 'groups/prod-profiling/deployment-web-profiler.yaml');
    expect(d.spec.replicas).toBe(4);
    expect(d.spec.template.spec.containers[0].image).toBe('web:2');
    expect(d.spec.template.spec.containers[0].env.map((e: any) => e.name)).toEqual(['GROUP_ID', 'GARBAGE_COLLECTOR_URL', 'MODE', 'PROFILE']);

    s.apply({ type: 'DELETED', object: live(7, 'web:2') });
    r = await synthSource(cloneDef, liveSources(s.get()));
    expect([...r.files.keys()].some((p) => p.startsWith('groups/prod-profiling/'))).toBe(false);
    expect(r.files.has('apps/prod-profiling.yaml')).toBe(false);

    s.apply({ type: 'ADDED', object: live(2, 'web:3') });
    r = await synthSource(cloneDef, liveSources(s.get()));
    expect(YAML.parse(r.files.get('groups/prod-profiling/deployment-web-profiler.yaml')!).spec.replicas).toBe(1);
  });
});
