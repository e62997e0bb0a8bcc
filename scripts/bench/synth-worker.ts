/**
 * One measurement of the synth bench, in its own process.
 *   synth-worker.ts <mode> <definitions dir> <n>
 * modes: paddock-warm, paddock-cold, one-app, floor. Prints {ms, files, rssMiB}.
 */
import { ApiObject, App, Chart } from 'cdk8s';
import YAML from 'yaml';
import { EMPTY_STATE } from '../../core/records.ts';
import { loadDefinitions, synthesize, type SynthInputs } from '../../src/synth/index.ts';
import { objectsFor } from './synth-gen.ts';

const [mode, dir, nText] = process.argv.slice(2);
const n = Number(nText);
const inputs: SynthInputs = {
  state: EMPTY_STATE,
  sidecarUrl: 'http://paddock-sidecar.paddock.svc:8080',
  gcSecret: 'bench-secret',
  argo: { repoURL: 'https://git.example/manifests.git', targetRevision: 'main', namespace: 'argocd', project: 'paddock' },
};

async function paddock(cold: boolean): Promise<{ ms: number; files: number }> {
  if (cold) {
    const t0 = performance.now();
    const loaded = await loadDefinitions(dir);
    const result = await synthesize(loaded.definitions, inputs);
    return { ms: performance.now() - t0, files: result.files.size };
  }
  const loaded = await loadDefinitions(dir);
  await synthesize(loaded.definitions.slice(0, 20), inputs); // warm-up: validators, JIT
  global.gc?.();
  const t0 = performance.now();
  const result = await synthesize(loaded.definitions, inputs);
  return { ms: performance.now() - t0, files: result.files.size };
}

function oneApp(): { ms: number; files: number } {
  const build = (count: number) => {
    const app = new App({ outdir: '/nonexistent' });
    for (let i = 0; i < count; i++) {
      const chart = new Chart(app, `env-${i}`, { namespace: `bench-${i % 50}` });
      for (const { id, obj } of objectsFor(i)) new ApiObject(chart, id, obj as any);
    }
    return app.synthYaml();
  };
  build(20);
  global.gc?.();
  const t0 = performance.now();
  const yaml = build(n);
  return { ms: performance.now() - t0, files: yaml.length > 0 ? n * 3 : 0 };
}

function floor(): { ms: number; files: number } {
  const all = Array.from({ length: n }, (_, i) => objectsFor(i).map((o) => o.obj));
  for (const objs of all.slice(0, 20)) for (const o of objs) YAML.stringify(o);
  global.gc?.();
  const t0 = performance.now();
  let files = 0;
  for (const objs of all) for (const o of objs) {
    YAML.stringify(o);
    files++;
  }
  return { ms: performance.now() - t0, files };
}

const r = mode === 'paddock-warm' ? await paddock(false) : mode === 'paddock-cold' ? await paddock(true) : mode === 'one-app' ? oneApp() : floor();
console.log(JSON.stringify({ mode, n, ...r, rssMiB: Math.round(process.memoryUsage().rss / 1048576) }));
