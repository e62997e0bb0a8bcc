/** A real sidecar on a loopback port, over a real bare repo. */
import type { FastifyInstance } from 'fastify';
import { Ranch } from '../../src/leases/ranch.ts';
import { leaseStore } from '../../src/runtime.ts';
import type { Committer, CommitterOptions } from '../../src/repo/committer.ts';
import { ALL_ROUTES, buildSidecar, type SidecarDeps } from '../../src/sidecar/index.ts';
import { bareRepo, committer, loadSet, rid } from './repo.ts';
import { TEST_SECRET } from './synth.ts';

export const API_TOKEN = 'test-api-token';

export interface TestSidecar {
  readonly url: string;
  readonly app: FastifyInstance;
  readonly committer: Committer;
  readonly ranch: Ranch;
  readonly remote: string;
  close(): Promise<void>;
}

export async function startSidecar(opts: {
  files: Record<string, string>;
  remote?: string;
  deps?: Partial<SidecarDeps>;
  committer?: Partial<CommitterOptions>;
  clock?: () => Date;
  initialSync?: boolean;
}): Promise<TestSidecar> {
  const remote = opts.remote ?? (await bareRepo());
  const set = await loadSet(opts.files);
  const c = committer(remote, set, { ...(opts.clock ? { clock: opts.clock } : {}), ...opts.committer });
  if (opts.initialSync !== false) await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid('init'), requestedBy: 'test' });
  const ranch = new Ranch(leaseStore(c), opts.clock ?? (() => new Date()));
  const view = c.view();
  ranch.load(view.state.leases.values());
  await ranch.syncPools(view.synth?.pools ?? []);
  const app = await buildSidecar({
    committer: c,
    ranch,
    gcSecret: TEST_SECRET,
    apiTokens: [API_TOKEN],
    workspaces: { domains: [], ports: { min: 30000, max: 30009 }, nodeAddress: '127.0.0.1' },
    ...opts.deps,
  }, ALL_ROUTES);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url, app, committer: c, ranch, remote,
    async close() {
      await app.close();
      await c.close();
    },
  };
}

/** fetch() with a JSON body; returns status, parsed body and headers. */
export async function call(url: string, init: { method?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | Uint8Array | undefined;
  if (init.raw !== undefined) body = init.raw;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? (body !== undefined ? "POST" : "GET"), headers, body: body as BodyInit | undefined });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
