import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcUrl } from '../core/gc-token.ts';
import { gitOut, groupApp, groupsSource, remoteFile, remoteFiles } from './helpers/repo.ts';
import { call, startSidecar, type TestSidecar } from './helpers/sidecar.ts';
import { TEST_SECRET } from './helpers/synth.ts';

describe('POST /gc/<token>', () => {
  let s: TestSidecar;
  const url = (group: string) => gcUrl(s.url, TEST_SECRET, group);
  beforeAll(async () => {
    s = await startSidecar({ files: { 'g.ts': groupsSource(4) } });
  });
  afterAll(() => s.close());

  it('GIVEN the seed body WHEN posted to the group\'s URL THEN 202 after the removal is pushed', async () => {
    const r = await call(url('g-0'), { body: { label: 'group_id=g-0' } });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ group: 'g-0', status: 'removed' });
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(r.body.commit);
    expect(groupApp(s.remote, 'g-0')).toBe('emptied');
    expect(remoteFiles(s.remote)).toContain('state/removals/g-0.yaml');
  });

  it('GIVEN a group already removed WHEN posted again THEN 200 and no new commit', async () => {
    const head = gitOut(s.remote, 'rev-parse', 'main');
    const r = await call(url('g-0'), { body: { label: 'group_id=g-0' } });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('already removed');
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(head);
  });

  it('GIVEN the paddock.dev/group label or {group} WHEN posted THEN it works the same', async () => {
    expect((await call(url('g-1'), { body: { label: 'paddock.dev/group=g-1' } })).status).toBe(202);
    expect((await call(url('g-2'), { body: { group: 'g-2' } })).status).toBe(202);
  });

  it('GIVEN no token, a garbled token, another group\'s token, an unknown group THEN 401, 401, 403, 404 with {error, code} and HEAD unchanged', async () => {
    const head = gitOut(s.remote, 'rev-parse', 'main');
    const none = await call(`${s.url}/gc/`, { body: { label: 'group_id=g-3' } });
    expect([none.status, none.body.code]).toEqual([401, 'Unauthorized']);
    const garbled = await call(`${s.url}/gc/not-a-token`, { body: { label: 'group_id=g-3' } });
    expect([garbled.status, garbled.body.code]).toEqual([401, 'Unauthorized']);
    const other = await call(url('g-1'), { body: { label: 'group_id=g-3' } });
    expect([other.status, other.body.code]).toEqual([403, 'WrongGroup']);
    expect(other.body.error).toMatch(/not the one of group "g-3"/);
    const unknown = await call(url('nope'), { body: { label: 'group_id=nope' } });
    expect([unknown.status, unknown.body.code]).toEqual([404, 'UnknownGroup']);
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(head);
    expect(remoteFiles(s.remote)).toContain('apps/g-3.yaml');
  });

  it('GIVEN bad bodies WHEN posted THEN 400 naming what is wrong', async () => {
    for (const raw of ['{', '[]', '{"label": 5}', '{"label": "app=web"}', '{"group": "Bad_Name"}']) {
      const r = await call(url('g-3'), { raw, headers: { 'content-type': 'application/json' } });
      expect(r.status, raw).toBe(400);
      expect(r.body.code, raw).toBe('BadRequest');
      expect(r.body.error.length, raw).toBeGreaterThan(5);
    }
  });

  it('GIVEN a body over 64 KiB WHEN posted THEN 413', async () => {
    const r = await call(url('g-3'), { body: { label: 'group_id=g-3', pad: 'x'.repeat(70 * 1024) } });
    expect([r.status, r.body.code]).toEqual([413, 'PayloadTooLarge']);
  });

  it('GIVEN /healthz, /readyz and /metrics THEN they answer', async () => {
    expect((await call(`${s.url}/healthz`)).status).toBe(200);
    expect((await call(`${s.url}/readyz`)).body).toMatchObject({ status: 'ready' });
    const m = await call(`${s.url}/metrics`);
    expect(m.body).toMatch(/^paddock_commits_total\{kind="gc"\} [1-9]\d*$/m);
    expect(m.body).toMatch(/paddock_http_requests_total\{route="\/gc\/:token",method="POST",status="202"\}/);
  });
});

describe('the request id of a GC call', () => {
  let s: TestSidecar;
  beforeAll(async () => {
    s = await startSidecar({ files: { 'g.ts': groupsSource(2, 'rq') } });
  });
  afterAll(() => s.close());
  const trailer = () => /^Paddock-Request-Id: (.+)$/m.exec(gitOut(s.remote, 'log', '-1', '--format=%B', 'main'))?.[1];

  it('GIVEN a sane x-request-id THEN the answer and the commit carry it; GIVEN one that is not THEN both carry a new id instead', async () => {
    const given = await call(gcUrl(s.url, TEST_SECRET, 'rq-0'), { body: { label: 'group_id=rq-0' }, headers: { 'x-request-id': 'ci-run-42.step:7' } });
    expect(given.status).toBe(202);
    expect(given.headers.get('x-request-id')).toBe('ci-run-42.step:7');
    expect(trailer()).toBe('ci-run-42.step:7');
    const forged = await call(gcUrl(s.url, TEST_SECRET, 'rq-1'), { body: { label: 'group_id=rq-1' }, headers: { 'x-request-id': 'x\tPaddock-Requested-By: admin' } });
    expect(forged.status).toBe(202);
    const id = forged.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(trailer()).toBe(id);
  });
});

describe('POST /gc/<token> for paddock\'s own group', () => {
  let s: TestSidecar;
  const controlPlane = `
    import { Environment, PaddockControlPlane } from 'paddock';
    export default (scope) => {
      const env = new Environment(scope, 'paddock-system', { namespace: 'paddock' });
      new PaddockControlPlane(env, 'paddock', { repo: 'git@git.example.com:platform/manifests.git', definitionsRepo: 'https://git.example.com/platform/environments.git' });
    };`;
  beforeAll(async () => {
    s = await startSidecar({ files: { 'cp.ts': controlPlane, 'g.ts': groupsSource(1) } });
  });
  afterAll(() => s.close());

  it('GIVEN a valid token of the group holding the PaddockControlPlane WHEN posted THEN 403 Forbidden and HEAD unchanged; another group\'s GC still works', async () => {
    const head = gitOut(s.remote, 'rev-parse', 'main');
    const r = await call(gcUrl(s.url, TEST_SECRET, 'paddock-system'), { body: { label: 'group_id=paddock-system' } });
    expect([r.status, r.body.code]).toEqual([403, 'Forbidden']);
    expect(r.body.error).toBe('group "paddock-system" is paddock\'s own and no GC call removes it; demolish it or edit its definition');
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(head);
    expect(groupApp(s.remote, 'paddock-system')).toBe('active');
    expect(remoteFile(s.remote, 'groups/paddock-system/deployment-paddock-sidecar.yaml')).not.toContain('GARBAGE_COLLECTOR_URL');
    expect((await call(gcUrl(s.url, TEST_SECRET, 'g-0'), { body: { label: 'group_id=g-0' } })).status).toBe(202);
  });
});
