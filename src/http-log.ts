/**
 * The request log of paddock's HTTP ports (the sidecar's and the watcher's), as a fastify log
 * controller: one line per request, and the cause of every 5xx on a line of its own, both under
 * the request's id, which the answer carries in `x-request-id`. URLs are redacted (a GC token is
 * a path segment); headers are never logged.
 *
 * Owns: what a request's log lines hold. Must not touch: routes, answers.
 */
import { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { firstLine } from './errors.ts';
import { redact } from './log.ts';

/** The user and password of a request's `Authorization: Basic`, if it has a well-formed one. */
export function basicAuthOf(req: FastifyRequest): { readonly user: string; readonly password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(String(req.headers.authorization ?? ''));
  if (!m) return undefined;
  const [user, ...rest] = Buffer.from(m[1], 'base64').toString('utf8').split(':');
  return { user, password: rest.join(':') };
}

/** Who called, as far as the request says without its secrets: address, Boskos owner, basic-auth user, bearer. */
function requesterOf(req: FastifyRequest): Record<string, string> {
  const who: Record<string, string> = { ip: req.ip };
  const owner = (req.query as Record<string, unknown> | undefined)?.owner;
  if (typeof owner === 'string' && owner) who.owner = owner.slice(0, 128);
  const user = basicAuthOf(req)?.user;
  if (user) who.user = user.slice(0, 128);
  else if (/^bearer\s/i.test(String(req.headers.authorization ?? ''))) who.auth = 'bearer';
  return who;
}

const routeOf = (req: FastifyRequest) => req.routeOptions.url ?? 'unmatched';

export class RequestLog extends LogController {
  override incomingRequest(): void {}

  override routeNotFound(): void {}

  override requestCompleted(error: Error | null | undefined, req: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    const line = {
      method: req.method,
      route: routeOf(req),
      url: redact(req.url),
      status,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      requester: requesterOf(req),
      ...(error ? { err: error } : {}),
    };
    const msg = `${req.method} ${line.route} ${status}`;
    if (status >= 500 || error) req.log.warn(line, msg);
    else req.log.info(line, msg);
  }
}

/** Answers carry their request's id, so a caller can find their lines. */
export function echoRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
  });
}

/** Logs the cause of a failed request (5xx); the logger redacts the message and the error. */
export function logFailure(req: FastifyRequest, err: unknown, status: number): void {
  if (status >= 500) req.log.error({ err, status }, `${req.method} ${routeOf(req)} failed: ${firstLine(err)}`);
}
