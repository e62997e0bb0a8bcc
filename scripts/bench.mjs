#!/usr/bin/env node
// `npm run bench [-- NAME...]`: runs the named benches (default: all but e2e) from scripts/bench/.
// Each prints a table and one JSON line, with ratios against a baseline measured in the same run.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const available = readdirSync(path.join(here, 'bench')).filter((f) => /^[a-z][a-z0-9]*\.ts$/.test(f) && f !== 'lib.ts').map((f) => f.slice(0, -3)).sort();
const args = process.argv.slice(2);
const wanted = args.filter((a) => !a.startsWith('-'));
// e2e starts the cluster tier's API server and Argo CD (building them the first time): only when named.
const ON_REQUEST = ['e2e'];
const names = wanted.length ? wanted : available.filter((n) => !ON_REQUEST.includes(n));
if (!wanted.length) console.log(`bench: running ${names.join(', ')} (${ON_REQUEST.join(', ')} only when named)`);
for (const name of names) {
  if (!available.includes(name)) {
    console.error(`bench: no bench "${name}"; have: ${available.join(', ')}`);
    process.exit(1);
  }
}
for (const name of names) {
  console.log(`\n== bench ${name}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'bench', `${name}.ts`), ...args.filter((a) => a.startsWith('-'))], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
