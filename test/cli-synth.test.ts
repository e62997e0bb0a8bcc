import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { paddock, REPO_ROOT, run, treeDigest } from './helpers/cli.ts';
import { definitionsDir, tempDir } from './helpers/synth.ts';

const GOOD = `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'good', { namespace: 'good' });
  new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { a: '1' } });
};`;

const BAD_REPLICAS = `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'broken', { namespace: 'broken' });
  new ApiObject(env, 'web', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: { replicas: 'three', selector: { matchLabels: { app: 'web' } },
            template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } } },
  });
};`;

/** What synth says, once, without a GC secret. */
const PLACEHOLDER_WARNING = 'paddock synth: no GC secret (PADDOCK_GC_SECRET or --gc-secret-file): every GARBAGE_COLLECTOR_URL is a placeholder (http://paddock-sidecar.paddock.svc:8080/gc/unsigned) that the sidecar refuses\n';

describe('paddock synth (the command)', () => {
  let out: string;
  beforeAll(() => {
    out = tempDir('paddock-out-');
  });

  it('GIVEN the shipped environments/ WHEN synthesized THEN every group gets an Application and its files, and a summary is printed', async () => {
    const r = await paddock(['synth', '--out', out]);
    expect(r.stderr).toBe(PLACEHOLDER_WARNING);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/batch-app\s+batch\s+3/);
    expect(r.stdout).toMatch(/\d+ groups, \d+ objects, 1 lease pools/);
    const tree = treeDigest(out);
    for (const g of ['batch-app', 'storefront', 'shop', 'shop-canary', 'shop-profiling', 'ws-demo', 'e2e-env-1', 'e2e-env-2', 'e2e-env-3']) {
      expect(tree[`apps/${g}.yaml`], g).toBeDefined();
      expect(Object.keys(tree).some((p) => p.startsWith(`groups/${g}/`)), g).toBe(true);
    }
    expect(tree['apps/paddock-root.yaml']).toBeDefined();
    const job = YAML.parse(readFileSync(path.join(out, 'groups/batch-app/job-batch-app-report.yaml'), 'utf8'));
    const container = job.spec.template.spec.containers[0];
    expect(container.args[0]).toContain('curl -fsS -X POST "$GARBAGE_COLLECTOR_URL"');
    expect(container.args[0]).toContain('group_id=$GROUP_ID');
    expect(container.env.map((e: any) => e.name)).toEqual(['GROUP_ID', 'GARBAGE_COLLECTOR_URL']);
    // storefront pulls from a private registry through an ExternalSecret; no credential is written.
    const pull = YAML.parse(readFileSync(path.join(out, 'groups/storefront/externalsecret-storefront-registry.yaml'), 'utf8'));
    expect(pull.spec.target.template.type).toBe('kubernetes.io/dockerconfigjson');
    expect(YAML.parse(readFileSync(path.join(out, 'groups/storefront/deployment-web.yaml'), 'utf8')).spec.template.spec.imagePullSecrets).toEqual([{ name: 'storefront-registry' }]);
    expect(Object.keys(tree).filter((p) => /^groups\/storefront\/secret-/.test(p))).toEqual([]);
  });

  it('GIVEN a definition with an invalid field WHEN synthesized THEN one line names the file, construct path and field, exit 1, and DIR is untouched', async () => {
    const dir = definitionsDir({ 'good.ts': GOOD });
    const target = tempDir('paddock-out-');
    expect((await paddock(['synth', '--definitions', dir, '--out', target])).code).toBe(0);
    writeFileSync(path.join(target, 'NOTES.txt'), 'not paddock\'s');
    const before = treeDigest(target);

    writeFileSync(path.join(dir, 'broken.ts'), BAD_REPLICAS);
    const r = await paddock(['synth', '--definitions', dir, '--out', target]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^paddock: .*broken\.ts: broken\/web: Deployment web: spec\.replicas: must be an integer$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(treeDigest(target)).toEqual(before);
  });

  it('GIVEN a definition that throws WHEN synthesized THEN the construct error is one line naming the file, exit 1', async () => {
    const dir = definitionsDir({ 'ttl.ts': "import { Environment } from 'paddock';\nexport default (s) => { new Environment(s, 'x', { namespace: 'x', ttl: 'soon' }); };" });
    const r = await paddock(['synth', '--definitions', dir, '--out', tempDir()]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^paddock: .*ttl\.ts: x: ttl "soon" is not a duration such as 30m, 2h or 7d$/);
  });

  it('GIVEN a missing definitions dir WHEN synthesized THEN it says so in one line, exit 1', async () => {
    const r = await paddock(['synth', '--definitions', '/nonexistent/defs', '--out', tempDir()]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('paddock: /nonexistent/defs: no such definitions directory');
  });

  it('GIVEN PADDOCK_DEFINITIONS and no --definitions WHEN synthesized THEN the variable names the directory; a flag wins over it', async () => {
    const dir = definitionsDir({ 'good.ts': GOOD });
    const out = tempDir();
    const fromEnv = await paddock(['synth', '--out', out, '--quiet'], { env: { PADDOCK_DEFINITIONS: dir } });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    // Its groups, not those of environments/ in the working directory (the default).
    expect(readdirSync(path.join(out, 'groups'))).toEqual(['good']);
    const flagWins = await paddock(['synth', '--definitions', '/nonexistent/defs', '--out', tempDir()], { env: { PADDOCK_DEFINITIONS: dir } });
    expect(flagWins.stderr.trim()).toBe('paddock: /nonexistent/defs: no such definitions directory');
    expect((await paddock(['synth', '--help'])).stdout).toMatch(/--definitions <dir>\s+definitions directory \(default: "environments", env:\s+PADDOCK_DEFINITIONS\)/);
  });

  it('GIVEN files in DIR that paddock does not own WHEN synthesized THEN they stay, and stale owned files go', async () => {
    const dir = definitionsDir({ 'good.ts': GOOD });
    const target = tempDir('paddock-out-');
    mkdirSync(path.join(target, 'groups/old-group'), { recursive: true });
    writeFileSync(path.join(target, 'groups/old-group/configmap-x.yaml'), 'stale');
    mkdirSync(path.join(target, 'state/removals'), { recursive: true });
    writeFileSync(path.join(target, 'state/removals/keep.yaml'), 'kept');
    writeFileSync(path.join(target, 'other.txt'), 'kept');
    expect((await paddock(['synth', '--definitions', dir, '--out', target, '--quiet'])).code).toBe(0);
    const tree = treeDigest(target);
    expect(Object.keys(tree).filter((p) => p.startsWith('groups/'))).toEqual(['groups/good/configmap-settings.yaml']);
    expect(tree['other.txt']).toBeDefined();
    expect(tree['state/removals/keep.yaml']).toBeDefined();
  });

  it('GIVEN cdk8s.yaml WHEN its app runs the way `cdk8s synth` runs it (CDK8S_OUTDIR set) THEN the layout lands in that dir only', async () => {
    const app = YAML.parse(readFileSync(path.join(REPO_ROOT, 'cdk8s.yaml'), 'utf8')).app as string;
    const target = path.join(tempDir(), 'cdk8s.out');
    const r = await run(app, [], { shell: true, env: { CDK8S_OUTDIR: target } });
    expect(r.stderr).toBe(PLACEHOLDER_WARNING);
    expect(r.code).toBe(0);
    expect(treeDigest(target)['apps/batch-app.yaml']).toBeDefined();
  });

  it('GIVEN --help on synth WHEN run THEN it documents the flags and exits 0', async () => {
    const r = await paddock(['synth', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--definitions <dir>');
    expect(r.stdout).toContain('--out <dir>');
  });
});

describe('determinism', () => {
  it('GIVEN the same inputs WHEN synthesized by two processes from different working directories and copies of the definitions THEN the trees are byte-identical', async () => {
    // The second copy is written in reverse file order, so directory listings differ.
    const copy = tempDir('paddock-defs-copy-');
    const files = readdirSync(path.join(REPO_ROOT, 'environments')).sort().reverse();
    for (const f of files) cpSync(path.join(REPO_ROOT, 'environments', f), path.join(copy, f));
    const a = tempDir('paddock-a-');
    const b = tempDir('paddock-b-');
    const env = { PADDOCK_GC_SECRET: 'same-secret', PADDOCK_REPO: 'https://git.test/m.git' };
    const [ra, rb] = await Promise.all([
      paddock(['synth', '--definitions', 'environments', '--out', a, '--quiet'], { cwd: REPO_ROOT, env }),
      paddock(['synth', '--definitions', copy, '--out', b, '--quiet'], { cwd: tempDir(), env }),
    ]);
    expect(ra.stderr + rb.stderr).toBe('');
    expect(treeDigest(b)).toEqual(treeDigest(a));
    expect(Object.keys(treeDigest(a)).length).toBeGreaterThan(20);
  });
});
