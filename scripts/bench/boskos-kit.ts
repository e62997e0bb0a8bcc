/**
 * The real Boskos for the leases bench: its server (test/boskos/boskos-build.sh builds the
 * version the client harness pins), on CRDs in the cluster tier's API server as it runs in
 * production (its CRDs from the same module), one namespace per run, its resources from a
 * Boskos config file. Not a bench itself (the dispatcher runs [a-z][a-z0-9]*.ts).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePorts } from '../../test/helpers/git-daemon.ts';
import { exportsOf, kubectl, run, script } from './cluster-kit.ts';
import { REPO_ROOT } from './lib.ts';
import { call, type Harness } from './serve-kit.ts';

/** The cluster tier's API server (reused when running) with Boskos's CRDs, and the Boskos binary; or why not. */
export async function boskosOnTheTier(): Promise<{ env: Record<string, string>; bin: string } | { skipped: string }> {
  let env: Record<string, string>;
  try {
    env = exportsOf(await script('scripts/cluster-up'));
  } catch (e) {
    return { skipped: `the cluster tier's API server cannot start here: ${(e as Error).message.split('\n').slice(-2).join(' ')}` };
  }
  const bin = (await script('test/boskos/boskos-build.sh')).trim();
  const dir = (await run('go', ['mod', 'download', '-json', 'sigs.k8s.io/boskos'], { GOFLAGS: '-mod=readonly' }, 600_000, undefined, path.join(REPO_ROOT, 'test/boskos/server')))
    .match(/"Dir": "([^"]+)"/)?.[1];
  if (!dir) throw new Error('go mod download gave no directory for sigs.k8s.io/boskos');
  await kubectl(env, ['apply', '--server-side', '--force-conflicts', '--field-manager=paddock-bench', '-f', path.join(dir, 'deployments/base/crd.yaml')]);
  await kubectl(env, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/resources.boskos.k8s.io', 'crd/dynamicresourcelifecycles.boskos.k8s.io']);
  return { env, bin };
}

/** Starts Boskos in a new namespace with `names` of `type`, free; resolves once it lists them all. */
export async function startBoskos(h: Harness, tier: { env: Record<string, string>; bin: string }, namespace: string, type: string, names: readonly string[]): Promise<{ url: string; startMs: number; stop(): Promise<void> }> {
  const t0 = performance.now();
  await kubectl(tier.env, ['create', 'namespace', namespace]);
  const config = path.join(h.dir('boskos', namespace), 'config.yaml');
  writeFileSync(config, `resources:\n- type: ${type}\n  state: free\n  names:\n${names.map((n) => `  - ${n}\n`).join('')}`);
  const [port, health, metrics, pprof] = await freePorts(4);
  const child = h.start(tier.bin, [
    `-kubeconfig=${tier.env.KUBECONFIG}`, `-namespace=${namespace}`, `-config=${config}`,
    `-port=${port}`, `-health-port=${health}`, `-metrics-port=${metrics}`, `-pprof-port=${pprof}`, '-log-level=warning',
  ]);
  let log = '';
  child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  for (const until = Date.now() + 120_000; ; await new Promise((r) => setTimeout(r, 250))) {
    if (child.exitCode !== null) throw new Error(`boskos exited ${child.exitCode}: ${log}`);
    const m = await call(`${url}/metric?type=${type}`, { method: 'GET', timeoutMs: 2_000 }).catch(() => undefined);
    if (m?.status === 200 && m.body?.current?.free === names.length) break;
    if (Date.now() > until) throw new Error(`boskos did not list ${names.length} free ${type} within 120 s: ${JSON.stringify(m?.body)} ${log}`);
  }
  return {
    url,
    startMs: performance.now() - t0,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('close', r)));
      await kubectl(tier.env, ['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
    },
  };
}
