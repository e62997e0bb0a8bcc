/** `paddock push`, `demolish`, `revive`: one-shot writes through the committer. */
import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { Committer } from '../repo/committer.ts';
import { groupOfAppPath } from '../synth/layout.ts';
import { cliRequestId, loadDefinitionSet, repoOptions, repoSettings, requester, type RepoFlags } from './options.ts';
import { reportCommits } from './argo.ts';
import { claimWorkDir } from './cache.ts';
import { refuseBehind, refuseStaleDefinitions } from './stale-definitions.ts';
import type { WriterSettings } from '../repo/settings.ts';
import type { WhenBehind } from '../repo/definitions-order.ts';
import type { DefinitionSet } from '../repo/types.ts';

/**
 * Runs `fn` with a committer for the repo `f` names (its writer settings, or `writer` instead),
 * working in the cached work tree when no other command holds it, so the call fetches only what
 * changed since the last one. The fetch runs while the definitions load (both wait on other
 * processes: git, esbuild); an error in the definitions is the one reported when both fail.
 */
export async function withCommitter<T>(f: RepoFlags, fn: (c: Committer, defs: DefinitionSet) => Promise<T>, opts: { readonly writer?: WriterSettings; readonly whenBehind?: WhenBehind } = {}): Promise<T> {
  const s = repoSettings(f);
  const work = claimWorkDir(s.repo, s.branch);
  let defs: DefinitionSet | undefined;
  let c: Committer | undefined;
  const report = reportCommits(() => c);
  c = new Committer({
    repo: s.repo,
    branch: s.branch,
    definitions: () => {
      if (!defs) throw new Error('the definitions are not loaded yet');
      return defs;
    },
    writer: opts.writer ?? s.writer,
    whenBehind: opts.whenBehind,
    allowMassRemoval: f.allowMassRemoval,
    onCommit: report.onCommit,
    // The cached work tree outlives this process, which pushes once: each push checks its housekeeping.
    ...(work ? { workDir: work.dir, maintainEvery: 1 } : {}),
  });
  try {
    const [loaded, fetched] = await Promise.allSettled([loadDefinitionSet(s.definitionsDir), c.refresh()]);
    if (loaded.status === 'rejected') throw loaded.reason;
    if (fetched.status === 'rejected') throw fetched.reason;
    defs = loaded.value;
    return await fn(c, defs);
  } finally {
    await report.flush();
    await c.close();
    work?.release();
  }
}

export function registerRepoCommands(program: Command): void {
  allowDefinitionsChange(repoOptions(program.command('push').description('synthesize the definitions and commit the result to the manifests repo (no commit when nothing changed)')))
    .action(async (f: RepoFlags & { allowDefinitionsChange?: boolean }) => {
      await withCommitter(f, async (c, defs) => {
        if (!f.allowDefinitionsChange) await refuseStaleDefinitions(c, defs, 'push');
        const a = await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): push from the CLI' }, requestId: cliRequestId('push'), requestedBy: requester() });
        if (!a.commit) console.log('nothing changed: no commit');
      }, { whenBehind: f.allowDefinitionsChange ? undefined : refuseBehind('push') });
    });

  allowDefinitionsChange(repoOptions(program.command('demolish').description('commit the removal of groups (Argo CD prunes their resources)').argument('[groups...]', 'groups to remove')))
    .option('--all', 'remove every group')
    .action(async (groups: string[], f: RepoFlags & { all?: boolean; allowDefinitionsChange?: boolean }) => {
      if (!f.all && !groups.length) throw new UserError('BadRequest', 'name the groups to demolish, or give --all');
      if (f.all && groups.length) throw new UserError('BadRequest', 'give group names or --all, not both');
      await withCommitter(f, async (c, defs) => {
        if (!f.allowDefinitionsChange) await refuseStaleDefinitions(c, defs, 'demolish');
        const view = c.view(); // fetched as the definitions loaded
        const targets = f.all
          ? [...view.files.keys()].map(groupOfAppPath).filter((g): g is string => !!g)
          : groups;
        if (!targets.length) {
          console.log('no groups to demolish');
          return;
        }
        // All or nothing: a name that is no group stops the command before anything is committed.
        const known = new Set([...(await c.synthesis()).groups.map((g) => g.name), ...view.state.removals.keys()]);
        const unknown = targets.filter((g) => !known.has(g));
        if (unknown.length) throw new UserError('UnknownGroup', `${unknown.map((g) => `"${g}"`).join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not defined; nothing was demolished`);
        const id = cliRequestId('demolish');
        const answers = await Promise.allSettled(targets.map((group, i) => c.submit({ body: { kind: 'remove', group, reason: 'demolish' }, requestId: `${id}-${i}`, requestedBy: requester() })));
        const failed = answers.map((a, i) => [a, targets[i]] as const).filter(([a]) => a.status === 'rejected');
        answers.forEach((a, i) => {
          if (a.status === 'fulfilled' && a.value.outcome.status === 'unchanged') console.log(`${targets[i]}: already removed`);
        });
        if (failed.length) {
          for (const [a] of failed.slice(1)) console.error(`paddock: ${((a as PromiseRejectedResult).reason as Error).message}`);
          throw (failed[0][0] as PromiseRejectedResult).reason;
        }
      }, { whenBehind: f.allowDefinitionsChange ? undefined : refuseBehind('demolish') });
    });

  allowDefinitionsChange(repoOptions(program.command('revive').description('undo the removal of a group').argument('<group>', 'the group to bring back')))
    .action(async (group: string, f: RepoFlags & { allowDefinitionsChange?: boolean }) => {
      await withCommitter(f, async (c, defs) => {
        if (!f.allowDefinitionsChange) await refuseStaleDefinitions(c, defs, 'revive');
        const a = await c.submit({ body: { kind: 'revive', group }, requestId: cliRequestId('revive'), requestedBy: requester() });
        if (a.outcome.status === 'unchanged') console.log(`${group} is not removed: nothing to do`);
      }, { whenBehind: f.allowDefinitionsChange ? undefined : refuseBehind('revive') });
    });
}

export function allowDefinitionsChange(cmd: Command): Command {
  return cmd.option('--allow-definitions-change', 'commit what your definitions render even when the repo was last rendered from newer or other ones (their groups change too)');
}
