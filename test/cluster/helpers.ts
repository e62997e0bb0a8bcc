// Shared by the cluster tier's tests: which cluster, admin and token clients, kubectl, paddock synth.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiextensionsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { PaddockCluster } from './global-setup.ts';

export const ROOT = path.resolve(import.meta.dirname, '../..');
/** Field manager of every apply the tier makes. */
export const FIELD_MANAGER = 'paddock-tests';

/**
 * The cluster of this run, or `undefined` when the tier is skipped on purpose (PADDOCK_CLUSTER=off).
 * Anything else without a cluster is an error, never a silent skip.
 */
export function theCluster(): PaddockCluster | undefined {
  const cluster = inject('paddockCluster');
  if (!cluster && process.env.PADDOCK_CLUSTER !== 'off') {
    throw new Error('cluster test tier: no cluster was provided; run it with --config test/cluster/vitest.config.ts');
  }
  return cluster;
}

/** The admin client: the kubeconfig global-setup found (KUBECONFIG in process.env). */
export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}

/** A client for the same API server that authenticates with nothing but `token`. */
export function tokenKubeConfig(admin: KubeConfig, token: string): KubeConfig {
  const c = admin.getCurrentCluster();
  if (!c) throw new Error('the admin kubeconfig has no current cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...c, name: 'under-test' }],
    users: [{ name: 'token', token }],
    contexts: [{ name: 'token', cluster: 'under-test', user: 'token' }],
    currentContext: 'token',
  });
  return kc;
}

/** `<prefix>-<6 hex>`: unique names, since namespaces never finish deleting in the local cluster. */
export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never throws for a non-zero exit). */
export function exec(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { cwd: ROOT, env: { ...process.env, ...opts.env }, maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 120_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
        resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** kubectl against the run's cluster (KUBECONFIG from global-setup). */
export function kubectl(args: string[], input?: string): Promise<Run> {
  return exec(process.env.KUBECTL ?? 'kubectl', args, { input });
}

/** `paddock synth --out <tmp> --quiet` with a throwaway GC secret; returns the output directory. */
export async function synth(extraArgs: string[] = [], env: Record<string, string> = {}): Promise<string> {
  const out = await mkdtemp(path.join(tmpdir(), 'paddock-cluster-synth-'));
  const r = await exec(process.execPath, [path.join(ROOT, 'src/cli/paddock.mjs'), 'synth', '--out', out, '--quiet', ...extraArgs], {
    env: { PADDOCK_GC_SECRET: 'cluster-tier-gc-secret', ...env },
  });
  if (r.code !== 0) throw new Error(`paddock synth ${extraArgs.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  return out;
}

export interface ManifestFile {
  /** Relative to the synth output, e.g. groups/shop/deployment-shop-api.yaml. */
  rel: string;
  abs: string;
  objects: Array<Record<string, any>>;
}

/** Every YAML file under `dir`/`sub` (recursively), parsed, sorted by path. */
export async function manifestFiles(dir: string, sub: string): Promise<ManifestFile[]> {
  const entries = await readdir(path.join(dir, sub), { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  return Promise.all(
    files.map(async (abs) => {
      const docs = parseAllDocuments(await readFile(abs, 'utf8'));
      const objects = docs.map((d) => d.toJS()).filter((o) => o && typeof o === 'object');
      return { rel: path.relative(dir, abs), abs, objects };
    }),
  );
}

/** Creates the namespaces that do not exist yet; returns the ones it created. */
export async function ensureNamespaces(kc: KubeConfig, names: Iterable<string>): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const created: string[] = [];
  for (const name of new Set(names)) {
    try {
      await core.readNamespace({ name });
      continue;
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw e;
    }
    try {
      await core.createNamespace({ body: { metadata: { name, labels: { 'app.kubernetes.io/managed-by': FIELD_MANAGER } } } });
      created.push(name);
    } catch (e) {
      if ((e as { code?: number }).code !== 409) throw e; // created meanwhile by a parallel test file
    }
  }
  return created;
}

/**
 * Removes what a test created. In the local cluster nothing is deleted: with no controller-manager
 * a namespace would stay Terminating for good, and the cluster is thrown away anyway.
 */
export async function deleteNamespaces(kc: KubeConfig, cluster: PaddockCluster, names: string[]): Promise<void> {
  if (cluster.mode !== 'external') return;
  const core = kc.makeApiClient(CoreV1Api);
  await Promise.all(names.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
}

/**
 * Installs CRDs with `script --apply` unless `crd` is there already. On an external cluster that
 * has them (its own Argo CD or Prometheus operator), its own are used.
 */
async function ensureCrds(admin: KubeConfig, cluster: PaddockCluster, crd: string, script: string): Promise<void> {
  const have = await admin.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: crd }).then(() => true, () => false);
  if (have && cluster.mode !== 'local') return;
  const r = await exec(path.join(ROOT, script), ['--apply'], { timeoutMs: 900_000 });
  if (r.code !== 0) throw new Error(`${script} --apply failed (exit ${r.code}):\n${r.stderr}`);
}

/** The Prometheus operator's PodMonitor CRD, generated from the operator's API types by test/cluster/prometheus-crds.sh. */
export const ensurePodMonitorCrd = (admin: KubeConfig, cluster: PaddockCluster) => ensureCrds(admin, cluster, 'podmonitors.monitoring.coreos.com', 'test/cluster/prometheus-crds.sh');

/** external-secrets' ExternalSecret CRD (groups' registry credentials), from the module test/cluster/external-secrets pins, by test/cluster/external-secrets-crds.sh. */
export const ensureExternalSecretCrd = (admin: KubeConfig, cluster: PaddockCluster) => ensureCrds(admin, cluster, 'externalsecrets.external-secrets.io', 'test/cluster/external-secrets-crds.sh');

/** Argo CD's CRDs (Application, AppProject, ApplicationSet) at the version the tier's Argo CD is built from, by test/cluster/argocd-crds.sh. */
export const ensureArgoCrds = (admin: KubeConfig, cluster: PaddockCluster) => ensureCrds(admin, cluster, 'applications.argoproj.io', 'test/cluster/argocd-crds.sh');
