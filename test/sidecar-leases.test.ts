import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLeaseUsers } from '../src/config.ts';
import { gcUrl } from '../core/gc-token.ts';
import { gitOut, groupApp, poolSource, remoteFile, remoteFiles } from './helpers/repo.ts';
import { call, startSidecar, type TestSidecar } from './helpers/sidecar.ts';
import { TEST_SECRET } from './helpers/synth.ts';

/** A POST with no accept header, as Go's HTTP client sends it (fetch always adds one). */
function postWithoutAccept(url: string): Promise<{ status: number; type: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST' }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], text }));
    });
    req.on('error', reject).end();
  });
}

describe('Boskos-compatible leases', () => {
  let s: TestSidecar;
  let now = new Date('2026-11-23T10:00:00.000Z');
  const clock = () => now;
  beforeAll(async () => {
    s = await startSidecar({ files: { 'pool.ts': poolSource('proj', 3) }, clock });
  });
  afterAll(() => s.close());
  const q = (path: string, params: Record<string, string>, init: Parameters<typeof call>[1] = { method: 'POST' }) => call(`${s.url}${path}?${new URLSearchParams(params)}`, init);

  it('GIVEN a pool of 3 WHEN acquired THEN the least recently used free resource is busy for the owner, in memory and in the repo', async () => {
    const r = await q('/acquire', { type: 'proj', state: 'free', dest: 'busy', owner: 'alice' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ type: 'proj', name: 'proj-1', state: 'busy', owner: 'alice', lastupdate: '2026-11-23T10:00:00.000Z', userdata: null });
    expect(remoteFile(s.remote, 'state/leases/proj/proj-1.yaml')).toMatch(/state: busy\nowner: alice/);
  });

  it('GIVEN the seed\'s GET /start alias WHEN called THEN it acquires too; dest defaults to busy', async () => {
    const r = await q('/start', { type: 'proj', state: 'free', owner: 'bob' }, { method: 'GET' });
    expect([r.status, r.body.state, r.body.owner]).toEqual([200, 'busy', 'bob']);
  });

  it('GIVEN HEAD on the seed\'s GET aliases WHEN called THEN nothing is acquired or released (HEAD is safe; fastify would have answered it with the GET handler)', async () => {
    const before = s.ranch.list('proj').map((r) => `${r.name}=${r.state}/${r.owner}`);
    for (const [path, params] of [['/start', { type: 'proj', state: 'free', owner: 'hank' }], ['/request', { type: 'proj', state: 'free', owner: 'hank' }], ['/done', { name: 'proj-2', dest: 'free', owner: 'bob' }]] as const) {
      expect((await q(path, params, { method: 'HEAD' })).status, path).toBe(404);
    }
    expect(s.ranch.list('proj').map((r) => `${r.name}=${r.state}/${r.owner}`)).toEqual(before);
  });

  it('GIVEN a retried acquire with the same request_id WHEN called THEN it gets the same resource', async () => {
    const a = await q('/acquire', { type: 'proj', state: 'free', dest: 'busy', owner: 'carol', request_id: 'r-1' });
    const b = await q('/acquire', { type: 'proj', state: 'free', dest: 'busy', owner: 'carol', request_id: 'r-1' });
    expect(a.status).toBe(200);
    expect(b.body.name).toBe(a.body.name);
  });

  it.each([
    ['an owner with a newline and forged trailers', { type: 'proj', state: 'free', owner: 'bob\n\nPaddock-Requested-By: admin' }],
    ['an owner with a NUL byte', { type: 'proj', state: 'free', owner: 'x\u0000y' }],
    ['a request_id with a newline', { type: 'proj', state: 'free', owner: 'bob', request_id: 'a\nb' }],
  ])('GIVEN %s WHEN acquiring THEN 400 BadRequest and nothing reaches a commit message', async (_what, params) => {
    const before = remoteFiles(s.remote).join();
    const r = await q('/acquire', params as Record<string, string>);
    expect([r.status, r.body.code]).toEqual([400, 'BadRequest']);
    expect(remoteFiles(s.remote).join()).toBe(before);
  });

  it('GIVEN no free resource WHEN acquired THEN 404', async () => {
    const r = await q('/acquire', { type: 'proj', state: 'free', dest: 'busy', owner: 'dave' });
    expect([r.status, r.body.code]).toEqual([404, 'NoFreeResource']);
  });

  it('GIVEN a type no resource has WHEN acquired THEN 404 UnknownResource: in Boskos\'s plain-text words for a caller with no accept header (the Go client finds them to report ErrTypeNotFound) or one JSON does not match, as JSON for one that takes it; nothing is committed', async () => {
    const head = gitOut(s.remote, 'rev-parse', 'main');
    const params = new URLSearchParams({ type: 'nope', state: 'free', dest: 'busy', owner: 'dave' });
    const boskos = 'Acquire failed: resource type "nope" does not exist\n';
    const bare = await postWithoutAccept(`${s.url}/acquire?${params}`);
    expect([bare.status, bare.type, bare.text]).toEqual([404, 'text/plain; charset=utf-8', boskos]);
    const json = { code: 'UnknownResource', error: 'resource type "nope" does not exist' };
    for (const [accept, answer] of [['text/plain', boskos], ['application/json;q=0, */*', boskos], ['*/*', json], ['application/json', json], ['application/*', json], ['text/html, */*;q=0.8', json]] as const) {
      const r = await call(`${s.url}/acquire?${params}`, { method: 'POST', headers: { accept } });
      expect([accept, r.status, r.body]).toEqual([accept, 404, answer]);
    }
    const known = await postWithoutAccept(`${s.url}/acquire?${new URLSearchParams({ type: 'proj', state: 'nowhere', owner: 'dave' })}`);
    expect([known.status, JSON.parse(known.text).code]).toEqual([404, 'NoFreeResource']);
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(head);
  });

  it('GIVEN a held resource WHEN updated THEN 200 with an empty body, as Boskos answers (its Go client closes the answer unread, so a body would cost it the connection); wrong owner 401; wrong state 409', async () => {
    const r = await q('/update', { name: 'proj-1', owner: 'alice', state: 'busy' });
    expect([r.status, r.body, r.headers.get('content-length')]).toEqual([200, undefined, '0']);
    expect((await q('/update', { name: 'proj-1', owner: 'mallory', state: 'busy' })).status).toBe(401);
    expect((await q('/update', { name: 'proj-1', owner: 'alice', state: 'free' })).status).toBe(409);
  });

  it('GIVEN Go\'s idiomatic body-less POST, http.Post(url, "", nil), which sends an empty content-type WHEN it updates THEN it is taken, as Boskos takes it', async () => {
    const r = await q('/update', { name: 'proj-1', owner: 'alice', state: 'busy' }, { method: 'POST', headers: { 'content-type': '' } });
    expect([r.status, r.body]).toEqual([200, undefined]);
  });

  it('GIVEN a caller that asks for JSON WHEN it updates THEN it gets the resource: userdata is kept and an empty value deletes a key', async () => {
    const json = { accept: 'application/json' };
    const withData = await q('/update', { name: 'proj-1', owner: 'alice', state: 'busy' }, { method: 'POST', body: { cluster: 'c1', zone: 'z' }, headers: json });
    expect(withData.body.userdata).toEqual({ cluster: 'c1', zone: 'z' });
    const dropped = await q('/update', { name: 'proj-1', owner: 'alice', state: 'busy' }, { method: 'POST', body: { zone: '' }, headers: json });
    expect(dropped.body.userdata).toEqual({ cluster: 'c1' });
    for (const [accept, answered] of [['text/html, application/json;q=0.9', 'proj-1'], ['application/json;q=0', undefined], ['application/json-seq', undefined], ['*/*', undefined]] as const) {
      const r = await q('/update', { name: 'proj-1', owner: 'alice', state: 'busy' }, { method: 'POST', headers: { accept } });
      expect([accept, r.status, r.body?.name]).toEqual([accept, 200, answered]);
    }
    expect(remoteFile(s.remote, 'state/leases/proj/proj-1.yaml')).toMatch(/userdata:\n\s+cluster: c1/);
  });

  it('GIVEN a release by another owner or of an unknown name THEN 401 and 404', async () => {
    expect((await q('/release', { name: 'proj-1', dest: 'free', owner: 'mallory' })).status).toBe(401);
    expect((await q('/release', { name: 'nope', dest: 'free', owner: 'alice' })).status).toBe(404);
  });

  it('GIVEN a release to dirty THEN the environment is removed by a commit; the janitor brings it back free', async () => {
    expect(remoteFiles(s.remote)).toContain('apps/proj-1.yaml');
    const r = await q('/release', { name: 'proj-1', dest: 'dirty', owner: 'alice' });
    expect([r.status, r.body, r.headers.get('content-length')]).toEqual([200, undefined, '0']);
    expect([s.ranch.get('proj-1')?.state, s.ranch.get('proj-1')?.owner]).toEqual(['dirty', '']);
    expect(groupApp(s.remote, 'proj-1')).toBe('emptied');
    expect(await s.ranch.janitor(60_000)).toEqual([]); // too soon
    now = new Date(now.getTime() + 61_000);
    expect(await s.ranch.janitor(60_000)).toEqual(['proj-1']);
    expect(groupApp(s.remote, 'proj-1')).toBe('active');
    expect(s.ranch.get('proj-1')?.state).toBe('free');
  });

  it('GIVEN leases without heartbeat past the expiry WHEN the reaper runs THEN they go dirty and their environments are removed', async () => {
    now = new Date(now.getTime() + 31 * 60_000);
    const reaped = await s.ranch.reap(30 * 60_000);
    expect(reaped.sort()).toEqual(['proj-2', 'proj-3']);
    expect(groupApp(s.remote, 'proj-2')).toBe('emptied');
  });

  it('GIVEN metric WHEN asked THEN current states, owners (singular key, unowned under "" as Boskos counts them) and moves since start; an unknown type is 404 as in Boskos', async () => {
    const r = await q('/metric', { type: 'proj' }, { method: 'GET' });
    expect(r.status).toBe(200);
    expect(r.body.type).toBe('proj');
    expect(r.body.current).toEqual({ free: 1, dirty: 2 });
    expect(r.body.owner).toEqual({ '': 3 });
    const unknown = await q('/metric', { type: 'nosuch' }, { method: 'GET' });
    expect([unknown.status, unknown.body.code, unknown.body.error]).toEqual([404, 'UnknownResource', 'resource type "nosuch" does not exist']);
    expect(r.body.total.busy).toBeGreaterThanOrEqual(3);
    expect(r.body.total.dirty).toBe(3);
  });

  it('GIVEN reset WHEN owned resources in a state are stale THEN they move to dest and the answer maps name to former owner; unowned ones stay', async () => {
    const held = await q('/acquire', { type: 'proj', state: 'dirty', dest: 'cleaning', owner: 'janitor-1' });
    expect([held.status, held.body.name]).toEqual([200, 'proj-2']);
    now = new Date(now.getTime() + 60_000);
    const r = await q('/reset', { type: 'proj', state: 'cleaning', expire: '30s', dest: 'dirty' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ 'proj-2': 'janitor-1' });
    expect(s.ranch.get('proj-2')).toMatchObject({ state: 'dirty', owner: '' });
    const none = await q('/reset', { type: 'proj', state: 'dirty', expire: '0s', dest: 'free' });
    expect(none.body).toEqual({});
    expect(s.ranch.get('proj-3')?.state).toBe('dirty');
    expect(await s.ranch.janitor(0)).toEqual(['proj-2', 'proj-3']);
  });

  it('GIVEN acquirebystate WHEN one named resource is not in the state THEN none is taken; WHEN all are THEN all are, as a list', async () => {
    const bad = await q('/acquirebystate', { state: 'free', dest: 'busy', owner: 'erin', names: 'proj-1,nope' });
    expect(bad.status).toBe(404);
    expect(s.ranch.get('proj-1')?.state).toBe('free');
    const ok = await q('/acquirebystate', { state: 'free', dest: 'busy', owner: 'erin', names: 'proj-1,proj-2' });
    expect(ok.status).toBe(200);
    expect(ok.body.map((r: any) => [r.name, r.owner])).toEqual([['proj-1', 'erin'], ['proj-2', 'erin']]);
  });

  it('GIVEN missing parameters WHEN called THEN 400 naming the parameter', async () => {
    const r = await q('/acquire', { type: 'proj', state: 'free' });
    expect([r.status, r.body.code]).toEqual([400, 'BadRequest']);
    expect(r.body.error).toMatch(/owner/);
  });
});

describe('GC of a pooled environment', () => {
  let s: TestSidecar;
  let now = new Date('2026-11-23T10:00:00.000Z');
  beforeAll(async () => {
    s = await startSidecar({ files: { 'pool.ts': poolSource('proj', 2) }, clock: () => now });
  });
  afterAll(() => s.close());
  const q = (path: string, params: Record<string, string>) => call(`${s.url}${path}?${new URLSearchParams(params)}`, { method: 'POST' });

  it('GIVEN a pod of a pooled environment WHEN it POSTs its GC URL THEN its resource goes dirty, whoever held it, and the janitor brings the environment back free', async () => {
    const held = await q('/acquire', { type: 'proj', state: 'free', dest: 'busy', owner: 'erin' });
    const name = held.body.name as string;
    const url = gcUrl(s.url, TEST_SECRET, name);
    const r = await call(url, { body: { label: `group_id=${name}` } });
    expect([r.status, r.body.status, r.body.commit]).toEqual([202, 'removed', gitOut(s.remote, 'rev-parse', 'main')]);
    expect(s.ranch.get(name)).toMatchObject({ state: 'dirty', owner: '' });
    expect(groupApp(s.remote, name)).toBe('emptied');
    expect(remoteFiles(s.remote)).not.toContain(`state/removals/${name}.yaml`);
    expect((await call(url, { body: { label: `group_id=${name}` } })).body.status).toBe('already removed');
    expect((await q('/update', { name, owner: 'erin', state: 'busy' })).status).toBe(401);
    now = new Date(now.getTime() + 61_000);
    expect(await s.ranch.janitor(60_000)).toEqual([name]);
    expect(groupApp(s.remote, name)).toBe('active');
    expect(s.ranch.get(name)).toMatchObject({ state: 'free', owner: '' });
  });
});

describe('concurrent acquires', () => {
  it('GIVEN 8 clients racing for a pool of 4 WHEN each acquires, holds across the others\' acquires and releases, 12 times THEN no resource ever has two owners', async () => {
    const s = await startSidecar({ files: { 'pool.ts': poolSource('load', 4) } });
    try {
      const holders = new Map<string, string>();
      const doubles: string[] = [];
      let acquired = 0;
      const client = async (id: number) => {
        const owner = `client-${id}`;
        for (let held = 0, tries = 0; held < 12 && tries < 2_000; tries++) {
          const a = await call(`${s.url}/acquire?type=load&state=free&dest=busy&owner=${owner}`, { method: 'POST' });
          if (a.status === 404) {
            await new Promise((r) => setTimeout(r, 2)); // all 4 are held: ask again
            continue;
          }
          expect(a.status).toBe(200);
          held++;
          acquired++;
          const other = holders.get(a.body.name);
          if (other) doubles.push(`${a.body.name}: ${owner} while ${other} holds it`);
          holders.set(a.body.name, owner);
          // Hold it while the others go on acquiring: two heartbeats, each a round trip.
          for (let beat = 0; beat < 2; beat++) {
            const u = await call(`${s.url}/update?name=${a.body.name}&state=busy&owner=${owner}`, { method: 'POST' });
            if (u.status !== 200) doubles.push(`${a.body.name}: heartbeat of ${owner} got ${u.status} ${u.body?.code}`);
          }
          if (holders.get(a.body.name) === owner) holders.delete(a.body.name);
          const r = await call(`${s.url}/release?name=${a.body.name}&dest=free&owner=${owner}`, { method: 'POST' });
          if (r.status !== 200) doubles.push(`${a.body.name}: release by ${owner} got ${r.status} ${r.body?.code}`);
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, i) => client(i)));
      expect(doubles.slice(0, 5)).toEqual([]);
      expect(acquired).toBe(96);
      expect(s.ranch.list('load').every((r) => r.state === 'free' && r.owner === '')).toBe(true);
    } finally {
      await s.close();
    }
  });
});

describe('lease calls with PADDOCK_LEASE_USERS', () => {
  let s: TestSidecar;
  beforeAll(async () => {
    s = await startSidecar({ files: { 'pool.ts': poolSource('locked', 2) }, deps: { leaseUsers: parseLeaseUsers('ci-bot:pa:ss, other:x') } });
  });
  afterAll(() => s?.close());
  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  const acquire = (headers: Record<string, string> = {}) => call(`${s.url}/acquire?type=locked&state=free&dest=busy&owner=o`, { method: 'POST', headers });

  it('GIVEN no basic auth, an unknown user or a wrong password THEN 401 with a Basic challenge, and nothing is leased; GIVEN a listed user THEN the call works (a password may hold ":")', async () => {
    for (const headers of [{}, basic('nobody', 'pa:ss'), basic('ci-bot', 'pass'), { authorization: 'Bearer pa:ss' }]) {
      const r = await acquire(headers);
      expect([r.status, r.body.code], JSON.stringify(headers)).toEqual([401, 'Unauthorized']);
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="paddock leases", charset="UTF-8"');
    }
    expect((await call(`${s.url}/metric?type=locked`)).status).toBe(401);
    expect(s.ranch.list('locked').filter((r) => r.owner)).toEqual([]);
    const ok = await acquire(basic('ci-bot', 'pa:ss'));
    expect([ok.status, ok.body.owner]).toEqual([200, 'o']);
    expect((await call(`${s.url}/metric?type=locked`, { headers: basic('other', 'x') })).body).toMatchObject({ type: 'locked', current: { busy: 1, free: 1 } });
    // Only lease calls: probes stay open.
    expect((await call(`${s.url}/healthz`)).status).toBe(200);
  });

  it('GIVEN a PADDOCK_LEASE_USERS entry without a password THEN the error names its position, not its text', () => {
    expect(() => parseLeaseUsers('ci-bot:ok,secret-looking-entry')).toThrow(/^PADDOCK_LEASE_USERS: entry 2 is not user:password$/);
    expect(parseLeaseUsers(undefined).size).toBe(0);
  });
});
