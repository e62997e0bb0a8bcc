/**
 * Lease pools from a file (`--lease-config`): Boskos's YAML `resources: [{type, state, names,
 * min-count, max-count}]`, or the seed's older format, one JSON `{type, name, state}` per line.
 */
import YAML from 'yaml';
import { LEASE_WORD } from '../../core/names.ts';
import { UserError } from '../errors.ts';
import type { PoolSpec } from './ranch.ts';

export function parseLeaseConfig(text: string, file: string): PoolSpec[] {
  const trimmed = text.trim();
  if (!trimmed) return [];
  const pools = new Map<string, string[]>();
  const add = (type: unknown, name: unknown, where: string) => {
    if (typeof type !== 'string' || !type || typeof name !== 'string' || !name) throw new UserError('InvalidConfig', `${file}: ${where}: needs a type and a name`);
    // Both become a path in the manifests repo (state/leases/<type>/<name>.yaml).
    for (const [what, value] of [['type', type], ['name', name]]) {
      if (!LEASE_WORD.test(value)) throw new UserError('InvalidConfig', `${file}: ${where}: ${what} "${value.slice(0, 80)}" must be letters, digits, '-', '_' or '.', starting with a letter or digit`);
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
        throw new UserError('InvalidConfig', `${file}: line ${i + 1} is not JSON`);
      }
      add(rec?.type, rec?.name, `line ${i + 1}`);
    });
  } else {
    let doc: any;
    try {
      doc = YAML.parse(trimmed);
    } catch (e) {
      throw new UserError('InvalidConfig', `${file}: not YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    const resources = doc?.resources;
    if (!Array.isArray(resources)) throw new UserError('InvalidConfig', `${file}: expected resources: [{type, names}] (Boskos format) or JSON lines {type, name, state}`);
    resources.forEach((r: any, i: number) => {
      const names: unknown[] = Array.isArray(r?.names) ? r.names : [];
      // Dynamic resources (min-count/max-count) get Boskos-style generated names.
      const count = Number(r?.['max-count'] ?? r?.['min-count'] ?? 0);
      for (let k = 0; k < count && !names.length; k++) add(r?.type, `${r?.type}-${k}`, `resources[${i}]`);
      for (const n of names) add(r?.type, n, `resources[${i}].names`);
      if (!names.length && !count) throw new UserError('InvalidConfig', `${file}: resources[${i}] has no names and no min-count/max-count`);
    });
  }
  return [...pools].map(([type, names]) => ({ type, names }));
}
