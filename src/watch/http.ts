/**
 * The watcher's own small HTTP port (`paddock watch --listen`): how another writer says "I
 * pushed". The sidecar has no Kubernetes access, so it cannot ask Argo CD to refresh; it posts
 * here after each push, and the watcher, which holds that right, fetches at once and refreshes
 * what the new commits changed. A request carries nothing but the wish: it cannot make the
 * watcher write anything, and a burst costs two fetches.
 *
 * Owns: the watcher's routes. Must not touch: git, synthesis.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { parseListen } from '../config.ts';
import { firstLine } from '../errors.ts';

export interface WatcherHttpDeps {
  /** Fetches the remote now; resolves with the tip then known. */
  readonly follow: () => Promise<string | undefined>;
}

export function buildWatcherServer(deps: WatcherHttpDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 });
  // "I pushed": answered once the watcher has looked (the caller need not wait for it).
  app.post('/follow', async (_req, reply) => {
    try {
      const head = await deps.follow();
      return reply.send({ head: head ?? null });
    } catch (e) {
      return reply.code(503).header('retry-after', '5').send({ error: `the manifests repo could not be fetched: ${firstLine(e)}`, code: 'RemoteUnavailable' });
    }
  });
  app.get('/healthz', async () => ({ ok: true }));
  return app;
}

/** Starts the watcher's port on `listen` (`host:port`); resolves with its URL. */
export async function startWatcherServer(listen: string, deps: WatcherHttpDeps): Promise<{ url: string; close(): Promise<void> }> {
  const app = buildWatcherServer(deps);
  const { host, port } = parseListen(listen);
  const url = await app.listen({ host, port });
  return { url, close: () => app.close() };
}

/**
 * After a push, tells the watcher at `watcherUrl` to look (fire and forget: a watcher that is
 * down only means Argo CD hears of the commit at the watcher's next own fetch).
 */
export function pokeWatcher(watcherUrl: string, onError?: (e: unknown) => void): void {
  fetch(`${watcherUrl.replace(/\/+$/, '')}/follow`, { method: 'POST', signal: AbortSignal.timeout(10_000) })
    .then((r) => r.body?.cancel())
    .catch((e) => onError?.(e));
}
