/**
 * `demolish` and `revive` commit the whole tree their `--definitions` render, as every writer
 * does. From a checkout older than the one the repo was last rendered from, that commit would
 * also drop the groups others added since (Argo CD then prunes them, volumes included), bring
 * back the ones they deleted and undo their edits. So before either commits:
 *
 * - the same definitions as the tip's (its `Paddock-Definitions` digest): go;
 * - both sides know their definitions commit: go when the checkout's commit contains the tip's
 *   (newer definitions are a legitimate writer: the watcher may not have caught up yet), refuse
 *   when it does not (older, or another branch);
 * - otherwise (no commit on a side, a modified tip, a shallow clone that cannot tell): refuse
 *   only when the render would drop groups live at the tip, naming them.
 *
 * `push` exists to render new definitions, dropped groups included: it gets the commit rule only
 * (as git refuses a push that is not a fast-forward). `--allow-definitions-change` skips the check.
 */
import { UserError } from '../errors.ts';
import type { Committer } from '../repo/committer.ts';
import { containsCommit } from '../repo/git/index.ts';
import { lostGroups } from '../repo/plan.ts';
import type { DefinitionSet } from '../repo/types.ts';
import { trailer } from '../repo/verify.ts';
import { definitionsDigest } from '../synth/loader.ts';

export async function refuseStaleDefinitions(c: Committer, defs: DefinitionSet, dir: string, command: 'push' | 'demolish' | 'revive'): Promise<void> {
  const tip = await c.tipMessage();
  const theirs = tip && trailer(tip, 'Paddock-Definitions');
  if (!theirs || theirs === definitionsDigest(defs.definitions, defs.broken)) return;
  const hint = `${command} from a checkout that contains it, or give --allow-definitions-change`;

  const tipCommit = trailer(tip, 'Paddock-Definitions-Commit');
  const ours = defs.commit?.split(' ')[0];
  if (tipCommit && /^[0-9a-f]{40,64}$/.test(tipCommit) && ours) {
    const contains = await containsCommit(dir, ours, tipCommit);
    if (contains) return;
    if (contains === false) {
      throw new UserError('Conflict', `the repo was last rendered from definitions commit ${tipCommit.slice(0, 12)}, which your checkout (at ${ours.slice(0, 12)}) does not contain: ${hint}`);
    }
  }
  if (command === 'push') return;
  const lost = lostGroups(c.view(), await c.synthesis());
  if (lost.length) {
    const named = `${lost.slice(0, 5).join(', ')}${lost.length > 5 ? `, ... (${lost.length})` : ''}`;
    throw new UserError('Conflict', `your definitions are not the ones the repo was last rendered from (${theirs}), and would also remove ${named}: ${hint}`);
  }
}
