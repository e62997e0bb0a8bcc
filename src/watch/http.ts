/**
 * The watcher's own small HTTP port (`paddock watch --listen`): how another writer says "I
 * pushed", and how the watcher is seen (probes, metrics). The sidecar has no Kubernetes access,
 * so it cannot ask Argo CD to refresh; it posts here after each push, and the watcher, which
 * holds that right, fetches at once and refreshes what the new commits changed. A request
 * carries nothing but the wish: it cannot make the watcher write anything, and a burst costs
 * two fetches.
 *
 * Owns: the watcher's routes. Must not touch: git, synthesis.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { listenError, parseListen } from '../config.ts';
import { httpErrorOf, TransientError, UserError } from '../errors.ts';
import { echoRequestId, logFailure, RequestLog } from '../http-log.ts';
import type { Logger } from '../log.ts';
import type { Readiness } from './watcher.ts';

export interface WatcherHttpDeps {
  /** Fetches the remote now; resolves with the tip then known. */
  readonly follow: () => Promise<string | undefined>;
  /** `/readyz`: ready when the watcher does its job. */
  readonly readiness?: () => Readiness;
  /** `/metrics`. */
  readonly registry?: Registry;
  /** Where the request log goes; none when not given. */
  readonly logger?: Logger;
}

export function buildWatcherServer(deps: WatcherHttpDeps): FastifyInstance {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    logController: new RequestLog(),
    bodyLimit: 1024,
  });
  echoRequestId(app);
  // Every error as errors.ts answers it: the caller's, the remote's (with retry-after), or a bug (500).
  app.setErrorHandler((err, req, reply) => {
    const answer = httpErrorOf(err, req.id);
    logFailure(req, err, answer.status);
    void reply.code(answer.status).headers(answer.headers).send(answer.body);
  });
  // "I pushed": answered once the watcher has looked (the caller need not wait for it).
  app.post('/follow', async (_req, reply) => reply.send({ head: (await deps.follow()) ?? null }));
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = deps.readiness?.() ?? { ready: true, reasons: [] };
    if (r.ready) return reply.send({ status: 'ready' });
    return reply.code(503).send({ ...httpErrorOf(new TransientError('NotReady', `not ready: ${r.reasons.join('; ')}`)).body, reasons: r.reasons });
  });
  app.get('/metrics', async (_req, reply) => {
    if (!deps.registry) throw new UserError('NotFound', 'no metrics here');
    return reply.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  return app;
}

/** Starts the watcher's port on `listen` (`host:port`); resolves with its URL. */
export async function startWatcherServer(listen: string, deps: WatcherHttpDeps): Promise<{ url: string; close(): Promise<void> }> {
  const app = buildWatcherServer(deps);
  const { host, port } = parseListen(listen);
  const url = await app.listen({ host, port }).catch((e: unknown) => {
    throw listenError(listen, e);
  });
  return { url, close: () => app.close() };
}
