/**
 * The Boskos client mix the leases bench drives a server with (paddock serve or the real Boskos):
 * `clients` concurrent clients, each looping acquire (free -> busy), `heartbeats` x /update,
 * release (-> free), a fixed number of loops each with a time cap. Double leases are counted on
 * the client side: an acquire answering a resource another client holds (and has not started to
 * release), or naming another owner. Not a bench itself (the dispatcher runs [a-z][a-z0-9]*.ts).
 */
import { call, sorted } from './serve-kit.ts';

export interface MixOptions {
  readonly clients: number;
  readonly loops: number;
  readonly heartbeats: number;
  readonly timeCapMs: number;
  readonly type: string;
}

export interface MixResult {
  readonly ops: number;
  readonly wallMs: number;
  readonly opsPerSec: number;
  readonly loops: number;
  readonly capped: boolean;
  readonly doubles: number;
  /** Latencies of the calls answered 200, sorted, in ms. */
  readonly acquire: number[];
  readonly update: number[];
  readonly release: number[];
  readonly errors: ReadonlyMap<string, number>;
  readonly firstError: string;
}

export async function driveLeases(base: string, o: MixOptions): Promise<MixResult> {
  const holder = new Map<string, number>();
  const lat = { acquire: [] as number[], update: [] as number[], release: [] as number[] };
  const errors = new Map<string, number>();
  let firstError = '';
  let doubles = 0;
  let ops = 0;
  let loops = 0;
  let capped = false;
  const timed = async (kind: keyof typeof lat, url: string) => {
    const s = performance.now();
    const r = await call(url);
    ops++;
    if (r.status === 200) lat[kind].push(performance.now() - s);
    else {
      const key = `${kind} ${r.status} ${r.body?.code ?? ''}`.trim();
      errors.set(key, (errors.get(key) ?? 0) + 1);
      firstError ||= `${key}: ${JSON.stringify(r.body)}`;
    }
    return r;
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: o.clients }, async (_, c) => {
    const owner = `client-${c}`;
    for (let loop = 0; loop < o.loops; loop++) {
      if (performance.now() - t0 > o.timeCapMs) {
        capped = true;
        return;
      }
      const a = await timed('acquire', `${base}/acquire?${new URLSearchParams({ type: o.type, state: 'free', dest: 'busy', owner })}`);
      if (a.status !== 200) continue;
      const name: string = a.body.name;
      const other = holder.get(name);
      if (other !== undefined && other !== c) doubles++;
      if (a.body.owner !== owner) doubles++;
      holder.set(name, c);
      for (let i = 0; i < o.heartbeats; i++) await timed('update', `${base}/update?${new URLSearchParams({ name, owner, state: 'busy' })}`);
      // From the moment the release is sent the server may hand the resource to someone else.
      if (holder.get(name) === c) holder.delete(name);
      await timed('release', `${base}/release?${new URLSearchParams({ name, dest: 'free', owner })}`);
      loops++;
    }
  }));
  const wallMs = performance.now() - t0;
  return {
    ops, wallMs, opsPerSec: (ops / wallMs) * 1000, loops, capped, doubles,
    acquire: sorted(lat.acquire), update: sorted(lat.update), release: sorted(lat.release), errors, firstError,
  };
}
