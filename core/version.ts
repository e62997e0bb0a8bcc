/**
 * paddock's own version, from its package.json. Found by walking up from this module, so it
 * holds both for the sources and for the bundle the `paddock` command runs (dist/cli/paddock.mjs).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let version: string | null | undefined;

export function paddockVersion(): string | undefined {
  if (version !== undefined) return version ?? undefined;
  version = null;
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (pkg.name === 'paddock' && typeof pkg.version === 'string') version = pkg.version;
      break;
    } catch {
      // no package.json here
    }
    if (path.dirname(dir) === dir) break;
  }
  return version ?? undefined;
}
