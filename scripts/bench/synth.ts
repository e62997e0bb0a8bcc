/**
 * Bench synth (BENCHMARKS.md): paddock's full synth vs stock cdk8s with every chart in one
 * App vs a yaml.stringify floor, over the same N environments of 3 objects. Each figure is
 * measured in its own process; at the largest N, paddock warm and cold are each the median of
 * three. `--quick` runs smaller N.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { printJson, printTable, verdict, worker } from './lib.ts';
import { writeDefinitions } from './synth-gen.ts';

interface Measure { mode: string; n: number; ms: number; files: number; rssMiB: number }

const quick = process.argv.includes('--quick');
const sizes = quick ? [100, 300] : [1000, 2000];
const flatSizes = quick ? [100, 300] : [100, 1000, 2000, 5000];
const root = mkdtempSync(path.join(tmpdir(), 'paddock-bench-synth-'));
const dirs = new Map<number, string>();
const dirFor = (n: number) => {
  if (!dirs.has(n)) {
    const d = path.join(root, `n${n}`);
    writeDefinitions(d, n);
    dirs.set(n, d);
  }
  return dirs.get(n)!;
};

/** The measure with the median time (of an odd number). */
const median = (ms: Measure[]): Measure => [...ms].sort((a, b) => a.ms - b.ms)[(ms.length - 1) >> 1];

try {
  const rows: (string | number)[][] = [];
  const json: Record<string, unknown> = {};
  const samples: Record<string, { warmMs: number[]; coldMs: number[] }> = {};
  for (const n of sizes) {
    const dir = dirFor(n);
    // At the N the targets are read at, warm and cold are each the median of three processes
    // (taken in turn): one process's figure moves by a tenth from run to run here.
    const runs = n === sizes[sizes.length - 1] ? 3 : 1;
    const warms: Measure[] = [];
    const colds: Measure[] = [];
    for (let r = 0; r < runs; r++) {
      warms.push(await worker<Measure>('synth-worker.ts', ['paddock-warm', dir, String(n)]));
      colds.push(await worker<Measure>('synth-worker.ts', ['paddock-cold', dir, String(n)]));
    }
    const warm = median(warms);
    const cold = median(colds);
    if (runs > 1) samples[`n${n}`] = { warmMs: warms.map((m) => Math.round(m.ms)), coldMs: colds.map((m) => Math.round(m.ms)) };
    const app = await worker<Measure>('synth-worker.ts', ['one-app', dir, String(n)]);
    const floor = await worker<Measure>('synth-worker.ts', ['floor', dir, String(n)]);
    if (warm.files < n * 3) throw new Error(`paddock wrote ${warm.files} files for ${n} environments`);
    const speedup = app.ms / warm.ms;
    const overFloor = warm.ms / floor.ms;
    rows.push([n, warm.ms / 1000, cold.ms / 1000, app.ms / 1000, floor.ms / 1000, speedup, overFloor, warm.rssMiB]);
    json[`n${n}`] = { paddockWarmMs: Math.round(warm.ms), paddockColdMs: Math.round(cold.ms), oneAppMs: Math.round(app.ms), floorMs: Math.round(floor.ms), speedupVsOneApp: +speedup.toFixed(2), ratioToFloor: +overFloor.toFixed(2) };
  }
  console.log('seconds; "x one App" = one-App time / paddock warm time; "x floor" = paddock warm / floor');
  printTable(['N', 'paddock warm', 'paddock cold', 'one App', 'yaml floor', 'x one App', 'x floor', 'RSS MiB'], rows);
  for (const [n, s] of Object.entries(samples)) console.log(`${n}: paddock warm and cold are medians of ${s.warmMs.join(', ')} and ${s.coldMs.join(', ')} ms`);

  const flat: (string | number)[][] = [];
  const perEnv: Record<string, number> = {};
  for (const n of flatSizes) {
    const warm = await worker<Measure>('synth-worker.ts', ['paddock-warm', dirFor(n), String(n)]);
    perEnv[`n${n}`] = +(warm.ms / n).toFixed(3);
    flat.push([n, warm.ms / 1000, (warm.ms / n) * 1000]);
  }
  console.log('\ncost per environment (paddock warm)');
  printTable(['N', 'seconds', 'us/env'], flat);

  const big = json[`n${sizes[sizes.length - 1]}`] as any;
  const floors = sizes.map((n) => (json[`n${n}`] as any).ratioToFloor);
  const perEnvValues = Object.values(perEnv);
  const spread = Math.max(...perEnvValues) / Math.min(...perEnvValues);
  const coldOverWarm = big.paddockColdMs / big.paddockWarmMs;
  console.log(`\ntargets: >= 5x one App at N=${sizes[sizes.length - 1]}: ${big.speedupVsOneApp}x ${verdict(big.speedupVsOneApp >= 5)}; ` +
    `<= 3x floor at every N: ${floors.join(', ')} ${verdict(floors.every((f) => f <= 3))}; ` +
    `cold (loading included) <= 2x warm at N=${sizes[sizes.length - 1]}: ${coldOverWarm.toFixed(2)}x ${verdict(coldOverWarm <= 2)}; ` +
    `per-env cost spread ${spread.toFixed(2)}x from N=${flatSizes[0]} to ${flatSizes[flatSizes.length - 1]}`);
  printJson('synth', { ...json, samples, coldOverWarm: +coldOverWarm.toFixed(2), perEnvMs: perEnv, perEnvSpread: +spread.toFixed(2) });
} finally {
  rmSync(root, { recursive: true, force: true });
}
