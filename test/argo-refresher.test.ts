/**
 * ArgoRefresher against API servers that misbehave or lack Argo CD: one that takes connections and
 * never answers (each patch gives its turn up at its deadline, so refreshes go on; client-node
 * itself sets no deadline), and one that does not serve Applications (asked once, not per patch).
 */
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { createServer, type Socket } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgoRefresher, SERVED_RECHECK_MS } from '../src/watch/cluster.ts';

/** A kubeconfig for a plain-HTTP API server with no credentials. */
function kubeConfigFor(server: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'nobody' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'nobody' }],
    currentContext: 'test',
  });
  return kc;
}

describe('ArgoRefresher', () => {
  const held: Socket[] = [];
  let closed = 0;
  const silent = createServer((socket) => {
    held.push(socket);
    socket.resume(); // reads what comes (so that it sees the client close), answers nothing
    socket.on('close', () => closed++);
  });
  let kc: k8s.KubeConfig;
  beforeAll(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    kc = kubeConfigFor(`http://127.0.0.1:${port}`);
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('GIVEN an API server that never answers WHEN more Applications than the patches under way at once are refreshed THEN each patch ends at its deadline with an error naming it, its request aborted, and every one gets its turn', async () => {
    const errors: string[] = [];
    const refresher = new ArgoRefresher(kc, { mode: 'hard', deadlineMs: 200, onError: (e) => errors.push((e as Error).message) });
    const apps = Array.from({ length: 9 }, (_, i) => `group-${i}`);
    await refresher.refresh('argocd', apps);
    expect(errors.sort()).toEqual(apps.map((a) => `asking Argo CD to refresh argocd/${a}: no answer in 0.2 s`).sort());
    expect(held.length).toBeGreaterThanOrEqual(9);
    // Each request was aborted too, not left holding its connection.
    for (const until = Date.now() + 10_000; closed < held.length && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(held.length);
  });
});

/**
 * A stand-in API server answering as the tier's kube-apiserver does (its bodies recorded there):
 * without Argo CD's CRDs, discovery of argoproj.io/v1alpha1 and any path under it answer
 * `404 page not found` as text; with them, discovery lists Applications and a patch of a missing
 * one answers a NotFound Status.
 */
describe('ArgoRefresher on a cluster that may not serve Applications', () => {
  const seen: string[] = [];
  /** `others`: the group version is served (Argo Rollouts' kinds), without Application. */
  let discovery: 'absent' | 'served' | 'others' | 'failing' = 'absent';
  /** Discovery requests to fail (500) before answering as `discovery` says. */
  let failingDiscoveries = 0;
  const notFound = (res: ServerResponse) => res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
  const api = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      if (discovery === 'failing') return res.writeHead(500, { 'content-type': 'text/plain' }).end('etcdserver: request timed out\n');
      if (discovery === 'absent') return notFound(res);
      if (req.method === 'GET' && req.url === '/apis/argoproj.io/v1alpha1' && failingDiscoveries > 0) {
        failingDiscoveries--;
        return res.writeHead(500, { 'content-type': 'text/plain' }).end('etcdserver: request timed out\n');
      }
      if (req.method === 'GET' && req.url === '/apis/argoproj.io/v1alpha1') {
        const [name, kind] = discovery === 'served' ? ['applications', 'Application'] : ['rollouts', 'Rollout'];
        return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'argoproj.io/v1alpha1',
          resources: [{ name, singularName: name.slice(0, -1), namespaced: true, kind, verbs: ['get', 'list', 'patch'] }],
        }));
      }
      if (discovery === 'others') return notFound(res);
      const m = /^\/apis\/argoproj\.io\/v1alpha1\/namespaces\/([^/]+)\/applications\/([^/?]+)/.exec(req.url ?? '');
      if (req.method !== 'PATCH' || !m) return notFound(res);
      if (m[2] === 'gone') {
        return res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({
          kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'applications.argoproj.io "gone" not found', reason: 'NotFound',
          details: { name: 'gone', group: 'argoproj.io', kind: 'applications' }, code: 404,
        }));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name: m[2], namespace: m[1] } }));
    });
  });
  let kc: k8s.KubeConfig;
  beforeAll(async () => {
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    kc = kubeConfigFor(`http://127.0.0.1:${(api.address() as { port: number }).port}`);
  });
  afterAll(() => new Promise((resolve) => api.close(resolve)));

  /**
   * A refresher on the stand-in answering as `d` says (no request seen yet), on a clock the test
   * moves (`t.now`), with what it said: `t.served` (onServed) and `t.errors` (their HTTP codes).
   */
  const refresherWith = (d: typeof discovery, mode: 'hard' | 'normal' = 'hard') => {
    seen.length = 0;
    discovery = d;
    const t = { now: 0, served: [] as boolean[], errors: [] as unknown[] };
    const refresher = new ArgoRefresher(kc, { mode, now: () => t.now, onServed: (yes) => t.served.push(yes), onError: (e) => t.errors.push((e as { code?: unknown }).code) });
    return { refresher, t };
  };

  it('GIVEN a cluster without Argo CD WHEN commits ask for refreshes THEN discovery is asked once, nothing is patched, and it is said once; once Argo CD is there and the recheck is due, refreshes go to it', async () => {
    const { refresher, t } = refresherWith('absent');
    const apps = ['root', 'group-a', 'group-b'];
    // Commits in a burst (one lookup for all of them), then one more later.
    expect(await Promise.all([refresher.refresh('argocd', apps), refresher.refresh('argocd', apps)])).toEqual([false, false]);
    t.now += SERVED_RECHECK_MS - 1;
    expect(await refresher.refresh('argocd', apps)).toBe(false);
    expect(seen).toEqual(['GET /apis/argoproj.io/v1alpha1']);
    expect(t.served).toEqual([false]);
    expect(t.errors).toEqual([]);
    // Still without Argo CD when the recheck is due: asked again, not said again.
    t.now += 1;
    expect(await refresher.refresh('argocd', apps)).toBe(false);
    expect(seen).toEqual(['GET /apis/argoproj.io/v1alpha1', 'GET /apis/argoproj.io/v1alpha1']);
    expect(t.served).toEqual([false]);
    t.now += SERVED_RECHECK_MS - 1;

    // Argo CD installed: seen at the first refresh after the recheck is due.
    discovery = 'served';
    expect(await refresher.refresh('argocd', apps)).toBe(false);
    t.now += 1;
    seen.length = 0;
    expect(await refresher.refresh('argocd', [...apps, 'gone'])).toBe(true);
    expect(seen.sort()).toEqual([
      'GET /apis/argoproj.io/v1alpha1',
      ...[...apps, 'gone'].map((a) => `PATCH /apis/argoproj.io/v1alpha1/namespaces/argocd/applications/${a}?fieldManager=paddock`),
    ].sort());
    expect(t.served).toEqual([false, true]);
    expect(t.errors).toEqual([]); // a missing Application is skipped

    // Found once, not looked up again, however much later.
    t.now += 10 * SERVED_RECHECK_MS;
    seen.length = 0;
    expect(await refresher.refresh('argocd', ['group-a'])).toBe(true);
    expect(seen).toEqual(['PATCH /apis/argoproj.io/v1alpha1/namespaces/argocd/applications/group-a?fieldManager=paddock']);

    // Argo CD removed: the patches under way find the path gone (text, not a NotFound Status);
    // said once, and nothing more is sent (not the patches waiting their turn, nor a discovery
    // request for each) until the recheck is due.
    discovery = 'absent';
    seen.length = 0;
    const many = Array.from({ length: 20 }, (_, i) => `group-${i}`);
    expect(await refresher.refresh('argocd', many)).toBe(false);
    expect(await refresher.refresh('argocd', many)).toBe(false);
    expect(seen.filter((r) => !r.startsWith('PATCH '))).toEqual([]);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThanOrEqual(8); // the patches under way at once
    expect(t.served).toEqual([false, true, false]);
    expect(t.errors).toEqual([]);
    t.now += SERVED_RECHECK_MS;
    seen.length = 0;
    expect(await refresher.refresh('argocd', ['group-a'])).toBe(false);
    expect(seen).toEqual(['GET /apis/argoproj.io/v1alpha1']);
  });

  it('GIVEN a cluster found without Argo CD WHEN Argo CD is installed and the recheck cannot tell (discovery fails once) THEN a patch that goes through says it is served, whether its Application was there or not', async () => {
    for (const app of ['group-a', 'gone']) {
      const { refresher, t } = refresherWith('absent');
      expect(await refresher.refresh('argocd', [app])).toBe(false);
      discovery = 'served';
      failingDiscoveries = 1;
      t.now += SERVED_RECHECK_MS;
      expect(await refresher.refresh('argocd', [app])).toBe(true);
      expect(t.served).toEqual([false, true]);
      expect(t.errors).toEqual([]);
      expect(seen.filter((r) => r.startsWith('PATCH '))).toEqual([`PATCH /apis/argoproj.io/v1alpha1/namespaces/argocd/applications/${app}?fieldManager=paddock`]);
    }
  });

  it('GIVEN a cluster that serves argoproj.io/v1alpha1 without Applications (Argo Rollouts alone) WHEN a refresh runs THEN nothing is patched, and it is said', async () => {
    const { refresher, t } = refresherWith('others');
    expect(await refresher.refresh('argocd', ['group-a'])).toBe(false);
    expect(seen).toEqual(['GET /apis/argoproj.io/v1alpha1']);
    expect(t.served).toEqual([false]);
    expect(t.errors).toEqual([]);
  });

  it('GIVEN an API server that fails discovery (not a 404) WHEN a refresh runs THEN it is not taken for a cluster without Argo CD: the patches are tried and their errors said', async () => {
    const { refresher, t } = refresherWith('failing', 'normal');
    expect(await refresher.refresh('argocd', ['group-a', 'group-b'])).toBe(true);
    expect(t.served).toEqual([]);
    expect(t.errors).toEqual([500, 500]);
    // What it could not tell is not remembered: the next refresh asks again.
    discovery = 'absent';
    seen.length = 0;
    expect(await refresher.refresh('argocd', ['group-a'])).toBe(false);
    expect(seen).toEqual(['GET /apis/argoproj.io/v1alpha1']);
    expect(t.served).toEqual([false]);
  });
});
