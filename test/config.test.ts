/**
 * Settings that reach manifests (CONTRACT "Safety": secrets never in manifests; Applications
 * never use `default`): the repo URL Argo CD reads and the project paddock writes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { argoOptions, withoutCredentials } from '../src/config.ts';
import { UserError } from '../src/errors.ts';

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
    expect(argoOptions(url, 'main').repoURL).toBe(expected);
  });

  it('GIVEN PADDOCK_ARGO_PROJECT=default WHEN read THEN InvalidConfig: paddock never writes Argo CD\'s default project', () => {
    process.env.PADDOCK_ARGO_PROJECT = 'default';
    expect(() => argoOptions('git://h/m.git', 'main')).toThrow(UserError);
    expect(() => argoOptions('git://h/m.git', 'main')).toThrow(/cannot be "default"/);
  });

  it('GIVEN no PADDOCK_ARGO_PROJECT WHEN read THEN the project is paddock', () => {
    expect(argoOptions('git://h/m.git', 'main').project).toBe('paddock');
  });
});
