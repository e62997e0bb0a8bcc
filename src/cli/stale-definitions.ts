/**
 * `push`, `demolish` and `revive` commit the whole tree their `--definitions` render, as every
 * writer does. From a checkout older than the one the repo was last rendered from, that commit
 * would also drop the groups others added since (Argo CD then prunes them, volumes included),
 * bring back the ones they deleted and undo their edits. So before any of them commits
 * (src/repo/definitions-order.ts tells how the definitions stand):
 *
 * - the tip's definitions, or a checkout that contains the tip's definitions commit (newer ones
 *   are a legitimate writer: the watcher may not have caught up yet): go;
 * - a checkout that does not contain it (older, another branch, not pulled): refused;
 * - no commits to order them by (definitions outside git, a shallow clone): `demolish` and
 *   `revive` are refused only when the render would drop groups live at the tip, naming them.
 *   `push` exists to render new definitions, dropped groups included: it goes.
 *
 * The committer looks again at every try (the tip may move before the push). `--allow-definitions-change`
 * skips both.
 */
import { UserError } from '../errors.ts';
import type { Committer } from '../repo/committer.ts';
import { standing, type Behind, type WhenBehind } from '../repo/definitions-order.ts';
import { lostGroups } from '../repo/plan.ts';
import type { DefinitionSet } from '../repo/types.ts';

type Command = 'push' | 'demolish' | 'revive' | 'settings set';

export async function refuseStaleDefinitions(c: Committer, defs: DefinitionSet, command: Exclude<Command, 'settings set'>): Promise<void> {
  const s = await standing(await c.tipMessage(), defs);
  if (s.kind === 'behind') throw behindError(command, s);
  if (s.kind === 'current' || command === 'push') return;
  const lost = lostGroups(c.view(), await c.synthesis());
  if (lost.length) {
    const named = `${lost.slice(0, 5).join(', ')}${lost.length > 5 ? `, ... (${lost.length})` : ''}`;
    throw new UserError('Conflict', `your definitions are not the ones the repo was last rendered from (${s.tipDigest}), and would also remove ${named}: ${command} from those definitions, or give --allow-definitions-change`);
  }
}

/** The committer's check at each try (the tip may move between the first look and the push): refused the same way. */
export function refuseBehind(command: Command): WhenBehind {
  return { refuse: (s) => behindError(command, s) };
}

function behindError(command: Command, s: Behind): UserError {
  return new UserError('Conflict', `the repo was last rendered from definitions commit ${s.tipCommit.slice(0, 12)}, which your checkout (at ${s.ours.slice(0, 12)}) does not contain: ${command} from a checkout that contains it, or give --allow-definitions-change`);
}
