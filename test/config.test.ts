/**
 * Settings that reach manifests (CONTRACT "Safety": secrets never in manifests; Applications
 * never use `default`): the repo URL Argo CD reads and the project paddock writes, as a writer
 * proposes them for the repo's first commit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { repoSettings } from '../src/cli/options.ts';
import { withoutCredentials } from '../core/urls.ts';
import { UserError } from '../src/errors.ts';
import { decideSettings } from '../src/repo/settings.ts';

const proposed = (repo: string, argoRepoUrl?: string) => decideSettings(undefined, { ...repoSettings({ repo, argoRepoUrl }).writer, gcSecret: 's' }).record;

describe('what settings put into the Applications', () => {
  afterEach(() => {
    delete process.env.PADDOCK_ARGO_PROJECT;
  });

  it.each([
    ['https://deploy:ghp_secret@git.example.com/m.git', 'https://git.example.com/m.git'],
    ['https://ghp_token@git.example.com/m.git', 'https://git.example.com/m.git'],
    ['ssh://git:pw@git.example.com/m.git', 'ssh://git.example.com/m.git'],
    ['ssh://git@git.example.com/m.git', 'ssh://git@git.example.com/m.git'],
    ['git@git.example.com:platform/m.git', 'git@git.example.com:platform/m.git'],
    ['git://127.0.0.1:9418/manifests.git', 'git://127.0.0.1:9418/manifests.git'],
    ['/srv/git/manifests.git', '/srv/git/manifests.git'],
  ])('GIVEN the repo URL %s WHEN written for Argo CD THEN it is %s', (url, expected) => {
    expect(withoutCredentials(url)).toBe(expected);
    expect(proposed(url).argo.repoURL).toBe(expected);
    expect(proposed('/elsewhere.git', url).argo.repoURL).toBe(expected);
  });

  it('GIVEN PADDOCK_ARGO_PROJECT=default WHEN read THEN InvalidConfig: paddock never writes Argo CD\'s default project', () => {
    process.env.PADDOCK_ARGO_PROJECT = 'default';
    expect(() => proposed('git://h/m.git')).toThrow(UserError);
    expect(() => proposed('git://h/m.git')).toThrow(/argo.project "default": cannot be "default"/);
  });

  it('GIVEN no PADDOCK_ARGO_PROJECT WHEN read THEN the project is paddock', () => {
    expect(proposed('git://h/m.git').argo.project).toBe('paddock');
  });
});
