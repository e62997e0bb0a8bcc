/**
 * Workspaces over HTTP (CONTRACT "Sidecar HTTP API" -> Workspaces): both request shapes, sizes,
 * keys, email domains, NodePort allocation, removal, and the email to the user through a real
 * SMTP server on loopback, against a real sidecar writing to a real bare repo.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { SMTPServer } from 'smtp-server';
import { SmtpMailer } from '../src/sidecar/mailer.ts';
import { gitOut, groupApp, groupsSource, remoteFile, remoteFiles } from './helpers/repo.ts';
import { API_TOKEN, call, startSidecar, type TestSidecar } from './helpers/sidecar.ts';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ada@example.com';

/** A fresh RSA key in OpenSSH's authorized_keys format. */
function rsaKey(comment: string): string {
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0].map((_, i) => (b.length >>> (24 - 8 * i)) & 0xff)), b]);
  const mpint = (b64url: string) => {
    const b = Buffer.from(b64url, 'base64url');
    return str(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
  };
  return `ssh-rsa ${Buffer.concat([str(Buffer.from('ssh-rsa')), mpint(jwk.e!), mpint(jwk.n!)]).toString('base64')} ${comment}`;
}

const auth = { authorization: `Bearer ${API_TOKEN}` };

describe('workspaces', () => {
  let s: TestSidecar;
  const post = (body: unknown) => call(`${s.url}/api/workspaces`, { headers: auth, body });
  const head = () => gitOut(s.remote, 'rev-parse', 'main');
  const yamlAt = (p: string) => YAML.parse(remoteFile(s.remote, p));
  beforeAll(async () => {
    s = await startSidecar({ files: { 'g.ts': groupsSource(1) } });
  });
  afterAll(() => s.close());

  it('GIVEN the JSON shape WHEN posted THEN 201 with the first port, the ssh line, and the record and group in the repo', async () => {
    const r = await post({ email: 'ada.lovelace@example.com', ram: 4, cpu: 2, storage: '20Gi', publicKey: ED25519 });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      name: 'ada-lovelace', group: 'ws-ada-lovelace', email: 'ada.lovelace@example.com', ram: 4, cpu: 2, storage: '20Gi',
      port: 30000, user: 'adalovelace', ssh: 'ssh -p 30000 adalovelace@127.0.0.1', createdAt: '2026-11-23T12:00:00.000Z',
    });
    expect(r.body.emailed).toBeUndefined();
    expect(head()).toBe(r.body.commit);

    expect(yamlAt('state/workspaces/ada-lovelace.yaml')).toMatchObject({ name: 'ada-lovelace', email: 'ada.lovelace@example.com', ram: 4, cpu: 2, storage: '20Gi', port: 30000, publicKey: ED25519 });
    const dir = 'groups/ws-ada-lovelace';
    const container = yamlAt(`${dir}/deployment-ada-lovelace.yaml`).spec.template.spec.containers[0];
    expect(container.resources.limits).toEqual({ memory: '4Gi', cpu: '2' });
    expect(container.env).toContainEqual({ name: 'USER_NAME', value: 'adalovelace' });
    const svc = yamlAt(`${dir}/service-ada-lovelace.yaml`);
    expect([svc.spec.type, svc.spec.ports[0].nodePort]).toEqual(['NodePort', 30000]);
    expect(yamlAt(`${dir}/persistentvolumeclaim-ada-lovelace-home.yaml`).spec.resources.requests.storage).toBe('20Gi');
    expect(remoteFiles(s.remote)).toContain('apps/ws-ada-lovelace.yaml');
  });

  it('GIVEN the seed shape with bare RAM and CPU and no Storage WHEN posted THEN 201 on the next port, in GiB and cores, with 10Gi', async () => {
    const key = rsaKey('grace@laptop');
    const r = await post({ Email: 'grace@example.com', Specification: { RAM: '2', CPU: '1', PublicKey: key } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'grace', email: 'grace@example.com', ram: 2, cpu: 1, storage: '10Gi', port: 30001, ssh: 'ssh -p 30001 grace@127.0.0.1' });
    expect(yamlAt('state/workspaces/grace.yaml')).toMatchObject({ ram: 2, cpu: 1, storage: '10Gi', port: 30001, publicKey: key });
    expect(yamlAt('groups/ws-grace/service-grace.yaml').spec.ports[0].nodePort).toBe(30001);
  });

  it('GIVEN two users with the same local part WHEN both ask THEN they get distinct names and ports; "2Gi" and "500m" are read as 2 GiB and 0.5 cores', async () => {
    const a = await post({ email: 'sam@example.com', ram: '2Gi', cpu: '500m', publicKey: ED25519 });
    const b = await post({ email: 'Sam@Example.ORG', ram: 1, cpu: 1, publicKey: ED25519 });
    expect([a.status, a.body.name, a.body.port, a.body.ram, a.body.cpu]).toEqual([201, 'sam', 30002, 2, 0.5]);
    expect([b.status, b.body.name, b.body.port, b.body.email]).toEqual([201, 'sam-2', 30003, 'Sam@example.org']);
    expect(remoteFiles(s.remote)).toEqual(expect.arrayContaining(['state/workspaces/sam.yaml', 'state/workspaces/sam-2.yaml', 'groups/ws-sam-2/service-sam-2.yaml']));
  });

  it('GIVEN the very same request again WHEN posted THEN 200 with the workspace it already made and no commit', async () => {
    const before = head();
    const r = await post({ email: 'sam@example.com', ram: '2Gi', cpu: '500m', publicKey: ED25519 });
    expect([r.status, r.body.name, r.body.port]).toEqual([200, 'sam', 30002]);
    expect(head()).toBe(before);
  });

  it('GIVEN bad public keys WHEN posted THEN 400 InvalidPublicKey saying what is wrong, and HEAD unchanged', async () => {
    const before = head();
    const blob = ED25519.split(' ')[1];
    const cases: Array<[string, RegExp]> = [
      ['', /is empty/],
      [`${ED25519}\n${ED25519}`, /one line/],
      [`command="rm -rf /" ${ED25519}`, /must start with a key type/],
      ['ssh-ed25519 not*base64', /not base64/],
      [`ssh-rsa ${blob} mallory`, /says "ssh-rsa" but its key data is a "ssh-ed25519" key/],
      [`ssh-ed25519 ${Buffer.from('hello world, not a key').toString('base64')}`, /not an OpenSSH key blob/],
      [`ssh-ed25519 ${blob.slice(0, 24)}`, /too short for a "ssh-ed25519" key/],
    ];
    for (const [publicKey, why] of cases) {
      const r = await post({ email: 'eve@example.com', ram: 1, cpu: 1, publicKey });
      expect([r.status, r.body.code], publicKey).toEqual([400, 'InvalidPublicKey']);
      expect(r.body.error, publicKey).toMatch(why);
    }
    expect(head()).toBe(before);
  });

  it('GIVEN bad sizes WHEN posted THEN 400 InvalidSize naming the size, and HEAD unchanged', async () => {
    const before = head();
    for (const [body, field] of [
      [{ ram: 0, cpu: 1 }, 'ram'],
      [{ ram: 300, cpu: 1 }, 'ram'],
      [{ ram: '2Ti', cpu: 1 }, 'ram'],
      [{ ram: 1, cpu: -1 }, 'cpu'],
      [{ ram: 1, cpu: 'lots' }, 'cpu'],
      [{ ram: 1, cpu: 65 }, 'cpu'],
      [{ ram: 1, cpu: 1, storage: '10 apples' }, 'storage'],
      [{ ram: 1, cpu: 1, storage: '0Gi' }, 'storage'],
    ] as const) {
      const r = await post({ email: 'eve@example.com', publicKey: ED25519, ...body });
      expect([r.status, r.body.code], JSON.stringify(body)).toEqual([400, 'InvalidSize']);
      expect(r.body.error, JSON.stringify(body)).toMatch(new RegExp(`^${field} `));
    }
    const email = await post({ email: 'not-an-email', ram: 1, cpu: 1, publicKey: ED25519 });
    expect([email.status, email.body.code]).toEqual([400, 'BadRequest']);
    const missing = await post({ email: 'eve@example.com', ram: 1, publicKey: ED25519 });
    expect([missing.status, missing.body.error]).toEqual([400, expect.stringContaining('cpu')]);
    expect(head()).toBe(before);
  });

  it('GIVEN no token WHEN posting, deleting, listing or reading THEN 401 (workspaces hold emails and keys)', async () => {
    const r = await call(`${s.url}/api/workspaces`, { body: { email: 'eve@example.com', ram: 1, cpu: 1, publicKey: ED25519 } });
    expect([r.status, r.body.code]).toEqual([401, 'Unauthorized']);
    const d = await call(`${s.url}/api/workspaces/grace`, { method: 'DELETE' });
    expect([d.status, d.body.code]).toEqual([401, 'Unauthorized']);
    for (const p of ['/api/workspaces', '/api/workspaces/grace']) {
      const g = await call(`${s.url}${p}`);
      expect([g.status, g.body.code, JSON.stringify(g.body).includes('@')]).toEqual([401, 'Unauthorized', false]);
    }
  });

  it('GIVEN workspaces WHEN listed and looked up THEN their descriptions; unknown or malformed names are 404', async () => {
    const list = await call(`${s.url}/api/workspaces`, { headers: auth });
    expect(list.status).toBe(200);
    expect(list.body.count).toBe(4);
    expect(list.body.items.map((w: any) => `${w.name}:${w.port}`)).toEqual(['ada-lovelace:30000', 'grace:30001', 'sam:30002', 'sam-2:30003']);
    const one = await call(`${s.url}/api/workspaces/ada-lovelace`, { headers: auth });
    expect(one.body).toMatchObject({ name: 'ada-lovelace', port: 30000, ssh: 'ssh -p 30000 adalovelace@127.0.0.1', publicKey: ED25519 });
    for (const name of ['nobody', 'Not_A_Label', '..%2Fstate']) {
      const r = await call(`${s.url}/api/workspaces/${name}`, { headers: auth });
      expect([r.status, r.body.code], name).toEqual([404, 'NotFound']);
    }
  });

  it('GIVEN a workspace WHEN stopped THEN it scales to zero with its volume and port kept; stopped again, nothing changes; started, it is back', async () => {
    const deployment = () => yamlAt('groups/ws-grace/deployment-grace.yaml');
    const stop = await call(`${s.url}/api/workspaces/grace/stop`, { method: 'POST', headers: auth });
    expect(stop.status).toBe(200);
    expect(stop.body).toMatchObject({ name: 'grace', state: 'stopped', port: 30001, stoppedAt: expect.any(String), commit: head() });
    expect(deployment().spec.replicas).toBe(0);
    expect(yamlAt('groups/ws-grace/service-grace.yaml').spec.ports[0].nodePort).toBe(30001);
    expect(yamlAt('groups/ws-grace/persistentvolumeclaim-grace-home.yaml').spec.resources.requests.storage).toBe('10Gi');
    expect(gitOut(s.remote, 'log', '-1', '--format=%s', 'main')).toBe('stop(workspace/grace): on request');
    expect((await call(`${s.url}/api/workspaces/grace`, { headers: auth })).body.state).toBe('stopped');

    const before = head();
    const again = await call(`${s.url}/api/workspaces/grace/stop`, { method: 'POST', headers: auth });
    expect([again.status, again.body.state, again.body.commit, head()]).toEqual([200, 'stopped', null, before]);

    const start = await call(`${s.url}/api/workspaces/grace/start`, { method: 'POST', headers: auth });
    expect([start.status, start.body.state, start.body.port, start.body.stoppedAt]).toEqual([200, 'running', 30001, undefined]);
    expect(deployment().spec.replicas).toBe(1);
    expect(yamlAt('state/workspaces/grace.yaml').stoppedAt).toBeUndefined();

    const missing = await call(`${s.url}/api/workspaces/nobody/stop`, { method: 'POST', headers: auth });
    expect([missing.status, missing.body.code]).toEqual([404, 'NotFound']);
    expect((await call(`${s.url}/api/workspaces/grace/stop`, { method: 'POST' })).status).toBe(401);
  });

  it('GIVEN a workspace WHEN deleted THEN 200 naming all it removed, volume included; its record and objects leave the repo and its Application is emptied; again, 404', async () => {
    const r = await call(`${s.url}/api/workspaces/grace`, { method: 'DELETE', headers: auth });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ name: 'grace', deleted: true, commit: head() });
    expect(r.body.removed).toEqual([
      'Deployment grace',
      'Service grace (NodePort 30001, free again)',
      'PersistentVolumeClaim grace-home (the 10Gi home volume: its data is gone once the volume is reclaimed)',
      'ConfigMap grace-ssh (the public key)',
    ]);
    const files = remoteFiles(s.remote);
    expect(files.filter((p) => p.startsWith('state/') && p.includes('grace'))).toEqual(['state/retiring/ws-grace.yaml']);
    expect(groupApp(s.remote, 'ws-grace')).toBe('emptied');
    expect(files).toContain('groups/ws-sam/service-sam.yaml');
    expect(gitOut(s.remote, 'log', '-1', '--format=%s', 'main')).toBe('delete(workspace/grace): on request');
    const again = await call(`${s.url}/api/workspaces/grace`, { method: 'DELETE', headers: auth });
    expect([again.status, again.body.code]).toEqual([404, 'NotFound']);
    expect((await call(`${s.url}/api/workspaces/grace`, { headers: auth })).status).toBe(404);
  });

  it('GIVEN a workspace whose group was removed (GC) WHEN looked up THEN removed; WHEN the same request comes again THEN 201, it is back on its port', async () => {
    await s.committer.submit({ body: { kind: 'remove', group: 'ws-sam', reason: 'gc' }, requestId: 'gc-sam', requestedBy: 'test' });
    expect(groupApp(s.remote, 'ws-sam')).toBe('emptied');
    expect((await call(`${s.url}/api/workspaces/sam`, { headers: auth })).body.state).toBe('removed');
    expect((await call(`${s.url}/api/workspaces`, { headers: auth })).body.items.find((w: { name: string }) => w.name === 'sam').state).toBe('removed');
    const r = await post({ email: 'sam@example.com', ram: '2Gi', cpu: '500m', publicKey: ED25519 });
    expect([r.status, r.body.name, r.body.port, r.body.state, r.body.commit]).toEqual([201, 'sam', 30002, 'running', head()]);
    expect(groupApp(s.remote, 'ws-sam')).toBe('active');
    expect(remoteFiles(s.remote)).not.toContain('state/removals/ws-sam.yaml');
    expect((await call(`${s.url}/api/workspaces/sam`, { headers: auth })).body.state).toBe('running');
  });
});

describe('workspaces with allowed domains and a 2-port range', () => {
  let s: TestSidecar;
  const post = (email: string) => call(`${s.url}/api/workspaces`, { headers: auth, body: { email, ram: 1, cpu: 1, publicKey: ED25519 } });
  beforeAll(async () => {
    s = await startSidecar({
      files: { 'g.ts': groupsSource(1) },
      deps: { workspaces: { domains: ['example.com'], ports: { min: 31000, max: 31001 }, nodeAddress: 'node.example.net' } },
    });
  });
  afterAll(() => s.close());

  it('GIVEN an email of another domain WHEN posted THEN 403 DomainNotAllowed and no commit; the allowed domain in capitals works', async () => {
    const before = gitOut(s.remote, 'rev-parse', 'main');
    const r = await post('mallory@evil.example');
    expect([r.status, r.body.code]).toEqual([403, 'DomainNotAllowed']);
    expect(r.body.error).toMatch(/"evil.example"/);
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(before);
    const ok = await post('ada@EXAMPLE.COM');
    expect([ok.status, ok.body.port, ok.body.ssh]).toEqual([201, 31000, 'ssh -p 31000 ada@node.example.net']);
  });

  it('GIVEN the range used up WHEN one more is asked for THEN 409 NoPortLeft and no commit', async () => {
    expect((await post('bob@example.com')).body.port).toBe(31001);
    const before = gitOut(s.remote, 'rev-parse', 'main');
    const r = await post('carol@example.com');
    expect([r.status, r.body.code]).toEqual([409, 'NoPortLeft']);
    expect(r.body.error).toMatch(/31000-31001/);
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(before);
  });
});

describe('allowed email domains: exact, or subdomains when configured so', () => {
  let s: TestSidecar;
  beforeAll(async () => {
    // The seed's domain exactly, and any subdomain of example.edu (not example.edu itself).
    s = await startSidecar({ files: { 'g.ts': groupsSource(1) }, deps: { workspaces: { domains: ['iiitm.ac.in', '.example.edu'], ports: { min: 31100, max: 31109 }, nodeAddress: '127.0.0.1' } } });
  });
  afterAll(() => s.close());

  it('GIVEN the seed\'s request shape (no Storage) from the seed\'s domain THEN 201 with the default home size; a subdomain of it is refused; a subdomain of a dotted entry is allowed, the entry\'s own domain and look-alikes are not', async () => {
    const seed = await call(`${s.url}/api/workspaces`, { headers: auth, body: { Email: 'bcs2021_080@iiitm.ac.in', Specification: { RAM: '2', CPU: '1', PublicKey: ED25519 } } });
    expect([seed.status, seed.body.storage]).toEqual([201, '10Gi']);
    const code = async (email: string) => (await call(`${s.url}/api/workspaces`, { headers: auth, body: { email, ram: 1, cpu: 1, publicKey: ED25519 } })).body.code ?? 'created';
    expect(await code('ada@cs.iiitm.ac.in')).toBe('DomainNotAllowed');
    expect(await code('ada@cs.example.edu')).toBe('created');
    expect(await code('bob@a.b.example.edu')).toBe('created');
    expect(await code('carol@example.edu')).toBe('DomainNotAllowed');
    expect(await code('dave@evilexample.edu')).toBe('DomainNotAllowed');
  });
});

describe('workspace email', () => {
  let s: TestSidecar;
  let smtp: SMTPServer;
  let mailer: SmtpMailer;
  const received: Array<{ from: string; to: string[]; message: string }> = [];
  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, done) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            message: Buffer.concat(chunks).toString('utf8'),
          });
          done();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    mailer = new SmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'paddock <paddock@example.com>' });
    s = await startSidecar({
      files: { 'g.ts': groupsSource(1) },
      deps: { workspaces: { domains: [], ports: { min: 30000, max: 30009 }, nodeAddress: '10.0.0.7', mailer } },
    });
  });
  afterAll(async () => {
    await s.close();
    mailer.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  it('GIVEN a mailer WHEN a workspace is made THEN the user gets an email with the ssh line, after the push, and the answer says emailed', async () => {
    const r = await call(`${s.url}/api/workspaces`, { headers: auth, body: { email: 'ada@example.com', ram: 2, cpu: 1, publicKey: ED25519 } });
    expect([r.status, r.body.emailed]).toEqual([201, true]);
    expect(received).toHaveLength(1);
    expect(received[0].to).toEqual(['ada@example.com']);
    expect(received[0].from).toBe('paddock@example.com');
    expect(received[0].message).toMatch(/^To: ada@example\.com\r?$/m);
    expect(received[0].message).toMatch(/^Subject: Your workspace ada is ready\r?$/m);
    expect(received[0].message).toContain('ssh -p 30000 ada@10.0.0.7');
    expect(remoteFiles(s.remote)).toContain('state/workspaces/ada.yaml');
  });

  it('GIVEN an SMTP server that refuses connections WHEN a workspace is made THEN it is still 201, with emailed: false', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dead = new SmtpMailer({ url: `smtp://127.0.0.1:${port}` });
    const t = await startSidecar({
      files: { 'g.ts': groupsSource(1) },
      deps: { workspaces: { domains: [], ports: { min: 30000, max: 30009 }, nodeAddress: '10.0.0.7', mailer: dead } },
    });
    try {
      const r = await call(`${t.url}/api/workspaces`, { headers: auth, body: { email: 'bob@example.com', ram: 1, cpu: 1, publicKey: ED25519 } });
      expect([r.status, r.body.name, r.body.emailed]).toEqual([201, 'bob', false]);
      expect(remoteFiles(t.remote)).toContain('state/workspaces/bob.yaml');
    } finally {
      dead.close();
      await t.close();
    }
  });
});

describe('workspace ports', () => {
  let s: TestSidecar;
  /** A definition holding nodePorts 30000 (a NodePort Service) and 30001 (a Workspace written inline). */
  const TAKEN = `
import { ApiObject } from 'cdk8s';
import { Environment, Workspace } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'edge', { namespace: 'edge' });
  new ApiObject(env, 'svc', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'edge' }, spec: { type: 'NodePort', selector: { app: 'edge' }, ports: [{ port: 80, nodePort: 30000 }] } });
  const lab = new Environment(scope, 'lab', { namespace: 'lab' });
  new Workspace(lab, 'inline', { record: { name: 'lab', email: 'lab@example.com', ram: 1, cpu: 1, storage: '1Gi', publicKey: '${ED25519}', port: 30001 } });
};`;
  beforeAll(async () => {
    s = await startSidecar({ files: { 'taken.ts': TAKEN }, deps: { workspaces: { domains: [], ports: { min: 30000, max: 30059 }, nodeAddress: '127.0.0.1' } } });
  });
  afterAll(() => s.close());

  it('GIVEN nodePorts held by the definitions WHEN 50 workspaces are asked for at once THEN each gets its own port, none of those', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      call(`${s.url}/api/workspaces`, { headers: auth, body: { email: `user${i}@example.com`, ram: 1, cpu: 1, publicKey: ED25519 } })));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(201));
    const ports = answers.map((a) => a.body.port as number);
    expect(new Set(ports).size).toBe(50);
    expect(ports.filter((p) => p === 30000 || p === 30001)).toEqual([]);
    expect(Math.min(...ports)).toBe(30002);
    // What the repo holds agrees: one Service per port, the definitions' own included.
    const held = remoteFiles(s.remote).filter((p) => /^groups\/.*\/service-.*\.yaml$/.test(p)).flatMap((p) => YAML.parse(remoteFile(s.remote, p)).spec.ports.map((x: { nodePort: number }) => x.nodePort));
    expect(held.sort()).toEqual([30000, 30001, ...ports].sort());
  });
});
