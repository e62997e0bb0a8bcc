// Vitest globalSetup of the cluster test tier (`npm run test:cluster`): gives the run a real
// Kubernetes API server and tells the tests where it is.
//
// PADDOCK_CLUSTER selects the cluster:
//   (unset)    start a throwaway etcd + kube-apiserver on 127.0.0.1 (scripts/cluster-up) and stop
//              it afterwards (scripts/cluster-down). If it cannot be built or started the run
//              fails, with cluster-up's reason.
//   external   use the cluster the existing KUBECONFIG (or ~/.kube/config) points at, as is:
//              nothing is started or stopped. Its current context needs cluster-admin-like rights.
//   off        skip the tier: prints a SKIPPED line and every test is reported skipped. For local
//              use only; .ci/run refuses it.
// PADDOCK_CLUSTER_KEEP=1 leaves the local cluster running after the run (the next run reuses it
// in well under a second). A local cluster that was already running before the run is never
// stopped. The first run on a machine builds kube-apiserver (about 9 minutes on 2 cores);
// globalSetup has no timeout, so it just waits.
//
// In a test:
//   import { inject } from 'vitest';
//   const cluster = inject('paddockCluster');   // undefined only when PADDOCK_CLUSTER=off
// or, simpler, the helpers in test/cluster/helpers.ts. KUBECONFIG (and, for the local cluster,
// PADDOCK_KUBE_SERVER, PADDOCK_KUBE_CA, PADDOCK_KUBE_TOKEN_FILE, PADDOCK_CLUSTER_RUN) are also
// set in process.env before the workers start, so kubectl and paddock spawned by tests see them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';

export interface PaddockCluster {
  /** `local`: started by this run (or reused) from scripts/cluster-up; `external`: the user's KUBECONFIG. */
  mode: 'local' | 'external';
  /** Admin kubeconfig: a file, or for `external` the KUBECONFIG value as given (may be a list). */
  kubeconfig: string;
  /** The API server's URL, e.g. https://127.0.0.1:<port>. */
  server: string;
  /** Kubernetes version the server reports, e.g. v1.33.13. */
  version: string;
  /** CA certificate (PEM file) that signed the API server's certificate (`local` only). */
  caFile?: string;
  /** File holding a bearer token for the admin user (`local` only). */
  tokenFile?: string;
  /** Run directory with logs (etcd.log, kube-apiserver.log) and state.json (`local` only). */
  runDir?: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    paddockCluster: PaddockCluster | undefined;
  }
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HOW_TO_SKIP =
  'To run the tier against another cluster set PADDOCK_CLUSTER=external (uses KUBECONFIG); ' +
  'to skip it on this machine set PADDOCK_CLUSTER=off.';

function run(script: string): { stdout: string; stderr: string } {
  const r = spawnSync(resolve(root, 'scripts', script), [], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.error) throw new Error(`cluster test tier: cannot run scripts/${script}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(
      `cluster test tier: scripts/${script} failed (exit ${r.status}), so there is no Kubernetes API server to test against.\n` +
        `${r.stderr.trimEnd()}\n${HOW_TO_SKIP}`,
    );
  }
  return { stdout: r.stdout, stderr: r.stderr };
}

async function serverVersion(kc: KubeConfig, where: string): Promise<string> {
  try {
    const v = await kc.makeApiClient(VersionApi).getCode();
    return v.gitVersion;
  } catch (e) {
    throw new Error(`cluster test tier: the API server of ${where} does not answer: ${(e as Error).message}`);
  }
}

async function external(): Promise<PaddockCluster> {
  let kubeconfig = process.env.KUBECONFIG ?? '';
  if (!kubeconfig) {
    const fallback = join(homedir(), '.kube', 'config');
    if (!existsSync(fallback)) {
      throw new Error('cluster test tier: PADDOCK_CLUSTER=external needs KUBECONFIG (or ~/.kube/config) naming the cluster to test against');
    }
    kubeconfig = fallback;
    process.env.KUBECONFIG = kubeconfig;
  }
  for (const f of kubeconfig.split(delimiter).filter(Boolean)) {
    if (!existsSync(f)) throw new Error(`cluster test tier: KUBECONFIG names ${f}, which does not exist`);
  }
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`cluster test tier: KUBECONFIG=${kubeconfig} has no current context with a cluster`);
  const version = await serverVersion(kc, `context "${kc.getCurrentContext()}" (${cluster.server})`);
  return { mode: 'external', kubeconfig, server: cluster.server, version };
}

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  const mode = process.env.PADDOCK_CLUSTER ?? '';
  if (mode === 'off') {
    const skipped = 'SKIPPED: cluster test tier (PADDOCK_CLUSTER=off): no Kubernetes API server was started and no cluster test ran.';
    console.log(`\n${skipped}\n`);
    project.provide('paddockCluster', undefined);
    return () => console.log(`\n${skipped}`); // again at the end, where it is read

  }
  if (mode === 'external') {
    const cluster = await external();
    console.log(`\ncluster test tier: external cluster ${cluster.server} (${cluster.version}) from KUBECONFIG=${cluster.kubeconfig}\n`);
    project.provide('paddockCluster', cluster);
    return undefined;
  }
  if (mode !== '' && mode !== 'local') {
    throw new Error(`cluster test tier: PADDOCK_CLUSTER="${mode}" is not one of: (unset), local, external, off`);
  }

  const { stdout, stderr } = run('cluster-up');
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  if (!env.KUBECONFIG || !env.PADDOCK_KUBE_SERVER) {
    throw new Error(`cluster test tier: scripts/cluster-up printed no KUBECONFIG:\n${stdout}\n${stderr}`);
  }
  const reused = stderr.includes('reusing running cluster');
  const down = reused || process.env.PADDOCK_CLUSTER_KEEP === '1' ? undefined : () => void run('cluster-down');
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(env.KUBECONFIG);
    const version = await serverVersion(kc, `scripts/cluster-up (${env.PADDOCK_KUBE_SERVER})`);
    const cluster: PaddockCluster = {
      mode: 'local',
      kubeconfig: env.KUBECONFIG,
      server: env.PADDOCK_KUBE_SERVER,
      version,
      caFile: env.PADDOCK_KUBE_CA,
      tokenFile: env.PADDOCK_KUBE_TOKEN_FILE,
      runDir: env.PADDOCK_CLUSTER_RUN,
    };
    Object.assign(process.env, env);
    console.log(`\ncluster test tier: local kube-apiserver ${cluster.version} at ${cluster.server}${reused ? ' (reused)' : ''}\n`);
    project.provide('paddockCluster', cluster);
  } catch (e) {
    down?.();
    throw e;
  }
  return down;
}
