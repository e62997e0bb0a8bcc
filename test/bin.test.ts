/** The `paddock` command's shim: it runs one bundle of the sources and rebuilds it when a source is newer. */
import { statSync, utimesSync } from 'node:fs';
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
