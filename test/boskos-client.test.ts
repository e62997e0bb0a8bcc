/**
 * The real Boskos Go client (sigs.k8s.io/boskos/client, unchanged) against paddock's sidecar:
 * test/boskos/harness drives acquire, update with userdata, release, acquire-by-state, reset
 * and metric through it. Needs Go (the machines have it; .ci/run checks). The binary is cached
 * under .cache/ so only the first run pays for the build.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, run } from './helpers/cli.ts';
import { poolSource } from './helpers/repo.ts';
import { startSidecar, type TestSidecar } from './helpers/sidecar.ts';
import { tempDir } from './helpers/synth.ts';

const HARNESS_SRC = path.join(REPO_ROOT, 'test/boskos/harness');
const HARNESS_BIN = path.join(REPO_ROOT, '.cache/boskos-harness/harness');

function goVersion(): string | undefined {
  try {
    return execFileSync('go', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

const go = goVersion();
if (!go) console.warn('SKIPPED: the Boskos Go client test needs Go on PATH (`go` not found); .ci/run installs it.');

describe.skipIf(!go)('the Boskos Go client against paddock', () => {
  let s: TestSidecar;
  beforeAll(async () => {
    mkdirSync(path.dirname(HARNESS_BIN), { recursive: true });
    // go build is itself incremental: a no-op when nothing changed.
    const b = await run('go', ['build', '-o', HARNESS_BIN, '.'], { cwd: HARNESS_SRC, timeoutMs: 15 * 60_000 });
    if (b.code !== 0 || !existsSync(HARNESS_BIN)) throw new Error(`building the Boskos harness failed:\n${b.stderr}`);
    s = await startSidecar({
      files: {
        'pool.ts': poolSource('harness', 3),
      },
    });
  }, 16 * 60_000);
  afterAll(() => s?.close());

  it('GIVEN paddock serving a pool WHEN the unchanged Go client runs its scenario THEN every step passes', async () => {
    // -strict: ErrTypeNotFound (the client's DistinguishNotFoundVsTypeNotFound) must work too.
    const r = await run(HARNESS_BIN, ['-url', s.url, '-type', 'harness', '-owner', 'harness-bot', '-strict'], { timeoutMs: 120_000 });
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('FAIL')), r.stdout + r.stderr).toEqual([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(lines.filter((l) => l.startsWith('OK ')).length).toBeGreaterThanOrEqual(20);
    for (const step of ['OK acquire', 'OK acquire-unknown-type', 'OK release']) expect(lines.some((l) => l.startsWith(step)), step).toBe(true);
  }, 180_000);

  it('GIVEN PADDOCK_LEASE_USERS WHEN the unchanged client runs with its own basic auth (username, password file) THEN every step passes; without it, or with a wrong password, its first call is refused (401)', async () => {
    const secured = await startSidecar({ files: { 'pool.ts': poolSource('secured', 3) }, deps: { leaseUsers: new Map([['ci-bot', 'lease-pass-7d1e']]) } });
    try {
      const dir = tempDir();
      const good = path.join(dir, 'good');
      const bad = path.join(dir, 'bad');
      writeFileSync(good, 'lease-pass-7d1e\n');
      writeFileSync(bad, 'not-the-password\n');
      const withAuth = await run(HARNESS_BIN, ['-url', secured.url, '-type', 'secured', '-owner', 'harness-bot', '-username', 'ci-bot', '-password-file', good, '-strict'], { timeoutMs: 120_000 });
      expect(withAuth.stdout.split('\n').filter((l) => l.startsWith('FAIL')), withAuth.stdout + withAuth.stderr).toEqual([]);
      expect(withAuth.code, withAuth.stdout + withAuth.stderr).toBe(0);
      for (const args of [[], ['-username', 'ci-bot', '-password-file', bad]]) {
        const refused = await run(HARNESS_BIN, ['-url', secured.url, '-type', 'secured', '-owner', 'harness-bot', ...args], { timeoutMs: 120_000 });
        expect(refused.code, refused.stdout).not.toBe(0);
        expect(refused.stdout, refused.stdout + refused.stderr).toMatch(/^FAIL \S+: status 401 Unauthorized/m);
      }
    } finally {
      await secured.close();
    }
  }, 360_000);
});
