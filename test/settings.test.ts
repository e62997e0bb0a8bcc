/**
 * One truth across writers (CONTRACT "Safety": every writer makes the same commit): the repo's
 * settings and GC secret fingerprint in `state/settings.yaml`, held against every writer's flags.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { decideSettings, secretFingerprint, type WriterSettings } from '../src/repo/settings.ts';
import { UserError } from '../src/errors.ts';
import { gcUrl } from '../core/gc-token.ts';
import { paddock, startServe } from './helpers/cli.ts';
import { freePort } from './helpers/git-daemon.ts';
import { bareRepo, committer, gitOut, loadSet, remoteFile, remoteFiles, rid, testWriter } from './helpers/repo.ts';
import { call, startSidecar } from './helpers/sidecar.ts';
import { definitionsDir, TEST_SECRET, tempDir } from './helpers/synth.ts';

const writer = (extra: Partial<WriterSettings> = {}): WriterSettings => testWriter('git://git.test/m.git', extra);
const errorOf = (f: () => unknown): UserError => {
  try {
    f();
  } catch (e) {
    if (e instanceof UserError) return e;
    throw e;
  }
  throw new Error('no error');
};
/** `n` groups `g-<i>`, each one Deployment: every container carries its group's GC URL. */
const appsSource = (n: number) => `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  for (let i = 0; i < ${n}; i++) {
    const env = new Environment(scope, 'g-' + i, { namespace: 'ns' });
    new ApiObject(env, 'app', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app-' + i },
      spec: { selector: { matchLabels: { app: 'a' + i } }, template: { metadata: { labels: { app: 'a' + i } }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } } } });
  }
};`;
const gcUrls = (remote: string): string[] =>
  remoteFiles(remote).filter((f) => f.startsWith('groups/')).flatMap((f) => [...remoteFile(remote, f).matchAll(/value: (http\S+\/gc\/\S+)/g)].map((m) => m[1])).sort();

describe('settings: the record and a writer held against it', () => {
  it('GIVEN no record WHEN a writer decides THEN its claims over its defaults are recorded with the secret\'s fingerprint, never the secret', () => {
    const d = decideSettings(undefined, writer({ claims: { sidecarUrl: { value: 'http://gc.example:8080', from: '--sidecar-url' } } }));
    expect(d.write).toBe(true);
    expect(d.record).toEqual({
      sidecarUrl: 'http://gc.example:8080',
      argo: { repoURL: 'git://git.test/m.git', targetRevision: 'main', namespace: 'argocd', project: 'paddock' },
      gcSecretFingerprint: secretFingerprint(TEST_SECRET),
    });
    expect(JSON.stringify(d.record)).not.toContain(TEST_SECRET);
    expect(secretFingerprint(TEST_SECRET)).not.toBe(secretFingerprint(`${TEST_SECRET}x`));
  });

  it('GIVEN a record WHEN a writer claims another value THEN SettingsMismatch names the flag, both values and the command that changes it', () => {
    const recorded = decideSettings(undefined, writer()).record;
    const e = errorOf(() => decideSettings(recorded, writer({ claims: { sidecarUrl: { value: 'http://other:1', from: '--sidecar-url' } } })));
    expect(e.code).toBe('SettingsMismatch');
    expect(e.message).toBe('--sidecar-url "http://other:1" disagrees with the repo\'s sidecarUrl "http://sidecar.test:8080" (state/settings.yaml); drop it, or change the repo\'s with: paddock settings set sidecarUrl http://other:1');
    // without the claim the writer follows the record, whatever its defaults
    const follower = decideSettings(recorded, writer({ defaults: { ...writer().defaults, sidecarUrl: 'http://default:9' } }));
    expect(follower).toEqual({ record: recorded, write: false, changes: [] });
  });

  it('GIVEN a record WHEN the secret is missing or another THEN GcSecretMissing or GcSecretMismatch, showing fingerprints only', () => {
    const recorded = decideSettings(undefined, writer()).record;
    expect(errorOf(() => decideSettings(recorded, writer({ gcSecret: undefined }))).code).toBe('GcSecretMissing');
    const wrong = errorOf(() => decideSettings(recorded, writer({ gcSecret: 'another' })));
    expect(wrong.code).toBe('GcSecretMismatch');
    expect(wrong.message).not.toContain('another');
    expect(wrong.message).not.toContain(TEST_SECRET);
    // synth commits nothing: no secret is fine there, the record's settings still hold
    expect(decideSettings(recorded, writer({ gcSecret: undefined }), { secret: 'optional' }).record).toEqual(recorded);
  });

  it('GIVEN a writer that adopts (paddock up on its own repo) WHEN its claims or secret changed THEN it records them and says what changed', () => {
    const recorded = decideSettings(undefined, writer()).record;
    const d = decideSettings(recorded, writer({ adopt: true, gcSecret: 'new', claims: { sidecarUrl: { value: 'http://127.0.0.1:9090', from: '--listen' } } }));
    expect(d.write).toBe(true);
    expect(d.record.sidecarUrl).toBe('http://127.0.0.1:9090');
    expect(d.record.gcSecretFingerprint).toBe(secretFingerprint('new'));
    expect(d.changes).toEqual([expect.stringMatching(/^sidecarUrl: http:\/\/sidecar.test:8080 -> http:\/\/127.0.0.1:9090$/), expect.stringMatching(/^gcSecret: fingerprint .* \(every GC URL changes\)$/)]);
  });

  it('GIVEN a rotation WHEN the current secret is not the repo\'s THEN it is refused; WHEN it is THEN the new fingerprint is recorded', () => {
    const recorded = decideSettings(undefined, writer()).record;
    expect(errorOf(() => decideSettings(recorded, writer({ gcSecret: 'new', change: { key: 'gcSecret', previous: 'guess' } }))).code).toBe('GcSecretMismatch');
    const d = decideSettings(recorded, writer({ gcSecret: 'new', change: { key: 'gcSecret', previous: TEST_SECRET } }));
    expect(d.record.gcSecretFingerprint).toBe(secretFingerprint('new'));
  });

  it('GIVEN a bad value WHEN set THEN InvalidConfig names the setting', () => {
    const recorded = decideSettings(undefined, writer()).record;
    expect(errorOf(() => decideSettings(recorded, writer({ change: { key: 'argo.project', value: 'default' } }))).message).toMatch(/^setting argo.project "default": cannot be "default"/);
    expect(errorOf(() => decideSettings(recorded, writer({ change: { key: 'sidecarUrl', value: 'not a url' } }))).message).toMatch(/^setting sidecarUrl "not a url": must be an http\(s\) URL/);
  });
});

describe('settings: committers on one repo', () => {
  it('GIVEN a first commit THEN state/settings.yaml holds the settings and a fingerprint; a writer with other flags is refused and the remote is unchanged; one without follows the repo', async () => {
    const remote = await bareRepo();
    const set = await loadSet({ 'g.ts': appsSource(3) });
    const first = committer(remote, set);
    await first.submit({ body: { kind: 'sync', summary: 'sync(definitions): first' }, requestId: rid(), requestedBy: 'test' });
    await first.close();
    const record = YAML.parse(remoteFile(remote, 'state/settings.yaml'));
    expect(record).toEqual({ sidecarUrl: 'http://sidecar.test:8080', argo: { repoURL: remote, targetRevision: 'main', namespace: 'argocd', project: 'paddock' }, gcSecretFingerprint: secretFingerprint(TEST_SECRET) });
    for (const f of remoteFiles(remote)) expect(remoteFile(remote, f)).not.toContain(TEST_SECRET);
    const urls = gcUrls(remote);
    expect(urls).toHaveLength(3);

    const head = gitOut(remote, 'rev-parse', 'main');
    const other = committer(remote, set, { writer: testWriter(remote, { claims: { sidecarUrl: { value: 'http://elsewhere:8080', from: 'PADDOCK_SIDECAR_URL' } } }) });
    await expect(other.submit({ body: { kind: 'remove', group: 'g-1', reason: 'demolish' }, requestId: rid(), requestedBy: 'test' })).rejects.toMatchObject({ code: 'SettingsMismatch' });
    expect(other.settingsProblem?.code).toBe('SettingsMismatch');
    await other.close();
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);

    // defaults that differ are not claims: the repo's settings win, so no GC URL changes
    const follower = committer(remote, set, { writer: testWriter('/some/other/path.git', { defaults: { ...testWriter(remote).defaults, sidecarUrl: 'http://default:1' } }) });
    const a = await follower.submit({ body: { kind: 'remove', group: 'g-1', reason: 'demolish' }, requestId: rid(), requestedBy: 'test' });
    await follower.close();
    expect(a.commit).toBeDefined();
    const after = gcUrls(remote);
    expect(after).toHaveLength(2);
    expect(after.every((u) => urls.includes(u))).toBe(true);
    expect(gitOut(remote, 'log', '-1', '--format=%B', 'main')).toMatch(/^Paddock-Version: \S+\nPaddock-Definitions: sha256:[0-9a-f]{64}$/m);
  });
});

describe('settings: the CLI and the sidecar refuse what would break the repo', () => {
  async function pushedRepo() {
    const remote = await bareRepo();
    const defs = definitionsDir({ 'g.ts': appsSource(3) });
    const first = await paddock(['push', '--repo', remote, '--definitions', defs], { env: { PADDOCK_GC_SECRET: TEST_SECRET } });
    expect(first.code, first.stderr).toBe(0);
    return { remote, defs };
  }

  it('GIVEN a repo WHEN paddock demolish runs without the secret, with a wrong one, or with another --sidecar-url THEN exit 1, one line, remote HEAD unchanged', async () => {
    const { remote, defs } = await pushedRepo();
    const head = gitOut(remote, 'rev-parse', 'main');
    const cases: Array<[Record<string, string | undefined>, string[], RegExp]> = [
      [{ PADDOCK_GC_SECRET: undefined }, [], /^paddock: no GC secret: .*fingerprint .*set PADDOCK_GC_SECRET or give --gc-secret-file\n$/],
      [{ PADDOCK_GC_SECRET: 'wrong-secret' }, [], /^paddock: the GC secret is not the repo's \(fingerprint \S+, the repo's \S+\); .*\n$/],
      [{ PADDOCK_GC_SECRET: TEST_SECRET }, ['--sidecar-url', 'http://other:1'], /^paddock: --sidecar-url "http:\/\/other:1" disagrees with the repo's sidecarUrl "http:\/\/paddock-sidecar.paddock.svc:8080" .*\n$/],
    ];
    for (const [env, flags, line] of cases) {
      const r = await paddock(['demolish', '--repo', remote, '--definitions', defs, ...flags, 'g-0'], { env });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(line);
      expect(r.stderr).not.toContain('wrong-secret');
      expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
    }
  });

  it('GIVEN a repo WHEN paddock settings set changes the sidecar URL and rotates the secret THEN each is one commit that changes every GC URL, and paddock settings shows them', async () => {
    const { remote, defs } = await pushedRepo();
    const before = gcUrls(remote);
    const set = await paddock(['settings', 'set', 'sidecarUrl', 'http://gc.example:8080', '--repo', remote, '--definitions', defs], { env: { PADDOCK_GC_SECRET: TEST_SECRET } });
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/settings changed by this writer: sidecarUrl: http:\/\/paddock-sidecar.paddock.svc:8080 -> http:\/\/gc.example:8080/);
    const after = gcUrls(remote);
    expect(after.every((u) => u.startsWith('http://gc.example:8080/gc/'))).toBe(true);
    expect(after.map((u) => u.split('/gc/')[1])).toEqual(before.map((u) => u.split('/gc/')[1]));
    expect(gitOut(remote, 'log', '-1', '--format=%s', 'main')).toBe('settings(repo): set sidecarUrl');

    const again = await paddock(['settings', 'set', 'sidecar-url', 'http://gc.example:8080', '--repo', remote, '--definitions', defs], { env: { PADDOCK_GC_SECRET: TEST_SECRET } });
    expect(again.stdout).toContain('no commit');

    const file = path.join(tempDir(), 'new-secret');
    writeFileSync(file, 'the-new-secret\n');
    const wrongHolder = await paddock(['settings', 'set', 'gcSecret', file, '--repo', remote, '--definitions', defs], { env: { PADDOCK_GC_SECRET: 'not-the-secret' } });
    expect(wrongHolder.code).toBe(1);
    expect(wrongHolder.stderr).toMatch(/only its holder may rotate it/);
    const rotate = await paddock(['settings', 'set', 'gcSecret', file, '--repo', remote, '--definitions', defs], { env: { PADDOCK_GC_SECRET: TEST_SECRET } });
    expect(rotate.code, rotate.stderr).toBe(0);
    const rotated = gcUrls(remote);
    expect(rotated.map((u) => u.split('/gc/')[1]).some((t) => after.some((u) => u.endsWith(t)))).toBe(false);

    const show = await paddock(['settings', '--repo', remote], { env: { PADDOCK_GC_SECRET: 'the-new-secret' } });
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('sidecarUrl: http://gc.example:8080');
    expect(show.stdout).toContain(`argo.repoURL: ${remote}`);
    expect(show.stdout).toMatch(/gcSecret: fingerprint \S{10}\n/);
    expect(show.stdout).not.toContain('refuse');
    // the old secret's holders are now refused
    const old = await paddock(['push', '--repo', remote, '--definitions', defs], { env: { PADDOCK_GC_SECRET: TEST_SECRET } });
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/GC secret is not the repo's/);
  });

  it('GIVEN paddock serve started with a wrong secret THEN it says it is not ready, /readyz is 503 and a GC call is 503; the remote is unchanged', async () => {
    const { remote, defs } = await pushedRepo();
    const head = gitOut(remote, 'rev-parse', 'main');
    const port = await freePort();
    const serve = await startServe(['--repo', remote, '--definitions', defs, '--listen', `127.0.0.1:${port}`], { PADDOCK_GC_SECRET: 'wrong-secret' });
    try {
      expect(serve.out()).toMatch(/not ready: the GC secret is not the repo's .* every write gets 503 GcSecretMismatch/);
      expect((await call(`http://127.0.0.1:${port}/readyz`)).body.code).toBe('GcSecretMismatch');
      const gc = await call(gcUrl(`http://127.0.0.1:${port}`, 'wrong-secret', 'g-0'), { body: { label: 'group_id=g-0' } });
      expect(gc.status).toBe(503);
      expect(gc.body.code).toBe('GcSecretMismatch');
      expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
    } finally {
      await serve.stop();
    }
  });

  it('GIVEN paddock synth without a secret THEN it says once, on stderr, that GC URLs are placeholders', async () => {
    const defs = definitionsDir({ 'g.ts': appsSource(2) });
    const r = await paddock(['synth', '--definitions', defs, '--out', tempDir(), '-q'], { env: { PADDOCK_GC_SECRET: undefined } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^paddock synth: no GC secret .* placeholder \(http:\/\/paddock-sidecar.paddock.svc:8080\/gc\/unsigned\) that the sidecar refuses$/)]);
  });

  it('GIVEN a sidecar whose secret is not the repo\'s THEN /readyz is 503 GcSecretMismatch and every write is 503, acknowledging nothing', async () => {
    const remote = await bareRepo();
    const good = committer(remote, await loadSet({ 'g.ts': appsSource(2) }));
    await good.submit({ body: { kind: 'sync', summary: 'sync(definitions): first' }, requestId: rid(), requestedBy: 'test' });
    await good.close();
    const head = gitOut(remote, 'rev-parse', 'main');
    const s = await startSidecar({ files: { 'g.ts': appsSource(2) }, remote, committer: { writer: testWriter(remote, { gcSecret: 'wrong' }) }, initialSync: false, deps: { gcSecret: 'wrong' } });
    try {
      await s.committer.refresh();
      const ready = await call(`${s.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.body.code).toBe('GcSecretMismatch');
      const token = 'A'.repeat(43);
      for (const [method, p, body] of [['POST', `/gc/${token}`, { label: 'group_id=g-0' }], ['POST', '/acquire?type=x&state=free&dest=busy&owner=me', undefined], ['GET', '/start?type=x&state=free&owner=me', undefined]] as const) {
        const r = await call(`${s.url}${p}`, { method, body });
        expect(r.status, `${method} ${p}`).toBe(503);
        expect(r.body.code).toBe('GcSecretMismatch');
      }
      expect((await call(`${s.url}/healthz`)).status).toBe(200);
      expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
    } finally {
      await s.close();
    }
  });
});
