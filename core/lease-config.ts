/**
 * Lease pools from a config (`--lease-config FILE`, `PaddockControlPlane`'s `leaseConfig`):
 * Boskos's YAML `resources: [{type, state, names, min-count, max-count}]`, or the seed's older
 * format, one JSON `{type, name, state}` per line. Shared by the construct library (which checks
 * a config at synthesis) and the sidecar (which reloads it). Pure.
 */
import YAML from 'yaml';
import { LEASE_WORD } from './names.ts';

/** One pool: a type and its resources' names. */
export interface LeasePoolSpec {
  readonly type: string;
  readonly names: readonly string[];
}

/** The pools `text` describes; an Error naming `file` and the entry when it cannot be read. */
export function parseLeaseConfig(text: string, file: string): LeasePoolSpec[] {
  const trimmed = text.trim();
  if (!trimmed) return [];
  const pools = new Map<string, string[]>();
  const add = (type: unknown, name: unknown, where: string) => {
    if (typeof type !== 'string' || !type || typeof name !== 'string' || !name) throw new Error(`${file}: ${where}: needs a type and a name`);
    // Both become a path in the manifests repo (state/leases/<type>/<name>.yaml).
    for (const [what, value] of [['type', type], ['name', name]]) {
      if (!LEASE_WORD.test(value)) throw new Error(`${file}: ${where}: ${what} "${value.slice(0, 80)}" must be letters, digits, '-', '_' or '.', starting with a letter or digit`);
    }
    const list = pools.get(type) ?? [];
    list.push(name);
    pools.set(type, list);
  };
  if (trimmed.startsWith('{')) {
    trimmed.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      let rec: any;
      try {
        rec = JSON.parse(line);
      } catch {
        throw new Error(`${file}: line ${i + 1} is not JSON`);
      }
      add(rec?.type, rec?.name, `line ${i + 1}`);
    });
  } else {
    let doc: any;
    try {
      doc = YAML.parse(trimmed);
    } catch (e) {
      throw new Error(`${file}: not YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    const resources = doc?.resources;
    if (!Array.isArray(resources)) throw new Error(`${file}: expected resources: [{type, names}] (Boskos format) or JSON lines {type, name, state}`);
    resources.forEach((r: any, i: number) => {
      const names: unknown[] = Array.isArray(r?.names) ? r.names : [];
      // Dynamic resources (min-count/max-count) get Boskos-style generated names.
      const count = Number(r?.['max-count'] ?? r?.['min-count'] ?? 0);
      for (let k = 0; k < count && !names.length; k++) add(r?.type, `${r?.type}-${k}`, `resources[${i}]`);
      for (const n of names) add(r?.type, n, `resources[${i}].names`);
      if (!names.length && !count) throw new Error(`${file}: resources[${i}] has no names and no min-count/max-count`);
    });
  }
  return [...pools].map(([type, names]) => ({ type, names }));
}
