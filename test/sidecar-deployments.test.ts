/**
 * Deployments, as kubernaut separates them from releases (CONTRACT "Releases" -> Deployments):
 * a release is posted once; `POST /api/deployments {release, context}` sends it to a context (a
 * `Release` that follows deployments), as a commit; `DELETE` rolls that context alone back. A
 * real sidecar on loopback, a real bare repo, the real curl for the forms.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { gitOut, remoteFile, remoteFiles } from './helpers/repo.ts';
import { paddock } from './helpers/cli.ts';
import { API_TOKEN, call, startSidecar, type TestSidecar } from './helpers/sidecar.ts';
import { tempDir, TEST_SECRET } from './helpers/synth.ts';

const run = promisify(execFile);

const TEMPLATE = 'apiVersion: apps/v1\\nkind: Deployment\\nmetadata: { name: web }\\nspec:\\n  selector: { matchLabels: { app: web } }\\n  template:\\n    metadata: { labels: { app: web } }\\n    spec: { containers: [{ name: web, image: "{{image}}" }] }\\n';
const DEFINITION = `
import { Environment, Release } from 'paddock';
export default (scope) => {
  const staging = new Environment(scope, 'web-staging', { namespace: 'web-staging', destination: { name: 'staging' } });
  new Release(staging, 'web', { service: 'web', template: '${TEMPLATE}', follows: 'deployed', context: 'staging' });
  const production = new Environment(scope, 'web-prod', { namespace: 'web-prod', destination: { server: 'https://prod.example.com:6443' } });
  new Release(production, 'web', { service: 'web', template: '${TEMPLATE}', follows: 'deployed', context: 'production' });
  const dev = new Environment(scope, 'web-dev', { namespace: 'web-dev' });
  new Release(dev, 'web', { service: 'web', template: '${TEMPLATE}' });
};`;

const auth = { authorization: `Bearer ${API_TOKEN}` };

describe('deployments, kubernaut-compatible', () => {
  let s: TestSidecar;
  let minute = 0;
  const clock = () => new Date(Date.UTC(2026, 10, 30, 9, minute++));
  const head = () => gitOut(s.remote, 'rev-parse', 'main');
  const subject = () => gitOut(s.remote, 'log', '-1', '--format=%s', 'main');
  /** The image `group` runs, or undefined when it renders no Deployment. */
  const image = (group: string) => {
    const file = `groups/${group}/deployment-web.yaml`;
    return remoteFiles(s.remote).includes(file) ? YAML.parse(remoteFile(s.remote, file)).spec.template.spec.containers[0].image : undefined;
  };
  const release = async (version: string) => {
    const r = await call(`${s.url}/api/releases`, { headers: auth, body: { service: 'web', version, image: `ghcr.io/acme/web:${version}` } });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const deploy = (body: unknown, headers: Record<string, string> = auth) => call(`${s.url}/api/deployments`, { headers, body });
  async function curl(args: string[]): Promise<{ status: number; body: any }> {
    const { stdout } = await run('curl', ['-sS', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${API_TOKEN}`, ...args, `${s.url}/api/deployments`]);
    const cut = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(cut + 1)), body: JSON.parse(stdout.slice(0, cut)) };
  }
  let v1 = '';
  let v2 = '';
  let toStagingV2 = '';

  beforeAll(async () => {
    s = await startSidecar({ files: { 'web.ts': DEFINITION }, deps: { clock } });
  });
  afterAll(() => s.close());

  it('GIVEN contexts that follow deployments WHEN a release is posted THEN only the context that follows every release runs it', async () => {
    v1 = await release('1.0');
    expect([image('web-dev'), image('web-staging'), image('web-prod')]).toEqual(['ghcr.io/acme/web:1.0', undefined, undefined]);
  });

  it('GIVEN a posted release WHEN deployed to staging THEN 201 once pushed, staging runs it and production does not', async () => {
    const r = await deploy({ release: v1, context: 'staging' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ service: 'web', release: v1, version: '1.0', context: 'staging', active: true, commit: head() });
    expect(subject()).toBe('deploy(service/web): 1.0 to staging');
    expect([image('web-staging'), image('web-prod')]).toEqual(['ghcr.io/acme/web:1.0', undefined]);
    expect(YAML.parse(remoteFile(s.remote, `state/deployments/web/${r.body.id}.yaml`))).toMatchObject({ release: v1, context: 'staging', version: '1.0' });
  });

  it('GIVEN a newer release WHEN posted THEN staging keeps what was deployed; deployed with curl\'s multipart and urlencoded forms THEN each context moves alone', async () => {
    v2 = await release('1.1');
    expect([image('web-dev'), image('web-staging')]).toEqual(['ghcr.io/acme/web:1.1', 'ghcr.io/acme/web:1.0']);
    const form = await curl(['-F', `release=${v2}`, '-F', 'context=staging']);
    expect([form.status, form.body.version, form.body.context]).toEqual([201, '1.1', 'staging']);
    toStagingV2 = form.body.id;
    const urlencoded = await curl(['-d', `release=${v1}&context=production`]);
    expect([urlencoded.status, urlencoded.body.version, urlencoded.body.context]).toEqual([201, '1.0', 'production']);
    expect([image('web-staging'), image('web-prod')]).toEqual(['ghcr.io/acme/web:1.1', 'ghcr.io/acme/web:1.0']);
  });

  it('GIVEN deployments WHEN listed and looked up THEN newest first, each saying whether it is the one in force', async () => {
    const list = await call(`${s.url}/api/deployments?service=web`, { headers: auth });
    expect(list.body.items.map((d: any) => `${d.context}:${d.version}:${d.active}`)).toEqual(['production:1.0:true', 'staging:1.1:true', 'staging:1.0:false']);
    expect((await call(`${s.url}/api/deployments?context=staging`, { headers: auth })).body.count).toBe(2);
    const one = await call(`${s.url}/api/deployments/${toStagingV2}`, { headers: auth });
    expect(one.body).toMatchObject({ id: toStagingV2, release: v2, context: 'staging', active: true });
    expect((await call(`${s.url}/api/deployments/nosuch`, { headers: auth })).status).toBe(404);
  });

  it('GIVEN staging at 1.1 WHEN its deployment is deleted THEN staging rolls back to 1.0 and production is untouched', async () => {
    const r = await call(`${s.url}/api/deployments/${toStagingV2}`, { method: 'DELETE', headers: auth });
    expect(r.status).toBe(204);
    expect(subject()).toBe(`rollback(service/web): undo deployment ${toStagingV2} to staging`);
    expect([image('web-staging'), image('web-prod'), image('web-dev')]).toEqual(['ghcr.io/acme/web:1.0', 'ghcr.io/acme/web:1.0', 'ghcr.io/acme/web:1.1']);
    expect((await call(`${s.url}/api/deployments/${toStagingV2}`, { headers: auth })).body).toMatchObject({ active: false, deletedAt: expect.any(String) });
  });

  it('GIVEN releases in force in different contexts WHEN looked up THEN each is active with the files of the groups that run it, and one no context runs has none', async () => {
    // web-dev follows every release (1.1); staging and production run what was deployed (1.0).
    const one = await call(`${s.url}/api/releases/${v1}`, { headers: auth });
    expect([one.status, one.body.active, one.body.manifests]).toEqual([200, true, ['groups/web-prod/deployment-web.yaml', 'groups/web-staging/deployment-web.yaml']]);
    const two = await call(`${s.url}/api/releases/${v2}`, { headers: auth });
    expect([two.body.active, two.body.manifests]).toEqual([true, ['groups/web-dev/deployment-web.yaml']]);
    const v3 = await release('1.2');
    const three = await call(`${s.url}/api/releases/${v3}`, { headers: auth });
    expect([three.body.active, three.body.manifests]).toEqual([true, ['groups/web-dev/deployment-web.yaml']]);
    const none = await call(`${s.url}/api/releases/${v2}`, { headers: auth });
    expect([none.body.active, none.body.manifests]).toEqual([false, []]);
  });

  it('GIVEN what cannot be deployed WHEN asked THEN the code says why and HEAD is unchanged; the release already in force is 200 with no commit', async () => {
    const before = head();
    const unknown = await deploy({ release: v2, context: 'qa' });
    expect([unknown.status, unknown.body.code, unknown.body.error]).toEqual([404, 'UnknownContext', 'service "web" has no context "qa"; its contexts: production, staging']);
    const latest = await deploy({ release: v2, context: 'web-dev' });
    expect([latest.status, latest.body.code]).toEqual([409, 'Conflict']);
    expect((await deploy({ release: 'no-such-release', context: 'staging' })).status).toBe(404);
    expect((await deploy({ release: v2 })).status).toBe(400);
    expect((await deploy({ release: v2, context: 'staging' }, {})).status).toBe(401);
    const again = await deploy({ release: v1, context: 'staging' });
    expect([again.status, again.body.commit, again.body.version]).toEqual([200, null, '1.0']);
    expect(head()).toBe(before);
  });

  it('GIVEN deployments in two contexts WHEN paddock status reads the repo THEN it shows the release in force in each', async () => {
    const r = await paddock(['status', '--repo', s.remote, '--definitions', tempDir(), '-o', 'json'], { env: { PADDOCK_GC_SECRET: TEST_SECRET, PADDOCK_CACHE_DIR: tempDir() } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).deployments).toEqual([
      { service: 'web', context: 'production', version: '1.0', release: v1, id: expect.any(String), deployedAt: expect.any(String) },
      { service: 'web', context: 'staging', version: '1.0', release: v1, id: expect.any(String), deployedAt: expect.any(String) },
    ]);
    const tables = await paddock(['status', '--repo', s.remote], { env: { PADDOCK_GC_SECRET: TEST_SECRET, PADDOCK_CACHE_DIR: tempDir() } });
    expect(tables.stdout).toMatch(/^DEPLOYMENTS \(2 contexts\)$/m);
    expect(tables.stdout).toMatch(/^web\s+staging\s+1\.0\s/m);
  });
});
