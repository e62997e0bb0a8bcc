/** `paddock settings [set KEY VALUE]`: the repo's shared settings (`state/settings.yaml`), shown or changed by a commit. */
import type { Command } from 'commander';
import { secret } from '../config.ts';
import { UserError } from '../errors.ts';
import { describeSettings, settingKey, type WriterSettings } from '../repo/settings.ts';
import { Committer } from '../repo/committer.ts';
import { cliRequestId, repoOptions, repoSettings, requester, type RepoFlags } from './options.ts';
import { allowDefinitionsChange, withCommitter } from './repo-commands.ts';
import { refuseBehind } from './stale-definitions.ts';

export function registerSettings(program: Command): void {
  const settings = repoOptions(program.command('settings').description("show the repo's settings (state/settings.yaml): sidecar URL, Argo CD repo URL, branch, namespace, project, GC secret fingerprint"))
    .action(async (f: RepoFlags) => {
      const s = repoSettings(f);
      const c = new Committer({ repo: s.repo, branch: s.branch, definitions: () => ({ definitions: [], version: 0 }), writer: s.writer });
      try {
        const view = await c.refresh();
        if (!view.state.settings) {
          console.log('no settings recorded yet: the first commit records them from its flags and environment');
          return;
        }
        for (const line of describeSettings(view.state.settings)) console.log(line);
        if (c.settingsProblem) console.log(`this shell's writers would refuse: ${c.settingsProblem.message}`);
      } finally {
        await c.close();
      }
    });

  allowDefinitionsChange(repoOptions(settings.command('set').description('change one setting for every writer, as a commit that regenerates what it changes (gcSecret: VALUE is a file holding the new secret)')
    .argument('<key>', 'sidecarUrl, argo.repoURL, argo.targetRevision, argo.namespace, argo.project, or gcSecret')
    .argument('<value>', 'the new value (gcSecret: a file holding the new secret)')))
    .action(async (name: string, value: string, _f: RepoFlags, cmd: Command) => {
      // Repo flags may come before `set` (the parent's) or after it.
      const f = cmd.optsWithGlobals<RepoFlags & { allowDefinitionsChange?: boolean }>();
      const s = repoSettings(f);
      // Only the setting being changed is taken from this command; every other one stays the repo's.
      let writer: WriterSettings;
      if (name === 'gcSecret' || name === 'gc-secret') {
        const current = s.writer.gcSecret;
        if (!current) throw new UserError('GcSecretMissing', 'rotating the GC secret needs the current one: set PADDOCK_GC_SECRET or give --gc-secret-file');
        const next = secret('PADDOCK_NEW_GC_SECRET', value);
        writer = { ...s.writer, claims: {}, gcSecret: next, change: { key: 'gcSecret', previous: current } };
      } else {
        writer = { ...s.writer, claims: {}, change: { key: settingKey(name), value } };
      }
      // It renders the whole tree too: from a checkout older than the repo's definitions, refused.
      await withCommitter(f, async (c) => {
        const what = writer.change!.key === 'gcSecret' ? 'rotate the GC secret' : `set ${writer.change!.key}`;
        const a = await c.submit({ body: { kind: 'sync', summary: `settings(repo): ${what}` }, requestId: cliRequestId('settings'), requestedBy: requester() });
        if (!a.commit) console.log('the repo already has that setting: no commit');
      }, { writer, whenBehind: f.allowDefinitionsChange ? undefined : refuseBehind('settings set') });
    });
}
