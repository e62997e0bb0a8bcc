/**
 * Everything `paddock synth` makes of the shipped environments/ is what a real API server accepts:
 * every file under apps/ (Argo CD Applications, against Argo CD's own Application CRD) and
 * groups/ (the groups' objects) passes a server-side dry-run apply with strict field validation,
 * one file at a time, so a rejection names its file. Nothing is stored.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApiextensionsV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  adminKubeConfig, deleteNamespaces, ensureArgoCrds, ensureExternalSecretCrd, ensureNamespaces, FIELD_MANAGER, kubectl, manifestFiles, synth, theCluster,
  type ManifestFile, type Run,
} from './helpers.ts';

const cluster = theCluster();
/** Argo CD's own finalizer name: paddock must use it as is, so its warning is expected. */
const EXPECTED_WARNINGS = [/^Warning: metadata\.finalizers: "resources-finalizer\.argocd\.argoproj\.io": prefer a domain-qualified finalizer name/];

const out = cluster ? await synth() : '';
const files: ManifestFile[] = cluster ? [...(await manifestFiles(out, 'apps')), ...(await manifestFiles(out, 'groups'))] : [];

/**
 * Server-side dry-run apply of one file, as `kubectl apply --server-side` validates it
 * (fieldValidation=Strict). --force-conflicts: an object of that name another file of the tier
 * holds (argocd.test.ts applies a real app of apps) has other field managers, which says nothing
 * about this file; a dry run takes nothing from them.
 */
function dryRun(file: string): Promise<Run> {
  return kubectl(['apply', '--server-side', '--dry-run=server', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '--validate=strict', '-f', file, '-o', 'json']);
}

function unexpectedWarnings(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('Warning:'))
    .filter((l) => !EXPECTED_WARNINGS.some((re) => re.test(l)));
}

describe.skipIf(!cluster)('synthesized environments/ against a real API server (server-side dry run)', () => {
  let admin: KubeConfig;
  const created: string[] = [];

  beforeAll(async () => {
    admin = adminKubeConfig();
    await ensureArgoCrds(admin, cluster!);
    // A group of environments/ takes its registry credentials from an ExternalSecret.
    await ensureExternalSecretCrd(admin, cluster!);
    // Namespaced objects can only be validated in an existing namespace: create the ones they
    // name (Argo CD would, through CreateNamespace=true), and argocd for the Applications.
    const namespaces = files.flatMap((f) => f.objects.map((o) => o.metadata?.namespace)).filter((n): n is string => !!n);
    created.push(...(await ensureNamespaces(admin, ['argocd', ...namespaces])));
  }, 900_000);

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
    if (cluster && admin) await deleteNamespaces(admin, cluster, created);
  });

  it('GIVEN environments/ WHEN synthesized THEN there are Applications under apps/ and objects under groups/', () => {
    const kinds = new Set(files.flatMap((f) => f.objects.map((o) => `${f.rel.split('/')[0]}:${o.kind}`)));
    expect(kinds).toContain('apps:Application');
    // paddock's own least-privilege projects, dry-run applied below like every other file; no Application uses `default`.
    expect(kinds).toContain('apps:AppProject');
    const projects = new Set(files.flatMap((f) => f.objects.filter((o) => o.kind === 'Application').map((o) => o.spec.project)));
    expect([...projects].sort()).toEqual(['paddock', 'paddock-apps']);
    expect([...kinds].filter((k) => k.startsWith('groups:')).length).toBeGreaterThan(3);
    expect(files.filter((f) => f.objects.length === 0).map((f) => f.rel)).toEqual([]);
  });

  it('GIVEN the Argo CD Application CRD THEN it is installed and established', async () => {
    const crd = await admin.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: 'applications.argoproj.io' });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
  });

  it.concurrent.for(files.map((f) => [f.rel, f] as const))('GIVEN %s WHEN dry-run applied server-side THEN the API server accepts it', async ([rel, f], { expect }) => {
    const r = await dryRun(f.abs);
    expect(r.code, `the API server rejected ${rel}:\n${r.stderr}`).toBe(0);
    expect(unexpectedWarnings(r.stderr), `warnings for ${rel}`).toEqual([]);
    // What came back is what the file holds, merged and defaulted by the server.
    const back = JSON.parse(r.stdout);
    const items: Array<Record<string, any>> = back.kind === 'List' ? back.items : [back];
    expect(items.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`)).toEqual(
      f.objects.map((o) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`),
    );
    for (const o of items) expect(o.metadata.labels?.['app.kubernetes.io/managed-by'], `${rel}: managed-by label`).toBe('paddock');
  });

  it('GIVEN a synthesized Deployment and Application with an unknown field THEN the dry run rejects them (validation is live)', async () => {
    const deployment = files.find((f) => f.objects[0]?.kind === 'Deployment');
    const application = files.find((f) => f.objects[0]?.kind === 'Application');
    expect(deployment && application).toBeTruthy();
    for (const [f, mutate, field] of [
      [deployment!, (o: any) => (o.spec.template.spec.containers[0].bogusField = 1), 'bogusField'],
      [application!, (o: any) => (o.spec.source.bogusField = 1), 'bogusField'],
    ] as const) {
      const obj = structuredClone(f.objects[0]);
      mutate(obj);
      const bad = path.join(out, `invalid-${path.basename(f.abs)}`);
      await writeFile(bad, stringify(obj));
      const r = await dryRun(bad);
      expect(r.code, `${f.rel} with ${field} was accepted`).not.toBe(0);
      // "unknown field" (strict validation) or "field not declared in schema" (server-side apply's typed merge)
      expect(r.stderr).toMatch(new RegExp(`unknown field.*${field}|${field}: field not declared in schema`));
    }
    // The untouched file is still fine, so the rejection is the field's.
    expect((await dryRun(deployment!.abs)).code).toBe(0);
    expect(await readFile(deployment!.abs, 'utf8')).not.toContain('bogusField');
  });
});
