/** Operations: liveness, readiness (the manifests repo answers and agrees with this writer), Prometheus metrics. */
import { httpErrorOf } from '../../errors.ts';
import type { RouteModule } from '../server.ts';

export const opsRoutes: RouteModule = (app, ctx) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const committer = ctx.deps.committer;
    const ok = await committer.probe();
    if (!ok) return reply.status(503).send({ error: 'the manifests repo cannot be reached', code: 'RemoteUnavailable' });
    // Not ready while this writer disagrees with the repo's settings; look again, someone may have fixed them.
    if (committer.settingsProblem) await committer.refresh().catch(() => undefined);
    const problem = committer.settingsProblem;
    if (problem) return reply.status(503).send(httpErrorOf(problem).body);
    return reply.status(200).send({ status: 'ready', remote: 'reachable' });
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
};
