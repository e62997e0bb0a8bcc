/**
 * Deployments, kubernaut-compatible: `POST /api/deployments {release, context}` (JSON, or the
 * form fields of the same names) sends a posted release to a context, as a commit, answered 201
 * once pushed; `GET /api/deployments[?service&context]`, `GET /api/deployments/:id`; `DELETE
 * /api/deployments/:id` rolls that context back to its deployment before (204). The rules are
 * src/releases/deployments.ts'; this file parses, submits and answers.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { DNS_LABEL } from '../../../core/names.ts';
import type { DeploymentRecord } from '../../../core/records.ts';
import { UserError } from '../../errors.ts';
import { deploymentTarget, newestFirst, publicDeployment } from '../../releases/deployments.ts';
import { RELEASE_ID } from '../../releases/index.ts';
import { parse, type RouteModule } from '../server.ts';
import { bodyOf, withForms } from './forms.ts';

const context = z.string().max(63, 'must be at most 63 characters').regex(DNS_LABEL, 'must be a DNS label, like "staging"');
const DeploymentBody = z.object({ release: z.string().regex(RELEASE_ID, 'must be a release id'), context }).strict();
const ListQuery = z.object({ service: z.string().max(63).optional(), context: z.string().max(63).optional() });
const formBody = (fields: ReadonlyMap<string, string>) => Object.fromEntries(fields);

export const deploymentRoutes: RouteModule = (app, ctx) => {
  withForms(app, formBody, (scope) => {
    /** The repo's releases and deployments at the remote's tip. */
    const state = async (reply: FastifyReply) => (await ctx.latest(reply)).state;

    scope.post('/api/deployments', async (req, reply) => {
      ctx.requireToken(req);
      const body = parse(DeploymentBody, await bodyOf(req, formBody, 'deployment'), 'deployment');
      const release = [...(await state(reply)).releases.values()].flat().find((r) => r.id === body.release && !r.deletedAt);
      if (!release) throw new UserError('NotFound', `release "${body.release}" does not exist`);
      deploymentTarget(release.service, body.context, (await ctx.deps.committer.synthesis()).releases.get(release.service) ?? []);
      const record: DeploymentRecord = { id: ctx.newId(), service: release.service, release: release.id, version: release.version, context: body.context, createdAt: ctx.clock().toISOString() };
      const answer = await ctx.deps.committer.submit({ body: { kind: 'deployment', record }, requestId: req.id, requestedBy: `deployment API from ${req.ip}` });
      const applied = answer.outcome.status === 'applied';
      const after = answer.outcome.value as DeploymentRecord;
      // Already in force there: 200 with the deployment that put it there, and no commit.
      return reply.status(applied ? 201 : 200).send({ ...publicDeployment(after, [release], [after]), commit: answer.commit ?? null });
    });

    scope.get('/api/deployments', async (req, reply) => {
      ctx.requireToken(req);
      const q = parse(ListQuery, req.query, 'deployment query');
      const s = await state(reply);
      const items = [...s.deployments].filter(([service]) => q.service === undefined || service === q.service)
        .flatMap(([service, list]) => list.filter((d) => !d.deletedAt && (q.context === undefined || d.context === q.context))
          .map((d) => ({ d, view: publicDeployment(d, s.releases.get(service) ?? [], list) })))
        .sort((a, b) => newestFirst(a.d, b.d))
        .map((x) => x.view);
      return { count: items.length, items };
    });

    const find = async (id: string, reply: FastifyReply) => {
      if (!RELEASE_ID.test(id)) throw new UserError('NotFound', `deployment "${id.slice(0, 80)}" does not exist`);
      const s = await state(reply);
      for (const [service, list] of s.deployments) {
        const d = list.find((x) => x.id === id);
        if (d) return { d, view: publicDeployment(d, s.releases.get(service) ?? [], list) };
      }
      throw new UserError('NotFound', `deployment "${id}" does not exist`);
    };

    scope.get<{ Params: { id: string } }>('/api/deployments/:id', async (req, reply) => {
      ctx.requireToken(req);
      return (await find(req.params.id, reply)).view;
    });

    scope.delete<{ Params: { id: string } }>('/api/deployments/:id', async (req, reply) => {
      ctx.requireToken(req);
      const { d } = await find(req.params.id, reply);
      await ctx.deps.committer.submit({ body: { kind: 'delete-deployment', service: d.service, id: d.id }, requestId: req.id, requestedBy: `deployment API from ${req.ip}` });
      return reply.status(204).send();
    });
  });
};
