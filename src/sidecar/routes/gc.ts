/**
 * POST /gc/<token>: a pod says its group's work is done; the group is removed by a commit.
 * The token in the URL is the group's HMAC, so a pod can only remove its own group.
 */
import { z } from 'zod';
import { isTokenShaped, tokenMatches } from '../../../core/gc-token.ts';
import { isDnsLabel } from '../../../core/names.ts';
import { UserError } from '../../errors.ts';
import type { SynthResult } from '../../synth/synthesize.ts';
import { parse, type RouteModule } from '../server.ts';

const Body = z.union([
  z.object({ label: z.string().max(400) }).passthrough(),
  z.object({ group: z.string().max(63) }).passthrough(),
]);

/** `group_id=<g>` or `paddock.dev/group=<g>` (possibly among other comma-separated terms) -> g. */
export function groupFromBody(body: unknown): string {
  const b = parse(Body, body, 'body must be {"label": "group_id=<group>"} or {"group": "<group>"}');
  let group: string | undefined;
  if ('group' in b && typeof b.group === 'string') group = b.group;
  else if ('label' in b && typeof b.label === 'string') {
    for (const term of b.label.split(',')) {
      const m = /^\s*(group_id|paddock\.dev\/group)\s*==?\s*([^\s,]+)\s*$/.exec(term);
      if (m) group = m[2];
    }
    if (!group) throw new UserError('BadRequest', `label "${b.label}" does not name a group: use group_id=<group>`);
  }
  if (!group || !isDnsLabel(group)) throw new UserError('BadRequest', `"${group ?? ''}" is not a group name`);
  return group;
}

/** What a GC call needs of a rendered group, by synthesis (a GC burst asks once a request): its lease, or that GC may not remove it. */
type GcFacts = { readonly lease?: { readonly type: string; readonly name: string }; readonly excluded?: boolean };
const factsBySynth = new WeakMap<SynthResult, ReadonlyMap<string, GcFacts>>();

function gcFactsOf(synth: SynthResult, group: string): GcFacts | undefined {
  let groups = factsBySynth.get(synth);
  if (!groups) {
    groups = new Map(synth.groups.flatMap((g) => (!g.removed && (g.lease || g.gcExcluded) ? [[g.name, { lease: g.lease, excluded: g.gcExcluded }] as const] : [])));
    factsBySynth.set(synth, groups);
  }
  return groups.get(group);
}

export const gcRoutes: RouteModule = (app, ctx) => {
  const missing = async () => {
    throw new UserError('Unauthorized', 'the GC URL has no token: use the GARBAGE_COLLECTOR_URL given to the pod');
  };
  app.post('/gc', missing);
  app.post('/gc/', missing);
  app.post<{ Params: { token: string } }>('/gc/:token', async (req, reply) => {
    const token = req.params.token;
    if (!isTokenShaped(token)) throw new UserError('Unauthorized', 'the GC token is not valid: use the GARBAGE_COLLECTOR_URL given to the pod');
    const group = groupFromBody(req.body);
    if (!tokenMatches(ctx.deps.gcSecret, group, token)) throw new UserError('WrongGroup', `this GC URL is not the one of group "${group}"`);
    const requestedBy = `gc token of ${group} from ${req.ip}`;
    // A lease pool's environment is not removed for good: its resource goes dirty, and the
    // janitor brings it back (a removal would leave a free resource without an environment).
    const ranch = ctx.deps.ranch;
    if (ranch?.scrappedBy(group) !== undefined) return reply.status(200).send({ group, removed: true, status: 'already removed' });
    const facts = gcFactsOf(await ctx.deps.committer.synthesis(), group);
    if (facts?.excluded) throw new UserError('Forbidden', `group "${group}" is paddock's own and no GC call removes it; demolish it or edit its definition`);
    const lease = ranch && facts?.lease;
    if (ranch && lease && ranch.get(lease.name)) {
      const scrapped = await ranch.scrap({ name: lease.name, group, requestId: req.id, requestedBy });
      if (!scrapped) return reply.status(200).send({ group, removed: true, status: 'already removed' });
      return reply.status(202).send({ group, removed: true, status: 'removed', commit: scrapped.commit, lease: { name: lease.name, state: 'dirty' } });
    }
    const answer = await ctx.deps.committer.submit({ body: { kind: 'remove', group, reason: 'gc' }, requestId: req.id, requestedBy });
    if (answer.outcome.status === 'unchanged') return reply.status(200).send({ group, removed: true, status: 'already removed' });
    return reply.status(202).send({ group, removed: true, status: 'removed', commit: answer.commit });
  });
};
