/**
 * Releases over HTTP (CONTRACT "Sidecar HTTP API" -> Releases): kubernaut's multipart form as CI
 * sends it with the real `curl`, JSON, listing, lookup and soft delete with rollback, against a
 * real sidecar on loopback writing to a real bare repo.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { gitOut, remoteFile, remoteFiles } from './helpers/repo.ts';
import { API_TOKEN, call, startSidecar, type TestSidecar } from './helpers/sidecar.ts';
import { tempDir } from './helpers/synth.ts';

const run = promisify(execFile);

/** The kubernaut.yaml a CI job would post: a Deployment of the service, its image and team label from the release. */
const CI_TEMPLATE = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{service}}
  labels: { app: {{service}}, team: "{{attributes.team}}" }
spec:
  replicas: 1
  selector: { matchLabels: { app: {{service}} } }
  template:
    metadata: { labels: { app: {{service}} } }
    spec:
      containers:
        - name: {{service}}
          image: {{image}}
`;

/** The definition's own template for `api`, used when a release brings none. */
const API_TEMPLATE = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: api }
spec:
  replicas: 1
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec:
      containers: [{ name: api, image: "{{image}}" }]
`;

const DEFINITION = `
import { Environment, Release } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'store', { namespace: 'store' });
  new Release(env, 'web', { service: 'web', template: 'unused: {{service}}' });
  new Release(env, 'api', { service: 'api', template: ${JSON.stringify(API_TEMPLATE)} });
};`;

/** Release and workspace reads need the API token too. */
const AUTH = { headers: { authorization: `Bearer ${API_TOKEN}` } };

const WEB = 'groups/store/deployment-web.yaml';
const API = 'groups/store/deployment-api.yaml';

describe('releases, kubernaut-compatible', () => {
  let s: TestSidecar;
  const files = tempDir('paddock-ci-');
  const templateFile = path.join(files, 'kubernaut.yaml');
  writeFileSync(templateFile, CI_TEMPLATE);
  // Each release is a minute younger than the one before: the newest is the active one.
  let minute = 0;
  const clock = () => new Date(Date.UTC(2026, 10, 23, 9, minute++));
  const head = () => gitOut(s.remote, 'rev-parse', 'main');
  const yamlAt = (p: string) => YAML.parse(remoteFile(s.remote, p));

  /** The real curl binary; answers status and parsed body. */
  async function curl(args: string[], urlPath = '/api/releases'): Promise<{ status: number; body: any }> {
    const { stdout } = await run('curl', ['-sS', '-w', '\n%{http_code}', ...args, `${s.url}${urlPath}`]);
    const cut = stdout.lastIndexOf('\n');
    const text = stdout.slice(0, cut);
    return { status: Number(stdout.slice(cut + 1)), body: text ? JSON.parse(text) : undefined };
  }
  const auth = ['-H', `Authorization: Bearer ${API_TOKEN}`];
  const ciForm = (version: string, extra: string[] = []) => [
    ...auth, '-F', 'registry=default', '-F', 'service=web', '-F', `version=${version}`,
    '-F', `template=@${templateFile}`, '-F', `image=ghcr.io/x/web:${version}`, ...extra,
  ];

  let first: any;
  let second: any;

  beforeAll(async () => {
    s = await startSidecar({ files: { 'store.ts': DEFINITION }, deps: { clock } });
  });
  afterAll(() => s.close());

  it('GIVEN the CI curl form with a template and an extra field WHEN posted THEN 201 once pushed: the record holds the attribute and the group runs the image', async () => {
    const r = await curl(ciForm('1.2.3', ['-F', 'team=payments']));
    expect(r.status).toBe(201);
    first = r.body;
    expect(first).toMatchObject({
      service: 'web', version: '1.2.3', image: 'ghcr.io/x/web:1.2.3', registry: 'default',
      namespace: null, comment: null, attributes: { team: 'payments' }, createdAt: '2026-11-23T09:00:00.000Z',
    });
    expect(first.id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]+$/);
    expect(head()).toBe(first.commit);

    const record = yamlAt(`state/releases/web/${first.id}.yaml`);
    expect(record).toMatchObject({ id: first.id, service: 'web', version: '1.2.3', image: 'ghcr.io/x/web:1.2.3', attributes: { team: 'payments' } });
    expect(record.template).toBe(CI_TEMPLATE);
    const deployment = yamlAt(WEB);
    expect(deployment.spec.template.spec.containers[0].image).toBe('ghcr.io/x/web:1.2.3');
    expect(deployment.metadata.labels.team).toBe('payments');
    expect(gitOut(s.remote, 'log', '-1', '--format=%s', 'main')).toBe('release(service/web): 1.2.3');
  });

  it('GIVEN service web at 1.2.3 WHEN 1.2.3 is posted again THEN 409 Conflict and HEAD unchanged', async () => {
    const before = head();
    const r = await curl(ciForm('1.2.3'));
    expect([r.status, r.body.code]).toEqual([409, 'Conflict']);
    expect(r.body.error).toMatch(/already has a release of version "1.2.3"/);
    expect(head()).toBe(before);
  });

  it('GIVEN a second version WHEN it is posted and then deleted THEN the Deployment moves to its image and rolls back to the first one; its record is kept with deletedAt', async () => {
    const r = await curl(ciForm('1.2.4', ['-F', 'team=payments', '-F', 'comment=hotfix']));
    expect([r.status, r.body.comment]).toEqual([201, 'hotfix']);
    second = r.body;
    expect(yamlAt(WEB).spec.template.spec.containers[0].image).toBe('ghcr.io/x/web:1.2.4');

    const del = await curl([...auth, '-X', 'DELETE'], `/api/releases/${second.id}`);
    expect(del.status).toBe(204);
    expect(yamlAt(WEB).spec.template.spec.containers[0].image).toBe('ghcr.io/x/web:1.2.3');
    expect(gitOut(s.remote, 'log', '-1', '--format=%s', 'main')).toBe(`rollback(service/web): delete release ${second.id}`);
    const kept = yamlAt(`state/releases/web/${second.id}.yaml`);
    expect(kept.version).toBe('1.2.4');
    expect(kept.deletedAt).toEqual(expect.any(String));

    const gone = await call(`${s.url}/api/releases/${second.id}`, AUTH);
    expect([gone.status, gone.body.code]).toEqual([404, 'NotFound']);
    expect(gone.body.error).toMatch(/was deleted/);
  });

  it('GIVEN JSON without a template WHEN posted THEN the definition\'s own template renders with its image', async () => {
    const r = await call(`${s.url}/api/releases`, {
      headers: { authorization: `Bearer ${API_TOKEN}` },
      body: { service: 'api', version: '7', image: 'ghcr.io/x/api:7', attributes: { owner: 'core' }, comment: 'from JSON' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ service: 'api', version: '7', attributes: { owner: 'core' }, comment: 'from JSON', registry: 'default' });
    expect(yamlAt(API).spec.template.spec.containers[0].image).toBe('ghcr.io/x/api:7');
    expect(yamlAt(`state/releases/api/${r.body.id}.yaml`).template).toBeUndefined();
  });

  it('GIVEN a urlencoded form WHEN posted THEN its extra fields are attributes too', async () => {
    const r = await curl([...auth, '-d', 'service=api', '-d', 'version=8', '-d', 'image=ghcr.io/x/api:8', '-d', 'region=eu']);
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ service: 'api', version: '8', attributes: { region: 'eu' } });
    expect(yamlAt(API).spec.template.spec.containers[0].image).toBe('ghcr.io/x/api:8');
  });

  it('GIVEN releases of web and api WHEN listed THEN soft-deleted ones are left out, filters, sort, order and paging apply', async () => {
    const all = await call(`${s.url}/api/releases`, AUTH);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ count: 3, limit: 20, offset: 0 });
    // Newest first by default; 1.2.4 was deleted.
    expect(all.body.items.map((i: any) => `${i.service}@${i.version}`)).toEqual(['api@8', 'api@7', 'web@1.2.3']);
    expect(all.body.items[2]).toEqual({
      id: first.id, service: 'web', version: '1.2.3', image: 'ghcr.io/x/web:1.2.3', namespace: null, registry: 'default',
      comment: null, attributes: { team: 'payments' }, createdAt: '2026-11-23T09:00:00.000Z',
    });

    const web = await call(`${s.url}/api/releases?service=web`, AUTH);
    expect(web.body.items.map((i: any) => i.id)).toEqual([first.id]);
    const byVersion = await call(`${s.url}/api/releases?sort=version&order=asc`, AUTH);
    expect(byVersion.body.items.map((i: any) => i.version)).toEqual(['1.2.3', '7', '8']);
    const oldest = await call(`${s.url}/api/releases?sort=created&order=asc&limit=1`, AUTH);
    expect(oldest.body.items.map((i: any) => i.id)).toEqual([first.id]);
    const byService = await call(`${s.url}/api/releases?sort=service&order=asc`, AUTH);
    expect(byService.body.items.map((i: any) => `${i.service}@${i.version}`)).toEqual(['api@7', 'api@8', 'web@1.2.3']);
    const page = await call(`${s.url}/api/releases?limit=1&offset=1`, AUTH);
    expect(page.body).toMatchObject({ count: 3, limit: 1, offset: 1 });
    expect(page.body.items.map((i: any) => i.version)).toEqual(['7']);
    const none = await call(`${s.url}/api/releases?registry=other&version=1.2.3`, AUTH);
    expect(none.body).toMatchObject({ count: 0, items: [] });
  });

  it('GIVEN bad query parameters WHEN listed THEN 400 naming the parameter', async () => {
    for (const [q, field] of [['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=ten', 'limit'], ['offset=-1', 'offset'], ['sort=size', 'sort'], ['order=up', 'order']]) {
      const r = await call(`${s.url}/api/releases?${q}`, AUTH);
      expect([r.status, r.body.code], q).toEqual([400, 'BadRequest']);
      expect(r.body.error, q).toContain(field);
    }
  });

  it('GIVEN a release id WHEN looked up THEN the release with its attributes, template and the paths of its rendered manifests', async () => {
    const r = await call(`${s.url}/api/releases/${first.id}`, AUTH);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: first.id, service: 'web', version: '1.2.3', attributes: { team: 'payments' }, template: CI_TEMPLATE, active: true });
    expect(r.body.manifests).toEqual([WEB]);
    expect(remoteFiles(s.remote)).toContain(WEB);

    const api = (await call(`${s.url}/api/releases?service=api`, AUTH)).body.items;
    const [newest, older] = await Promise.all(api.map((i: any) => call(`${s.url}/api/releases/${i.id}`, AUTH)));
    // Without a template of its own, a release's manifests are the files that run its image.
    expect([newest.body.version, newest.body.active, newest.body.manifests]).toEqual(['8', true, [API]]);
    expect([older.body.version, older.body.active, older.body.manifests]).toEqual(['7', false, []]);
  });

  it('GIVEN unknown or malformed ids WHEN looked up or deleted THEN 404, and nothing is built from them', async () => {
    const before = head();
    for (const id of ['no-such-release', '..%2F..%2Fstate', 'a.b', '%2E%2E', '-leading-dash', 'x'.repeat(100)]) {
      const get = await call(`${s.url}/api/releases/${id}`, AUTH);
      expect([get.status, get.body.code], id).toEqual([404, 'NotFound']);
      const del = await call(`${s.url}/api/releases/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${API_TOKEN}` } });
      expect([del.status, del.body.code], id).toEqual([404, 'NotFound']);
    }
    expect(head()).toBe(before);
  });

  it('GIVEN no token or a wrong one WHEN posting, deleting, listing or reading THEN 401 and HEAD unchanged', async () => {
    const before = head();
    const noToken = await curl(['-F', 'service=web', '-F', 'version=9']);
    expect([noToken.status, noToken.body.code]).toEqual([401, 'Unauthorized']);
    const wrong = await curl(['-H', 'Authorization: Bearer nope', '-F', 'service=web', '-F', 'version=9']);
    expect([wrong.status, wrong.body.code]).toEqual([401, 'Unauthorized']);
    const del = await curl(['-X', 'DELETE'], '/api/releases/any-release');
    expect([del.status, del.body.code]).toEqual([401, 'Unauthorized']);
    for (const p of ['/api/releases', '/api/releases/any-release']) {
      const read = await curl([], p);
      expect([read.status, read.body.code]).toEqual([401, 'Unauthorized']);
    }
    expect(head()).toBe(before);
  });

  it('GIVEN templates that do not render to Kubernetes objects WHEN posted THEN 400 InvalidTemplate saying why, and HEAD unchanged', async () => {
    const before = head();
    const cases: Array<[string, RegExp]> = [
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: { name: [unclosed\n', /not render to valid YAML/],
      ['just: a map\n', /not a Kubernetes object/],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: { name: {{#service}}x }\n', /not a valid mustache template/],
      ['# nothing\n', /renders no objects/],
    ];
    for (const [i, [template, why]] of cases.entries()) {
      const file = path.join(files, `bad-${i}.yaml`);
      writeFileSync(file, template);
      const r = await curl([...auth, '-F', 'service=web', '-F', `version=bad-${i}`, '-F', `template=@${file}`]);
      expect([r.status, r.body.code], template).toEqual([400, 'InvalidTemplate']);
      expect(r.body.error, template).toMatch(why);
      expect(r.body.error, template).toContain(`web@bad-${i}`);
    }
    expect(head()).toBe(before);
  });

  it('GIVEN missing or malformed fields WHEN posted THEN 400 naming the field', async () => {
    const before = head();
    const post = (body: unknown) => call(`${s.url}/api/releases`, { headers: { authorization: `Bearer ${API_TOKEN}` }, body });
    for (const [body, field] of [
      [{ service: 'web' }, 'version'],
      [{ version: '1' }, 'service'],
      [{ service: 'Web_App', version: '1' }, 'service'],
      [{ service: 'web', version: 'has space' }, 'version'],
      [{ service: 'web', version: '1', attributes: { team: 5 } }, 'attributes'],
      [{ service: 'web', version: '1', colour: 'red' }, 'colour'],
    ] as const) {
      const r = await post(body);
      expect([r.status, r.body.code], JSON.stringify(body)).toEqual([400, 'BadRequest']);
      expect(r.body.error, JSON.stringify(body)).toContain(field);
    }
    const form = await curl([...auth, '-F', 'service=web', '-F', 'version=1', '-F', 'version=2']);
    expect([form.status, form.body.error]).toEqual([400, 'release: form field "version" is given twice']);
    expect(head()).toBe(before);
  });

  it('GIVEN a template file over 64 KiB WHEN posted THEN 413 and HEAD unchanged', async () => {
    const before = head();
    const big = path.join(files, 'big.yaml');
    writeFileSync(big, `${CI_TEMPLATE}\n# ${'x'.repeat(70 * 1024)}\n`);
    const r = await curl([...auth, '-F', 'service=web', '-F', 'version=big', '-F', `template=@${big}`]);
    expect([r.status, r.body.code]).toEqual([413, 'PayloadTooLarge']);
    const json = await call(`${s.url}/api/releases`, { headers: { authorization: `Bearer ${API_TOKEN}` }, body: { service: 'web', version: 'big', template: 'x'.repeat(70 * 1024) } });
    expect([json.status, json.body.code]).toEqual([413, 'PayloadTooLarge']);
    expect(head()).toBe(before);
  });
});
