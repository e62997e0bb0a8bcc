/**
 * One sequence of Boskos calls (acquire, heartbeat, release dirty, a janitor's acquire from
 * dirty, releases, and the misses) with `/metric` after each step, as plain HTTP. Run against the
 * real Boskos by test/boskos/record.sh, its answers are test/boskos/recorded/metric-sequence.json;
 * test/boskos-recorded.test.ts runs it against paddock and compares, step by step. Resource names
 * are not compared (each server picks its own); states, owners, counts and statuses are.
 *
 * The pool: one type `proj` with resources proj-1, proj-2 and proj-3, all free.
 */
import { call } from '../helpers/sidecar.ts';

export interface Step {
  readonly step: string;
  readonly status: number;
  /** `/metric`: the counts; a resource: its state and owner; else nothing. */
  readonly answer?: unknown;
}

export const POOL = { type: 'proj', names: ['proj-1', 'proj-2', 'proj-3'] } as const;

/** Keys sorted, so two servers' maps compare as data. */
function sorted(m: Record<string, number> | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export async function runSequence(base: string): Promise<Step[]> {
  const steps: Step[] = [];
  const request = (method: 'GET' | 'POST', path: string) => call(`${base}${path}`, { method, headers: method === 'POST' ? { 'content-type': 'application/json' } : {} });
  const metric = async (step: string, type: string = POOL.type) => {
    const r = await request('GET', `/metric?type=${type}`);
    steps.push({ step, status: r.status, ...(r.status === 200 ? { answer: { type: r.body.type, current: sorted(r.body.current), owner: sorted(r.body.owner) } } : {}) });
  };
  const acquire = async (step: string, query: string) => {
    const r = await request('POST', `/acquire?${query}`);
    steps.push({ step, status: r.status, ...(r.status === 200 ? { answer: { state: r.body.state, owner: r.body.owner } } : {}) });
    return r.status === 200 ? String(r.body.name) : '';
  };
  const post = async (step: string, path: string) => {
    steps.push({ step, status: (await request('POST', path)).status });
  };

  await metric('metric at start');
  await metric('metric of a type with no resources', 'nosuch');
  const alice = await acquire('alice acquires', `type=${POOL.type}&state=free&dest=busy&owner=alice`);
  await metric('metric after one acquire');
  const bob = await acquire('bob acquires', `type=${POOL.type}&state=free&dest=busy&owner=bob`);
  await metric('metric after two acquires');
  await post('alice heartbeats', `/update?name=${alice}&state=busy&owner=alice`);
  await post('bob releases alice\'s (not his)', `/release?name=${alice}&dest=free&owner=bob`);
  await post('alice releases dirty', `/release?name=${alice}&dest=dirty&owner=alice`);
  await metric('metric after a dirty release');
  const janitor = await acquire('the janitor takes the dirty one', `type=${POOL.type}&state=dirty&dest=cleaning&owner=janitor`);
  await metric('metric while it is cleaned');
  await acquire('an acquire from a state nobody is in', `type=${POOL.type}&state=nosuch&dest=busy&owner=carol`);
  await post('the janitor releases it free', `/release?name=${janitor}&dest=free&owner=janitor`);
  await post('bob releases his', `/release?name=${bob}&dest=free&owner=bob`);
  await metric('metric at the end');
  return steps;
}

// `npx tsx test/boskos/metric-sequence.ts URL`: the steps as JSON, for test/boskos/record.sh.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const url = process.argv[2];
  if (!url) {
    console.error('usage: metric-sequence.ts BASE_URL');
    process.exit(2);
  }
  console.log(JSON.stringify(await runSequence(url), null, 2));
}
