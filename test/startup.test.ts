/**
 * Long-running commands that cannot start, or are stopped while starting: one line naming what
 * is wrong, nothing committed, nothing left running or on disk (their work trees in the temp dir).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PADDOCK_BIN, run } from './helpers/cli.ts';
import { freePort } from './helpers/git-daemon.ts';
import { bareRepo, commitCount, groupsSource } from './helpers/repo.ts';
import { definitionsDir, TEST_SECRET, tempDir } from './helpers/synth.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A TCP server on 127.0.0.1 that does what `on` says with each connection. */
async function tcpServer(on: (socket: Socket) => void): Promise<number> {
  const server = createServer(on);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

/** The work trees paddock left in `tmp`. */
const workTrees = (tmp: string) => readdirSync(tmp).filter((f) => f.startsWith('paddock-work-'));

describe('starting serve and watch', () => {
  it('GIVEN serve on an address in use, with a lease file that does not exist, or with a KUBECONFIG that cannot be read THEN one line says which, exit 1, before anything is committed', async () => {
    const remote = await bareRepo();
    const defs = definitionsDir({ 'g.ts': groupsSource(2) });
    const tmp = tempDir();
    const env = { PADDOCK_GC_SECRET: TEST_SECRET, TMPDIR: tmp };
    const taken = await tcpServer(() => undefined);
    const inUse = await run(process.execPath, [PADDOCK_BIN, 'serve', '--repo', remote, '--definitions', defs, '--listen', `127.0.0.1:${taken}`], { env });
    expect(inUse.code).toBe(1);
    expect(inUse.stderr.trim()).toBe(`paddock: --listen "127.0.0.1:${taken}": the address is in use (another paddock, or another server, listens there)`);
    const noFile = path.join(tmp, 'no-such-pools.yaml');
    const missing = await run(process.execPath, [PADDOCK_BIN, 'serve', '--repo', remote, '--definitions', defs, '--listen', `127.0.0.1:${await freePort()}`, '--lease-config', noFile], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`paddock: --lease-config ${noFile}: no such file`);
    // It loads the Kubernetes client as it starts (to ask Argo CD to refresh), not at its first commit.
    const kube = await run(process.execPath, [PADDOCK_BIN, 'serve', '--repo', remote, '--definitions', defs, '--listen', `127.0.0.1:${await freePort()}`], { env: { ...env, KUBECONFIG: path.join(tmp, 'no-kubeconfig'), PADDOCK_ARGO_REFRESH: undefined }, timeoutMs: 20_000 });
    expect([kube.code, kube.stderr.trim()]).toEqual([1, expect.stringMatching(/^paddock: KUBECONFIG ".*no-kubeconfig" cannot be read: .*\(unset KUBECONFIG to run without a cluster\)$/)]);
    expect(commitCount(remote)).toBe(0);
    expect(workTrees(tmp)).toEqual([]);
  }, 60_000);

  it('GIVEN watch with a port WHEN its remote cannot be reached THEN it says so and exits 1 (its port closed), leaving no work tree', async () => {
    const tmp = tempDir();
    const defs = definitionsDir({ 'g.ts': groupsSource(1) });
    const r = await run(process.execPath, [PADDOCK_BIN, 'watch', '--repo', 'git://127.0.0.1:9/nothing.git', '--definitions', defs, '--listen', `127.0.0.1:${await freePort()}`], { env: { PADDOCK_GC_SECRET: TEST_SECRET, TMPDIR: tmp }, timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^paddock: manifests repo unavailable: the remote cannot be reached/m);
    expect(workTrees(tmp)).toEqual([]);
  }, 60_000);

  it('GIVEN serve still starting (its first fetch under way) WHEN SIGTERM comes THEN it lets that step end, stops and exits 0, leaving no work tree', async () => {
    const tmp = tempDir();
    let connected!: () => void;
    const fetching = new Promise<void>((r) => (connected = r));
    // A git:// remote that holds the first fetch a moment, then hangs up.
    const port = await tcpServer((socket) => {
      connected();
      setTimeout(() => socket.destroy(), 1_000);
    });
    const defs = definitionsDir({ 'g.ts': groupsSource(1) });
    const child = spawn(process.execPath, [PADDOCK_BIN, 'serve', '--repo', `git://127.0.0.1:${port}/m.git`, '--definitions', defs, '--listen', `127.0.0.1:${await freePort()}`], {
      env: { ...process.env, PADDOCK_GC_SECRET: TEST_SECRET, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    await fetching;
    child.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    expect(out).toContain('SIGTERM: stopping once the step under way is done');
    expect(out).not.toContain('listening on');
    expect(workTrees(tmp)).toEqual([]);
  }, 60_000);

  it('GIVEN serve that has committed (its fast-import kept running, idle) WHEN SIGTERM comes THEN it ends fast-import, exits 0 and leaves no work tree', async () => {
    const tmp = tempDir();
    const remote = await bareRepo();
    const defs = definitionsDir({ 'g.ts': groupsSource(2) });
    const child = spawn(process.execPath, [PADDOCK_BIN, 'serve', '--repo', remote, '--definitions', defs, '--listen', `127.0.0.1:${await freePort()}`], {
      env: { ...process.env, PADDOCK_GC_SECRET: TEST_SECRET, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    await expect.poll(() => commitCount(remote), { timeout: 30_000 }).toBe(1);
    await expect.poll(() => out, { timeout: 10_000 }).toContain('listening on');
    child.kill('SIGTERM');
    expect(await exited, out).toEqual({ code: 0, signal: null });
    expect(workTrees(tmp)).toEqual([]);
  }, 60_000);
});
