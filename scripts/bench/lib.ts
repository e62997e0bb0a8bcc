/** Shared bench helpers: child-process measurements, percentiles, the report format. */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(BENCH_DIR, '../..');

/**
 * A worker's esbuild bundle (packages left external), made once per bench run under .cache/bench/:
 * workers run as the paddock command does, from a bundle. Under tsx every module a process imports
 * passes through its loader thread, and a cold synth imports hundreds (the Kubernetes models
 * strict checking reads). BENCH_WORKER_TSX=1 runs them under tsx instead, for comparison.
 */
const bundles = new Map<string, string>();
function workerEntry(file: string): string[] {
  if (process.env.BENCH_WORKER_TSX === '1') return ['--import', 'tsx', path.join(BENCH_DIR, file)];
  let out = bundles.get(file);
  if (!out) {
    out = path.join(REPO_ROOT, '.cache', 'bench', `${path.basename(file, '.ts')}.${process.pid}.mjs`);
    buildSync({ entryPoints: [path.join(BENCH_DIR, file)], outfile: out, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'error' });
    bundles.set(file, out);
    process.once('exit', () => rmSync(out!, { force: true }));
  }
  return [out];
}

/** Runs a TypeScript worker in a fresh process (see workerEntry); it prints one JSON line last. */
export function worker<T>(file: string, args: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', ...workerEntry(file), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${out}`));
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${file} printed no JSON: ${out}`));
      }
    });
  });
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function printTable(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): void {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => String(r[i]).length)));
  const line = (r: readonly (string | number)[]) => r.map((c, i) => String(c).padStart(widths[i])).join('  ');
  console.log(line(header));
  for (const r of cells) console.log(line(r));
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** The one JSON line a bench prints for comparison over time. */
export function printJson(bench: string, data: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench, at: new Date().toISOString(), node: process.version, ...data }));
}

export function verdict(ok: boolean): string {
  return ok ? 'MET' : 'MISSED';
}
