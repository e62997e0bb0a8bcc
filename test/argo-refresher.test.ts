/**
 * ArgoRefresher against an API server that takes connections and never answers: each patch gives
 * its turn up at its deadline, so refreshes go on (client-node itself sets no deadline).
 */
import { createServer, type Socket } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgoRefresher } from '../src/watch/cluster.ts';

describe('ArgoRefresher', () => {
  const held: Socket[] = [];
  const silent = createServer((socket) => void held.push(socket));
  let kc: k8s.KubeConfig;
  beforeAll(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'silent', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'nobody' }],
      contexts: [{ name: 'silent', cluster: 'silent', user: 'nobody' }],
      currentContext: 'silent',
    });
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('GIVEN an API server that never answers WHEN more Applications than the patches under way at once are refreshed THEN each patch ends at its deadline with an error naming it, and every one gets its turn', async () => {
    const errors: string[] = [];
    const refresher = new ArgoRefresher(kc, { mode: 'hard', deadlineMs: 200, onError: (e) => errors.push((e as Error).message) });
    const apps = Array.from({ length: 9 }, (_, i) => `group-${i}`);
    await refresher.refresh('argocd', apps);
    expect(errors.sort()).toEqual(apps.map((a) => `asking Argo CD to refresh argocd/${a}: no answer in 0.2 s`).sort());
    expect(held.length).toBeGreaterThanOrEqual(9);
  });
});
