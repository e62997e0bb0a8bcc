/**
 * Releases, kubernaut-compatible: CI posts a service's new version (and, if it likes, the
 * mustache template of its manifests); paddock records it under `state/releases/` and the
 * service's `Release` constructs render it, all in one commit.
 *
 * - `POST /api/releases`: kubernaut's multipart form (`service`, `version`, `registry`,
 *   `comment`, `image`, `namespace`, a `template` file, every other field an attribute), a
 *   urlencoded form of the same fields, or JSON `{service, version, image?, namespace?,
 *   template?, attributes?, registry?, comment?}`. A template is rendered with the release's
 *   own fields before anything is committed; one that does not give Kubernetes objects is a 400.
 * - `GET /api/releases?service&version&registry&limit&offset&sort&order`: `{count, limit,
 *   offset, items}`, soft-deleted releases left out; newest first, 20 a page (at most 100);
 *   `sort` is `createdAt` (kubernaut's `created`), `version`, `service` or `registry`.
 * - `GET /api/releases/:id`: the release, its template, whether it is `active` (rendered by
 *   some `Release` of its service: one that follows every release renders the newest, one that
 *   follows deployments the one last deployed to its context), and `manifests`: the files under
 *   the groups of those `Release`s rendered from it. They are found by name: with a template
 *   (the release's or the `Release`'s), the files of the kinds and names it renders (with the
 *   release's own attributes; a definition's attributes are not known here); without one, the
 *   files that run its image.
 * - `DELETE /api/releases/:id`: soft delete; the service rolls back to its previous release.
 *
 * Where this differs from kubernaut itself: the upload answers 201 with the release (kubernaut:
 * 200 `{id}`); the core fields (`registry`, `image`, ...) are the record's own, not attributes,
 * though templates see them at the top level all the same; a template is refused unless it
 * renders, with the release's own fields, to Kubernetes objects (kubernaut only checks syntax).
 *
 * The rules (checks against the `Release` constructs, views, order) are src/releases'; this file
 * parses forms and JSON, submits and answers.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { DNS_LABEL } from '../../../core/names.ts';
import type { ReleaseRecord } from '../../../core/records.ts';
import { UserError } from '../../errors.ts';
import { checkRelease, DEFAULT_REGISTRY, manifestsOf, publicRelease, RELEASE_ID, renderingsOf, sortReleases } from '../../releases/index.ts';
import { BODY_LIMIT, parse, type RouteModule } from '../server.ts';
import { bodyOf, withForms } from './forms.ts';

/** Form fields that are release fields; every other field is an attribute. */
const FIELDS = ['service', 'version', 'registry', 'comment', 'template', 'image', 'namespace'] as const;

const label = (what: string) => z.string().max(63, `must be at most 63 characters`).regex(DNS_LABEL, `must be a DNS label (lowercase letters, digits and "-"), like "my-${what}"`);
const ReleaseBody = z.object({
  service: label('service'),
  version: z.string().min(1, 'is required').max(128, 'must be at most 128 characters').regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  image: z.string().max(512, 'must be at most 512 characters').regex(/^\S+$/, 'must not contain spaces').optional(),
  namespace: label('namespace').optional(),
  registry: z.string().max(63, 'must be at most 63 characters').regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "_" and "-"').optional(),
  comment: z.string().max(1024, 'must be at most 1024 characters').optional(),
  template: z.string().max(BODY_LIMIT).optional(),
  attributes: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,62}$/, 'attribute names are letters, digits, "_" and "-", starting with a letter or "_"'), z.string().max(4096, 'attribute values must be at most 4096 characters'))
    .refine((a) => Object.keys(a).length <= 100, 'at most 100 attributes')
    .optional(),
}).strict();
type ReleaseInput = z.infer<typeof ReleaseBody>;

const ListQuery = z.object({
  service: z.string().max(63).optional(),
  version: z.string().max(128).optional(),
  registry: z.string().max(63).optional(),
  limit: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(100, 'must be at most 100').default(20),
  offset: z.coerce.number().int('must be a whole number').min(0, 'must be 0 or more').max(1_000_000_000).default(0),
  /** `created` is kubernaut's name for `createdAt`. */
  sort: z.enum(['createdAt', 'created', 'version', 'service', 'registry']).default('createdAt'),
  order: z.enum(['asc', 'desc']).default('desc'),
});


/** A kubernaut form's fields as a release body: the known fields, and every other one an attribute. */
export function bodyOfForm(fields: ReadonlyMap<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const attributes: Record<string, string> = {};
  for (const [name, value] of fields) {
    if ((FIELDS as readonly string[]).includes(name)) body[name] = value;
    else attributes[name] = value;
  }
  if (Object.keys(attributes).length) body.attributes = attributes;
  return body;
}

/** Empty optional fields (`-F comment=` from an unset CI variable) count as absent. */
function withoutEmpty(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const k of ['image', 'namespace', 'registry', 'comment', 'template']) if (out[k] === '') delete out[k];
  return out;
}


export const releaseRoutes: RouteModule = (app, ctx) => {
  withForms(app, bodyOfForm, (scope) => {

    const all = async (reply: FastifyReply) => (await ctx.latest(reply)).state.releases;
    /** The release with that id, the releases of its service, and the repo files, at the remote's tip. */
    const find = async (id: string, reply: FastifyReply) => {
      // Checked before anything else: an id never reaches a path or a lookup unless id-shaped.
      if (!RELEASE_ID.test(id)) throw new UserError('NotFound', `release "${id.slice(0, 80)}" does not exist`);
      const view = await ctx.latest(reply);
      for (const [, list] of view.state.releases) {
        const r = list.find((x) => x.id === id);
        if (r) return { r, list, files: view.files, deployments: view.state.deployments.get(r.service) ?? [] };
      }
      throw new UserError('NotFound', `release "${id}" does not exist`);
    };

    scope.post('/api/releases', async (req, reply) => {
      ctx.requireToken(req);
      const raw = await bodyOf(req, bodyOfForm, 'release');
      const input: ReleaseInput = parse(ReleaseBody, withoutEmpty(raw), 'release');
      const id = ctx.newId();
      if (!RELEASE_ID.test(id)) throw new Error(`release id "${id}" from newId is not id-shaped`);
      const attributes = input.attributes ?? {};
      const record: ReleaseRecord = {
        id,
        service: input.service,
        version: input.version,
        ...(input.image !== undefined ? { image: input.image } : {}),
        ...(input.namespace !== undefined ? { namespace: input.namespace } : {}),
        registry: input.registry ?? DEFAULT_REGISTRY,
        ...(input.comment !== undefined ? { comment: input.comment } : {}),
        attributes,
        ...(input.template !== undefined ? { template: input.template } : {}),
        createdAt: ctx.clock().toISOString(),
      };
      const targets = (await ctx.deps.committer.synthesis()).releases.get(record.service) ?? [];
      if (!targets.length) throw new UserError('UnknownService', `release: no Release in the definitions renders service "${record.service}"`);
      await checkRelease(record, targets);
      const answer = await ctx.deps.committer.submit({
        body: { kind: 'release', record },
        requestId: req.id,
        requestedBy: `release API from ${req.ip}`,
      });
      return reply.status(201).send({ ...publicRelease(answer.outcome.value as ReleaseRecord), commit: answer.commit ?? null });
    });

    // Reads need a token too, as the contract has it for every release call.
    scope.get('/api/releases', async (req, reply) => {
      ctx.requireToken(req);
      const q = parse(ListQuery, req.query, 'release query');
      const items = [...(await all(reply)).values()].flat().filter((r) => !r.deletedAt
        && (q.service === undefined || r.service === q.service)
        && (q.version === undefined || r.version === q.version)
        && (q.registry === undefined || (r.registry ?? DEFAULT_REGISTRY) === q.registry));
      sortReleases(items, q.sort, q.order);
      return { count: items.length, limit: q.limit, offset: q.offset, items: items.slice(q.offset, q.offset + q.limit).map(publicRelease) };
    });

    scope.get<{ Params: { id: string } }>('/api/releases/:id', async (req, reply) => {
      ctx.requireToken(req);
      const { r, list, files, deployments } = await find(req.params.id, reply);
      if (r.deletedAt) throw new UserError('NotFound', `release "${r.id}" was deleted at ${r.deletedAt}`);
      const renderings = renderingsOf(r, list, deployments, (await ctx.deps.committer.synthesis()).releases.get(r.service) ?? []);
      return { ...publicRelease(r), template: r.template ?? null, active: renderings.length > 0, manifests: manifestsOf(r, renderings, files) };
    });

    scope.delete<{ Params: { id: string } }>('/api/releases/:id', async (req, reply) => {
      ctx.requireToken(req);
      const { r } = await find(req.params.id, reply);
      await ctx.deps.committer.submit({
        body: { kind: 'delete-release', service: r.service, id: r.id },
        requestId: req.id,
        requestedBy: `release API from ${req.ip}`,
      });
      return reply.status(204).send();
    });
  });
};
