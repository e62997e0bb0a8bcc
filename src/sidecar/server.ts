/**
 * src/sidecar: paddock's HTTP service. Handlers parse and validate a request, call the layer
 * below (the committer, the ranch), and answer; every error becomes `{error, code}` with its
 * status in one place (src/errors.ts). A 2xx on a write means the change is pushed.
 *
 * Owns: routes, input validation, auth. Must not touch: git, lease rules, synthesis.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { httpErrorOf, UserError } from '../errors.ts';
import { basicAuthOf, echoRequestId, logFailure, RequestLog } from '../http-log.ts';
import type { Logger } from '../log.ts';
import type { Ranch } from '../leases/ranch.ts';
import type { Committer, ReadView } from '../repo/committer.ts';
import { Metrics } from './metrics.ts';

export const BODY_LIMIT = 64 * 1024;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A GET that changes something (the seed's lease aliases): refused like any write while paddock may not commit. */
    readonly writes?: boolean;
  }
}

export interface Mailer {
  send(to: string, subject: string, text: string): Promise<void>;
}

export interface SidecarDeps {
  readonly committer: Committer;
  readonly ranch?: Ranch;
  readonly gcSecret: string;
  readonly apiTokens: readonly string[];
  /** Basic-auth users the lease routes require; none or empty: the lease routes are open. */
  readonly leaseUsers?: ReadonlyMap<string, string>;
  readonly workspaces?: {
    /** Email domains allowed to get workspaces; empty allows any. */
    readonly domains: readonly string[];
    readonly ports: { readonly min: number; readonly max: number };
    /** Address users ssh to (a node's address). */
    readonly nodeAddress: string;
    readonly mailer?: Mailer;
  };
  readonly clock?: () => Date;
  readonly newId?: () => string;
  /** Where the request log goes; none when not given. */
  readonly logger?: Logger;
  readonly metrics?: Metrics;
}

export interface Context {
  readonly deps: SidecarDeps;
  readonly clock: () => Date;
  readonly newId: () => string;
  readonly metrics: Metrics;
  /** Throws Unauthorized unless the request carries one of the API tokens. */
  requireToken(req: FastifyRequest): void;
  /** Throws Unauthorized unless lease users are unset or the request's basic auth is one of them. */
  requireLeaseUser(req: FastifyRequest): void;
  /**
   * The repo for a read, not queued behind writes (`Committer.latest`); a view kept from before
   * the remote stopped answering says so in an `x-paddock-stale` header.
   */
  latest(reply: FastifyReply): Promise<ReadView>;
}

export type RouteModule = (app: FastifyInstance, ctx: Context) => void;

export async function buildSidecar(deps: SidecarDeps, routes: readonly RouteModule[]): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger as FastifyBaseLogger } : { logger: false }),
    logController: new RequestLog(),
    bodyLimit: BODY_LIMIT,
    // `req.id`: the caller's `x-request-id` when it is a sane one (it goes into commits and logs), else a new one.
    requestIdHeader: false,
    genReqId: (raw) => {
      const h = raw.headers['x-request-id'];
      return typeof h === 'string' && /^[\w.:-]{1,128}$/.test(h) ? h : randomUUID();
    },
    // Errors the router raises before any route runs (a bad URL, an over-long path segment).
    frameworkErrors: (err, _req, reply: FastifyReply) => {
      const e = err as { code?: string; message?: string };
      const mapped = httpErrorOf(e.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new UserError('UriTooLong', 'a path segment is too long')
        : new UserError('BadRequest', `bad request URL (${e.message ?? e.code})`));
      void reply.status(mapped.status).headers(mapped.headers).send(mapped.body);
    },
  });
  const metrics = deps.metrics ?? new Metrics(deps.committer, deps.ranch);
  /** Constant time in the secret's content (its length may show, as with any comparison). */
  const sameSecret = (expected: string, given: string) => {
    const [a, b] = [Buffer.from(expected), Buffer.from(given)];
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const ctx: Context = {
    deps,
    metrics,
    clock: deps.clock ?? (() => new Date()),
    newId: deps.newId ?? (() => randomUUID()),
    requireToken(req) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(String(req.headers.authorization ?? ''));
      if (!m) throw new UserError('Unauthorized', 'this call needs Authorization: Bearer <api token>');
      if (!deps.apiTokens.some((t) => sameSecret(t, m[1]))) throw new UserError('Unauthorized', 'the API token is not valid');
    },
    async latest(reply) {
      const view = await deps.committer.latest();
      if (view.stale) void reply.header('x-paddock-stale', view.stale);
      return view;
    },
    requireLeaseUser(req) {
      const users = deps.leaseUsers;
      if (!users?.size) return;
      const given = basicAuthOf(req);
      const expected = given && users.get(given.user);
      if (!given || expected === undefined || !sameSecret(expected, given.password)) {
        throw new UserError('Unauthorized', given ? 'the lease user or password is not valid' : 'lease calls need basic auth (the Boskos client\'s username and password file)');
      }
    },
  };

  // An empty content-type is none: Go's idiomatic body-less POST, `http.Post(url, "", nil)`,
  // sends one, and Boskos takes it (fastify would refuse it as an invalid media type, 415).
  app.addHook('onRequest', async (req) => {
    if (req.headers['content-type']?.trim() === '') delete req.headers['content-type'];
  });
  // JSON bodies may be empty (Boskos clients POST without one).
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    const text = String(body);
    if (!text.trim()) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new UserError('BadRequest', 'the body is not valid JSON'), undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, String(body) || undefined));

  // A sidecar whose settings or GC secret disagree with the repo's acknowledges nothing: every
  // write gets 503 with the reason's code (reads and operations still answer).
  app.addHook('preHandler', async (req) => {
    const problem = deps.committer.settingsProblem;
    if (problem && (req.routeOptions.config?.writes || (req.method !== 'GET' && req.method !== 'HEAD'))) throw problem;
  });
  echoRequestId(app);
  app.addHook('onResponse', async (req, reply) => {
    metrics.requests.inc({ route: req.routeOptions.url ?? 'unknown', method: req.method, status: String(reply.statusCode) });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, code: 'NotFound' });
  });
  app.setErrorHandler((err, req, reply) => {
    const mapped = httpErrorOf(fromFramework(err), req.id);
    logFailure(req, err, mapped.status);
    void reply.status(mapped.status).headers(mapped.headers).send(mapped.body);
  });

  for (const route of routes) route(app, ctx);
  return app;
}

/** Framework and validation errors as paddock's own. */
function fromFramework(err: unknown): unknown {
  if (err instanceof z.ZodError) {
    const issue = err.issues[0];
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    return new UserError('BadRequest', `${where}${issue.message}`);
  }
  const e = err as { code?: string; statusCode?: number; message?: string };
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e?.statusCode === 413 || e?.code === 'FST_REQ_FILE_TOO_LARGE' || e?.code === 'FST_PARTS_LIMIT' || e?.code === 'FST_FILES_LIMIT' || e?.code === 'FST_FIELDS_LIMIT') {
    return new UserError('PayloadTooLarge', `the body is over ${BODY_LIMIT / 1024} KiB`);
  }
  if (e?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || e?.statusCode === 415) return new UserError('UnsupportedMediaType', `unsupported content type`);
  if (e?.statusCode && e.statusCode >= 400 && e.statusCode < 500 && !(err instanceof UserError)) return new UserError('BadRequest', e.message ?? 'bad request');
  return err;
}

/** Parses with a zod schema, throwing BadRequest that names the field. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw new UserError('BadRequest', `${what}: ${field}${issue.message}`);
}
