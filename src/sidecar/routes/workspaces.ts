/**
 * Workspaces: a per-user sshd Deployment, NodePort Service and PVC, asked for over HTTP.
 *
 * `POST /api/workspaces` takes `{email, ram, cpu, storage?, publicKey}` or the seed's
 * `{"Email", "Specification": {"RAM", "CPU", "Storage"?, "PublicKey"}}`, checks sizes, key and
 * email domain, and hands a `workspace` intent to the committer, which picks the name and the
 * NodePort inside its cycle. The answer (and, with a mailer, an email to the user) says how to
 * reach the workspace. `GET /api/workspaces[/:name]` reads the records; `POST .../stop` scales
 * one to zero and keeps its volume and port, `POST .../start` brings it back; `DELETE` removes
 * one, volume included, and says what went.
 * The rules (sizes, keys, domains, the email text) are src/workspaces'; this file parses,
 * submits and answers.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isDnsLabel } from '../../../core/names.ts';
import type { WorkspaceRecord } from '../../../core/records.ts';
import { UserError } from '../../errors.ts';
import type { WorkspaceRequest } from '../../repo/intents.ts';
import { checkDomain, describeWorkspace, instructions, MAX_KEY_LENGTH, removalOf, shown, workspaceRequest } from '../../workspaces/index.ts';
import { Workspace } from '../../../constructs/workspace.ts';
import { parse, type RouteModule } from '../server.ts';

const size = z.union([z.number(), z.string().max(32)]);
const key = z.string().max(MAX_KEY_LENGTH, 'is longer than any OpenSSH public key');
const email = z.string().max(254);
const PlainBody = z.object({ email, ram: size, cpu: size, storage: size.optional(), publicKey: key });
const SeedBody = z.object({
  Email: email,
  Specification: z.object({ RAM: size, CPU: size, Storage: size.optional(), PublicKey: key }),
});

/** A request body in either shape, checked: sizes as numbers (GiB, cores), storage as a quantity. */
export function workspaceRequestOf(body: unknown): WorkspaceRequest {
  const seedShaped = typeof body === 'object' && body !== null && ('Specification' in body || 'Email' in body);
  const raw = seedShaped
    ? (({ Email, Specification: s }) => ({ email: Email, ram: s.RAM, cpu: s.CPU, storage: s.Storage, publicKey: s.PublicKey }))(
      parse(SeedBody, body, 'body must be {"Email", "Specification": {"RAM", "CPU", "Storage"?, "PublicKey"}}'))
    : parse(PlainBody, body, 'body must be {email, ram, cpu, storage?, publicKey}');
  return workspaceRequest(raw);
}

export const workspaceRoutes: RouteModule = (app, ctx) => {
  const config = () => {
    if (!ctx.deps.workspaces) throw new UserError('NotFound', 'workspaces are not served here');
    return ctx.deps.workspaces;
  };
  const nameParam = (req: FastifyRequest<{ Params: { name: string } }>) => {
    const name = req.params.name;
    if (!isDnsLabel(name)) throw new UserError('NotFound', `workspace "${shown(name, 63)}" does not exist`);
    return name;
  };
  /** The workspaces as the remote has them, each described (`removed` when its group was removed). */
  const described = async (reply: FastifyReply) => {
    const { workspaces, removals } = (await ctx.latest(reply)).state;
    const ws = config();
    return new Map([...workspaces].map(([name, r]) => [name, { ...describeWorkspace(r, ws.nodeAddress, removals.has(Workspace.groupOf(name))), publicKey: r.publicKey }]));
  };

  app.post('/api/workspaces', async (req, reply) => {
    ctx.requireToken(req);
    const ws = config();
    const request = workspaceRequestOf(req.body);
    checkDomain(request.email, ws.domains);
    const answer = await ctx.deps.committer.submit({
      body: { kind: 'workspace', request, ports: ws.ports },
      requestId: req.id,
      requestedBy: `workspace API for ${request.email} from ${req.ip}`,
    });
    const created = answer.outcome.status === 'applied';
    const out: Record<string, unknown> = { ...describeWorkspace(answer.outcome.value as WorkspaceRecord, ws.nodeAddress), ...(created ? { commit: answer.commit } : {}) };
    if (ws.mailer && created) {
      const mail = instructions(out as ReturnType<typeof describeWorkspace>);
      try {
        await ws.mailer.send(request.email, mail.subject, mail.text);
        out.emailed = true;
      } catch (e) {
        req.log.warn({ err: String((e as Error)?.message ?? e), workspace: out.name }, 'workspace email failed');
        out.emailed = false;
      }
    }
    // A repeat of the same request finds the workspace it made: 200, nothing new.
    return reply.status(created ? 201 : 200).send(out);
  });

  // Reads need a token too: workspaces hold emails and public keys.
  app.get('/api/workspaces', async (req, reply) => {
    ctx.requireToken(req);
    const items = [...(await described(reply)).values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(({ publicKey: _key, ...w }) => w);
    return { count: items.length, items };
  });

  app.get<{ Params: { name: string } }>('/api/workspaces/:name', async (req, reply) => {
    ctx.requireToken(req);
    const name = nameParam(req);
    const w = (await described(reply)).get(name);
    if (!w) throw new UserError('NotFound', `workspace "${name}" does not exist`);
    return w;
  });

  app.delete<{ Params: { name: string } }>('/api/workspaces/:name', async (req, reply) => {
    ctx.requireToken(req);
    config();
    const name = nameParam(req);
    const answer = await ctx.deps.committer.submit({
      body: { kind: 'delete-workspace', name },
      requestId: req.id,
      requestedBy: `workspace API from ${req.ip}`,
    });
    return reply.status(200).send({ ...removalOf(answer.outcome.value as WorkspaceRecord), commit: answer.commit ?? null });
  });

  for (const [action, on] of [['stop', false], ['start', true]] as const) {
    app.post<{ Params: { name: string } }>(`/api/workspaces/:name/${action}`, async (req) => {
      ctx.requireToken(req);
      const ws = config();
      const name = nameParam(req);
      const answer = await ctx.deps.committer.submit({
        body: { kind: 'workspace-power', name, on },
        requestId: req.id,
        requestedBy: `workspace API from ${req.ip}`,
      });
      return { ...describeWorkspace(answer.outcome.value as WorkspaceRecord, ws.nodeAddress), commit: answer.commit ?? null };
    });
  }
};
