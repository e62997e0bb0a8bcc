/** The `paddock` command's shim: it runs one bundle of the sources and rebuilds it when a source is newer. */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { paddock, REPO_ROOT } from './helpers/cli.ts';

const BUNDLE = path.join(REPO_ROOT, 'dist/cli/paddock.mjs');

describe('the paddock command', () => {
  it('GIVEN a bundle older than the sources WHEN paddock runs THEN it rebuilds the bundle first; GIVEN a fresh one THEN it is reused', async () => {
    expect((await paddock(['--version'])).code).toBe(0);
    const old = new Date('2020-01-01T00:00:00Z');
    utimesSync(BUNDLE, old, old);
    const r = await paddock(['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const rebuilt = statSync(BUNDLE).mtimeMs;
    expect(rebuilt).toBeGreaterThan(old.getTime());
    await paddock(['--version']);
    expect(statSync(BUNDLE).mtimeMs).toBe(rebuilt);
  });

  it('GIVEN chunks of earlier builds WHEN it rebuilds THEN those older than the replaced build go, its own and the new ones stay', async () => {
    expect((await paddock(['--version'])).code).toBe(0);
    const chunks = path.join(REPO_ROOT, 'dist/cli/chunks');
    const replaced = new Date('2020-01-01T00:00:00Z');
    const older = path.join(chunks, 'older-build-AAAAAAAA.mjs');
    const ofReplaced = path.join(chunks, 'replaced-build-BBBBBBBB.mjs');
    writeFileSync(older, 'export {};\n');
    writeFileSync(ofReplaced, 'export {};\n');
    utimesSync(older, new Date(replaced.getTime() - 3_600_000), new Date(replaced.getTime() - 3_600_000));
    utimesSync(ofReplaced, new Date(replaced.getTime() - 1_000), new Date(replaced.getTime() - 1_000));
    utimesSync(BUNDLE, replaced, replaced);
    try {
      const r = await paddock(['--version']);
      expect(r.code, r.stderr).toBe(0);
      expect(statSync(BUNDLE).mtimeMs).toBeGreaterThan(replaced.getTime());
      expect(existsSync(older)).toBe(false);
      expect(existsSync(ofReplaced)).toBe(true);
      const named = [...readFileSync(BUNDLE, 'utf8').matchAll(/chunks\/([\w.-]+\.mjs)/g)].map((m) => m[1]);
      expect(named.length).toBeGreaterThan(0);
      expect(readdirSync(chunks)).toEqual(expect.arrayContaining(named));
      expect((await paddock(['status', '--help'])).code).toBe(0);
    } finally {
      for (const f of [older, ofReplaced]) rmSync(f, { force: true });
    }
  });

  it('GIVEN packages installed after the bundle was built THEN it rebuilds it (some packages are bundled)', async () => {
    expect((await paddock(['--version'])).code).toBe(0);
    const built = statSync(BUNDLE).mtimeMs;
    const installed = path.join(REPO_ROOT, 'node_modules/.package-lock.json');
    const { atime, mtime } = statSync(installed);
    try {
      const later = new Date(built + 60_000);
      utimesSync(installed, later, later);
      const r = await paddock(['--version']);
      expect(r.code, r.stderr).toBe(0);
      expect(statSync(BUNDLE).mtimeMs).toBeGreaterThan(built);
    } finally {
      utimesSync(installed, atime, mtime);
    }
  });
});
