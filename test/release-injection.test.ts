/**
 * What a release caller sends can never widen what reaches the cluster (CONTRACT "Safety":
 * what a caller sends is data, never YAML). Crafted releases go to a real sidecar on loopback
 * over a real bare repo, against a template that interpolates unquoted, double-quoted,
 * single-quoted and inside a block scalar; uploaded templates try to add what a release may
 * not hold.
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

/** Every value lands in one field of its own: plain, "quoted", 'quoted', a block scalar, and replicas. */
const TEMPLATE = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{service}}
  annotations:
    version: "{{version}}"
spec:
  replicas: {{attributes.replicas}}
  selector: { matchLabels: { app: {{service}} } }
  template:
    metadata: { labels: { app: {{service}} } }
    spec:
      containers:
        - name: app
          image: {{image}}
          env:
            - name: PLAIN
              value: {{attributes.v}}
            - { name: DOUBLE, value: "{{attributes.v}}" }
            - { name: SINGLE, value: '{{attributes.v}}' }
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{service}}-config
data:
  block: |
    {{attributes.v}}
  folded: >-
    {{attributes.v}}
`;

const DEFINITION = `
import { Environment, Release } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'shop', { namespace: 'shop' });
  new Release(env, 'svc', { service: 'svc', template: ${JSON.stringify(TEMPLATE)}, serviceAttributes: {} });
};`;

const DEPLOYMENT = 'groups/shop/deployment-svc.yaml';
const CONFIG = 'groups/shop/configmap-svc-config.yaml';

/** Values an attacker would try: each is one attribute value. */
const CRAFTED: Array<[string, string]> = [
  ['a document break adding a ClusterRoleBinding', 'x\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: pwn}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default, namespace: shop}]'],
  ['a document break adding a Namespace', 'x\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: evil'],
  ['a bare document break', '---'],
  ['a document end marker', 'x\n...\n---\nkind: Secret'],
  ['a double quote that closes the string', 'a", extra: "b'],
  ['a double quote and a new key', '"\n            - {name: INJECTED, value: yes}'],
  ['a single quote that closes the string', "a', extra: 'b"],
  ['a flow map', '{ a: 1, b: [2, 3] }'],
  ['a flow sequence', '[1, 2, {x: y}]'],
  ['an opening brace', '{'],
  ['a closing brace and bracket', '}]'],
  ['a comment', '# everything after is gone'],
  ['a value then a comment', 'value # comment'],
  ['an anchor', '&anchor value'],
  ['an alias', '*anchor'],
  ['a tag', '!!binary aGVsbG8='],
  ['a local tag', '!custom value'],
  ['a literal block indicator', '|\n  block text'],
  ['a folded block indicator', '>\n  folded text'],
  ['a tab', 'a\tb'],
  ['a leading tab', '\tindented'],
  ['newlines with deeper indentation', 'a\n    b: c\n  d: e'],
  ['a new key at the root', 'x\nkind: Secret\nmetadata: {name: s}'],
  ['a merge key', '<<: {replicas: 99}'],
  ['a key and a colon', 'key: value'],
  ['a YAML directive', '%YAML 1.1\n---\nx'],
  ['a percent sign', '%TAG ! tag:evil,2026:'],
  ['a question mark key', '? complex\n: key'],
  ['a backslash escape', '\\n\\t\\u0041\\"'],
  ['quotes of both kinds', `"'"'"'`],
  ['a very long value', `${'A'.repeat(4000)}\n---\nkind: Namespace`],
  ['a YAML 1.1 boolean word', 'yes'],
  ['the word null', 'null'],
  ['unicode line separators', 'a\u2028b\u2029c\u0085d'],
  ['CRLF line breaks', 'a\r\n---\r\nkind: Namespace'],
  ['every special character at once', `-\n---\n{"'#&*!|>\t%@\`,[]`],
];

describe('crafted release values against a template with every kind of placeholder', () => {
  let s: TestSidecar;
  let minute = 0;
  const clock = () => new Date(Date.UTC(2026, 10, 30, 9, minute++));
  const head = () => gitOut(s.remote, 'rev-parse', 'main');
  const groupFiles = () => remoteFiles(s.remote).filter((f) => f.startsWith('groups/') || f.startsWith('apps/')).sort();
  const post = (body: unknown) => call(`${s.url}/api/releases`, { body, headers: { authorization: `Bearer ${API_TOKEN}` } });
  let baseline: string[];
  const rendered: string[] = [];

  beforeAll(async () => {
    s = await startSidecar({ files: { 'shop.ts': DEFINITION }, clock });
    const first = await post({ service: 'svc', version: '1.0.0', image: 'ghcr.io/acme/svc:1.0.0', attributes: { replicas: '2', v: 'plain' } });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    baseline = groupFiles();
  }, 60_000);
  afterAll(() => s?.close());

  it('GIVEN a benign release WHEN rendered THEN an unquoted number is an integer and every slot holds the value', () => {
    const d = YAML.parse(remoteFile(s.remote, DEPLOYMENT));
    expect(d.spec.replicas).toBe(2);
    const env = d.spec.template.spec.containers[0].env;
    expect(['PLAIN', 'DOUBLE', 'SINGLE'].map((n) => env.find((e: any) => e.name === n).value)).toEqual(['plain', 'plain', 'plain']);
    expect(baseline).toContain(DEPLOYMENT);
    expect(baseline).toContain(CONFIG);
  });

  it.each(CRAFTED)('GIVEN an attribute with %s WHEN posted THEN it is that literal string in its own fields, or refused with HEAD unchanged', async (_what, value) => {
    const before = head();
    const version = `2.${minute}.0`;
    const res = await post({ service: 'svc', version, image: 'ghcr.io/acme/svc:2', attributes: { replicas: '3', v: value } });
    if (res.status !== 201) {
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(['InvalidObject', 'InvalidTemplate', 'DisallowedObject', 'BadRequest']).toContain(res.body.code);
      expect(head()).toBe(before);
      return;
    }
    // Nothing added, removed or renamed: the same files, one document each.
    expect(groupFiles()).toEqual(baseline);
    for (const f of [DEPLOYMENT, CONFIG]) expect(YAML.parseAllDocuments(remoteFile(s.remote, f)).length).toBe(1);
    const d = YAML.parse(remoteFile(s.remote, DEPLOYMENT));
    const c = YAML.parse(remoteFile(s.remote, CONFIG));
    expect(Object.keys(d)).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(d.spec.replicas).toBe(3);
    expect(d.metadata.annotations.version).toBe(version);
    const env = d.spec.template.spec.containers[0].env;
    expect(env.map((e: any) => e.name).sort()).toEqual(['DOUBLE', 'GARBAGE_COLLECTOR_URL', 'GROUP_ID', 'PLAIN', 'SINGLE']);
    const valueOf = (name: string) => env.find((e: any) => e.name === name).value;
    expect([valueOf('PLAIN'), valueOf('DOUBLE'), valueOf('SINGLE')]).toEqual([value, value, value]);
    expect(Object.keys(c.data)).toEqual(['block', 'folded']);
    expect(c.data.block).toBe(`${value}\n`);
    expect(c.data.folded).toBe(value);
    rendered.push(_what);
  });

  it('GIVEN all the crafted values WHEN posted THEN all but the one a plain scalar reads as null render literally', () => {
    // `value: null` is null, which an env value may not be: refused by the schema. Every other value is a string.
    expect(CRAFTED.map(([what]) => what).filter((w) => !rendered.includes(w))).toEqual(['the word null']);
    expect(groupFiles()).toEqual(baseline);
  });

  it.each([
    ['a document break in replicas', '1\n---\nkind: Namespace'],
    ['a flow map in replicas', '{a: 1}'],
    ['a string in replicas', 'three'],
    ['an alias in replicas', '*x'],
  ])('GIVEN %s (an unquoted integer field) WHEN posted THEN the request is refused and HEAD is unchanged', async (_what, replicas) => {
    const before = head();
    const res = await post({ service: 'svc', version: `3.${minute}.0`, image: 'img', attributes: { replicas, v: 'x' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('InvalidObject');
    expect(res.body.error).toContain('spec.replicas');
    expect(head()).toBe(before);
  });

  it.each([
    ['an image with quotes and indicators', 'img"&*!|>#{}[]:x'],
    ['an image that opens a flow map', '{x:'],
  ])('GIVEN %s WHEN posted THEN the container image is that literal string', async (_what, image) => {
    const res = await post({ service: 'svc', version: `4.${minute}.0`, image, attributes: { replicas: '1', v: 'x' } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(YAML.parse(remoteFile(s.remote, DEPLOYMENT)).spec.template.spec.containers[0].image).toBe(image);
    expect(groupFiles()).toEqual(baseline);
  });

  it('GIVEN a version with quotes and indicators WHEN posted THEN the annotation is that literal string', async () => {
    const version = `5"'#&*!|>{}[]:${minute}`;
    const res = await post({ service: 'svc', version, image: 'img', attributes: { replicas: '1', v: 'x' } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(YAML.parse(remoteFile(s.remote, DEPLOYMENT)).metadata.annotations.version).toBe(version);
  });
});

/** A CI upload's template: the service's Deployment, and what it must not bring along. */
const upload = (extra: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: {{service}} }
spec:
  replicas: 1
  selector: { matchLabels: { app: {{service}} } }
  template:
    metadata: { labels: { app: {{service}} } }
    spec: { containers: [{ name: app, image: {{image}} }] }
---
${extra}
`;

describe('uploaded templates that reach beyond their release', () => {
  let s: TestSidecar;
  const dir = tempDir('paddock-upload-');
  let minute = 0;
  const clock = () => new Date(Date.UTC(2026, 10, 30, 10, minute++));

  beforeAll(async () => {
    s = await startSidecar({ files: { 'shop.ts': DEFINITION }, clock });
  }, 60_000);
  afterAll(() => s?.close());

  /** kubernaut's form, as CI sends it with the real curl. */
  async function ciUpload(name: string, template: string): Promise<{ status: number; body: any }> {
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(file, template);
    const { stdout } = await run('curl', ['-sS', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${API_TOKEN}`,
      '-F', 'service=svc', '-F', `version=${name}`, '-F', `template=@${file}`, '-F', 'image=ghcr.io/acme/svc:9', `${s.url}/api/releases`]);
    const cut = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(cut + 1)), body: JSON.parse(stdout.slice(0, cut)) };
  }

  it.each([
    ['a ClusterRoleBinding', 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: { name: pwn }\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }\nsubjects: [{ kind: ServiceAccount, name: default, namespace: shop }]', 'document 2 (ClusterRoleBinding pwn) is cluster-scoped'],
    ['a Namespace', 'apiVersion: v1\nkind: Namespace\nmetadata: { name: evil }', 'document 2 (Namespace evil) is cluster-scoped'],
    ['an object in another namespace', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c, namespace: kube-system }\ndata: { a: b }', 'document 2 (ConfigMap c) is in namespace kube-system'],
    ['a disallowed kind (RoleBinding)', 'apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: { name: rb }\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin }\nsubjects: [{ kind: ServiceAccount, name: default }]', 'kind rbac.authorization.k8s.io/v1/RoleBinding is not allowed'],
    ['a custom resource', 'apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }', 'kind example.com/v1/Widget is not allowed'],
    ['a Deployment of a look-alike group', 'apiVersion: evil.example.com/v1\nkind: Deployment\nmetadata: { name: d }', 'kind evil.example.com/v1/Deployment is not allowed'],
  ])('GIVEN an upload holding %s WHEN posted THEN 400 DisallowedObject names the document and kind, and nothing changes', async (_what, extra, detail) => {
    const before = gitOut(s.remote, 'rev-parse', 'main');
    const res = await ciUpload(`9.${minute}.0`, upload(extra));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('DisallowedObject');
    expect(res.body.error).toContain(detail);
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(before);
  });

  it('GIVEN an upload with an unknown field WHEN posted THEN 400 InvalidObject names the field, and nothing changes', async () => {
    const before = gitOut(s.remote, 'rev-parse', 'main');
    const res = await ciUpload(`8.${minute}.0`, upload('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\nx: 1\ndata: { a: b }'));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('InvalidObject');
    expect(res.body.error).toContain('document 2 (ConfigMap c): x: is not a field');
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(before);
  });

  it('GIVEN a release for a service no Release renders WHEN posted THEN 404 UnknownService, and nothing changes', async () => {
    const before = gitOut(s.remote, 'rev-parse', 'main');
    const res = await call(`${s.url}/api/releases`, { body: { service: 'nobody', version: '1' }, headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(res.status).toBe(404);
    expect(res.body.code).toBe('UnknownService');
    expect(gitOut(s.remote, 'rev-parse', 'main')).toBe(before);
  });

  it('GIVEN an upload holding only what the Release allows WHEN posted THEN it is committed', async () => {
    const res = await ciUpload(`7.${minute}.0`, upload('apiVersion: v1\nkind: Service\nmetadata: { name: svc }\nspec: { selector: { app: svc }, ports: [{ port: 80 }] }'));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(remoteFiles(s.remote)).toContain('groups/shop/service-svc.yaml');
  });
});
