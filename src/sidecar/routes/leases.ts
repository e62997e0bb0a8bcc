/**
 * Boskos-compatible lease routes: query parameters, codes and the resource JSON that the Go
 * client `sigs.k8s.io/boskos/client` expects. The seed's spellings work too: `/start` and
 * `/request` for `/acquire`, `/done` for `/release`, and those aliases answer GET as well.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseDuration } from '../../../core/duration.ts';
import { UserError } from '../../errors.ts';
import { BUSY, type Resource } from '../../leases/ranch.ts';
import { parse, type RouteModule } from '../server.ts';

/** Control characters would reach commit messages and `paddock status` (a newline forges a trailer; NUL breaks git). */
const word = z.string().trim().min(1, 'is required').max(253).regex(/^[^\x00-\x1f\x7f]*$/, 'must not contain control characters');
const AcquireQuery = z.object({ type: word, state: word, owner: word, dest: word.default(BUSY), request_id: z.string().regex(/^[\w.:-]{1,128}$/, 'must be 1-128 letters, digits, "_", ".", ":" or "-"').optional() });
const ReleaseQuery = z.object({ name: word, dest: word, owner: word });
const UpdateQuery = z.object({ name: word, owner: word, state: word });
const ResetQuery = z.object({ type: word, state: word, expire: word, dest: word });
const ByStateQuery = z.object({ state: word, dest: word, owner: word, names: word });
const MetricQuery = z.object({ type: word });
const UserData = z.record(z.string(), z.string()).nullable().optional();

/**
 * The answer to a call Boskos answers with an empty 200 (`/update`, `/release`): empty, with
 * `content-length: 0`, as Boskos's. Its Go client closes that answer unread, and a body left
 * unread costs the client its connection: one TCP connection per heartbeat. A caller that asks
 * for JSON (`accept: application/json`) gets the resource.
 */
function boskosAnswer(req: FastifyRequest, reply: FastifyReply, r: Resource) {
  return asksForJson(req.headers.accept) ? reply.send(wire(r)) : reply.send();
}

/** An accept header's media ranges, lower-cased, each with its quality (1 when it gives none). */
function qualities(accept: string | undefined): Map<string, number> {
  const q = new Map<string, number>();
  for (const range of (accept ?? '').split(',')) {
    const [type, ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const given = params.find((p) => p.startsWith('q='));
    if (type) q.set(type, given === undefined ? 1 : Number(given.slice(2)) || 0);
  }
  return q;
}

/** Whether an accept header names application/json itself with a quality above 0 (wildcards, such as curl sends, do not). */
function asksForJson(accept: string | undefined): boolean {
  return (qualities(accept).get('application/json') ?? 0) > 0;
}

/**
 * Whether an accept header lets the answer be JSON: by its most specific range that matches
 * (application/json, then application/*, then any), as HTTP reads it. No header at all does not
 * here: Go's HTTP client sends none, and the Boskos client reads text.
 */
function takesJson(accept: string | undefined): boolean {
  const q = qualities(accept);
  return (q.get('application/json') ?? q.get('application/*') ?? q.get('*/*') ?? 0) > 0;
}

/**
 * An acquire of a type no resource has, answered as Boskos answers it: a plain-text 404 holding
 * `resource type "T" does not exist`. The Go client tells ErrTypeNotFound from ErrNotFound (none
 * free) only by finding those words, quotes and all, in the body, which JSON's escaped quotes
 * never match (its DistinguishNotFoundVsTypeNotFound option). Only for a caller that sends no
 * accept header, as Go's HTTP client and so the Boskos client send none, or one that JSON does
 * not match (`text/plain`); curl, browsers and fetch accept any type and get the JSON error
 * every other answer has.
 */
function typeNotFound(reply: FastifyReply, e: UserError) {
  return reply.status(404).type('text/plain; charset=utf-8').send(`Acquire failed: ${e.message}\n`);
}

/** A resource as Boskos puts it on the wire. */
export function wire(r: Resource) {
  return { type: r.type, name: r.name, state: r.state, owner: r.owner, lastupdate: r.lastUpdate.toISOString(), userdata: r.userdata };
}

export const leaseRoutes: RouteModule = (root, ctx) => void root.register(async (app) => {
  // With PADDOCK_LEASE_USERS, every lease call needs one of them (the Boskos client's basic auth).
  app.addHook('onRequest', async (req, reply) => {
    try {
      ctx.requireLeaseUser(req);
    } catch (e) {
      void reply.header('www-authenticate', 'Basic realm="paddock leases", charset="UTF-8"');
      throw e;
    }
  });
  const ranch = () => {
    if (!ctx.deps.ranch) throw new UserError('NotFound', 'leases are not served here');
    return ctx.deps.ranch;
  };
  const acquire = async (req: FastifyRequest, reply: FastifyReply) => {
    const q = parse(AcquireQuery, req.query, 'acquire');
    const end = ctx.metrics.acquireSeconds.startTimer();
    try {
      return wire(await ranch().acquire({ type: q.type, state: q.state, dest: q.dest, owner: q.owner, requestId: q.request_id }));
    } catch (e) {
      if (e instanceof UserError && e.code === 'UnknownResource' && !takesJson(req.headers.accept)) return typeNotFound(reply, e);
      throw e;
    } finally {
      end();
    }
  };
  const release = async (req: FastifyRequest, reply: FastifyReply) => {
    const q = parse(ReleaseQuery, req.query, 'release');
    return boskosAnswer(req, reply, await ranch().release(q));
  };
  for (const path of ['/acquire', '/start', '/request']) app.post(path, acquire);
  // GET as the seed's curls use them; not HEAD (fastify would add it), which must change nothing.
  for (const path of ['/start', '/request']) app.get(path, { config: { writes: true }, exposeHeadRoute: false }, acquire);
  app.post('/release', release);
  app.post('/done', release);
  app.get('/done', { config: { writes: true }, exposeHeadRoute: false }, release);

  app.post('/update', async (req, reply) => {
    const q = parse(UpdateQuery, req.query, 'update');
    const body = typeof req.body === 'string' ? tryJson(req.body) : req.body;
    const userdata = parse(UserData, body ?? null, 'update body (userdata)') ?? undefined;
    return boskosAnswer(req, reply, await ranch().update({ ...q, userdata }));
  });

  app.post('/reset', async (req) => {
    const q = parse(ResetQuery, req.query, 'reset');
    const expireMs = /^0+(s|m|h|ms)?$/.test(q.expire) ? 0 : parseDuration(q.expire);
    if (expireMs === undefined) throw new UserError('BadRequest', `reset: expire "${q.expire}" is not a duration such as 30m or 1h0m0s`);
    return ranch().reset({ type: q.type, state: q.state, expireMs, dest: q.dest });
  });

  app.post('/acquirebystate', async (req) => {
    const q = parse(ByStateQuery, req.query, 'acquirebystate');
    const names = q.names.split(',').map((n) => n.trim()).filter(Boolean);
    return (await ranch().acquireByState({ state: q.state, dest: q.dest, owner: q.owner, names })).map(wire);
  });

  app.get('/metric', async (req) => {
    const q = parse(MetricQuery, req.query, 'metric');
    return ranch().metric(q.type);
  });

  // Not Boskos: the whole pool, for people and `paddock status`.
  app.get('/api/leases', async (req: FastifyRequest<{ Querystring: { type?: string } }>, reply: FastifyReply) => {
    const type = typeof req.query.type === 'string' ? req.query.type : undefined;
    return reply.send({ items: ranch().list(type).map(wire) });
  });
});

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UserError('BadRequest', 'update body must be JSON userdata: {"key": "value"}');
  }
}

