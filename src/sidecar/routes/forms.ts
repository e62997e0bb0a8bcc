/**
 * Routes that take kubernaut's forms as CI sends them (`curl -F`: multipart, files included, or
 * urlencoded) as well as JSON. `withForms` gives them an encapsulated scope, so the multipart
 * parser serves those routes only; `bodyOf` reads a request's body in whichever shape it came,
 * a form's fields made into a body by the route's own `toBody`.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { UserError } from '../../errors.ts';
import { BODY_LIMIT } from '../server.ts';

export type FormToBody = (fields: ReadonlyMap<string, string>) => Record<string, unknown>;

const tooLarge = () => new UserError('PayloadTooLarge', `the body is over ${BODY_LIMIT / 1024} KiB`);

/** Registers `routes` in a scope that parses multipart and urlencoded bodies (the latter through `toBody`). */
export function withForms(app: FastifyInstance, toBody: FormToBody, routes: (scope: FastifyInstance) => void): void {
  app.register(async (scope) => {
    await scope.register(multipart, {
      limits: { fileSize: BODY_LIMIT, fieldSize: BODY_LIMIT, fieldNameSize: 100, fields: 200, files: 4, parts: 204 },
      throwFileSizeLimit: true,
    });
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
      done(null, toBody(new Map(new URLSearchParams(String(body)))));
    });
    routes(scope);
  });
}

/** The body of `req`: a multipart form through `toBody`, else what the content parsers made of it. */
export async function bodyOf(req: FastifyRequest, toBody: FormToBody, what: string): Promise<unknown> {
  return req.isMultipart() ? toBody(await formOf(req, what)) : req.body;
}

/** Reads a multipart form, holding every part to the body limit. */
async function formOf(req: FastifyRequest, what: string): Promise<Map<string, string>> {
  if (Number(req.headers['content-length'] ?? 0) > BODY_LIMIT) throw tooLarge();
  const fields = new Map<string, string>();
  let total = 0;
  for await (const part of req.parts()) {
    let value: string;
    if (part.type === 'file') value = (await part.toBuffer()).toString('utf8');
    else {
      if (part.fieldnameTruncated) throw new UserError('BadRequest', `${what}: a form field name is over 100 characters`);
      if (part.valueTruncated) throw tooLarge();
      value = typeof part.value === 'string' ? part.value : JSON.stringify(part.value);
    }
    total += part.fieldname.length + Buffer.byteLength(value);
    if (total > BODY_LIMIT) throw tooLarge();
    if (fields.has(part.fieldname)) throw new UserError('BadRequest', `${what}: form field "${part.fieldname}" is given twice`);
    fields.set(part.fieldname, value);
  }
  return fields;
}
