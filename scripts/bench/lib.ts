/** Shared bench helpers: child-process measurements, percentiles, the report format. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(BENCH_DIR, '../..');

/** Runs a TypeScript worker in a fresh process; it prints one JSON line last. */
export function worker<T>(file: string, args: readonly string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', path.join(BENCH_DIR, file), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
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
