/** Operations: liveness, readiness (the manifests repo answers), Prometheus metrics. */
import type { RouteModule } from '../server.ts';

export const opsRoutes: RouteModule = (app, ctx) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ok = await ctx.deps.committer.probe();
    return reply.status(ok ? 200 : 503).send(ok ? { status: 'ready', remote: 'reachable' } : { error: 'the manifests repo cannot be reached', code: 'RemoteUnavailable' });
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });
};
