/**
 * The Boskos client mix the leases bench drives a server with (paddock serve, the real Boskos,
 * or a server that does nothing): `clients` concurrent clients of the real Go client,
 * sigs.k8s.io/boskos/client, unchanged (test/boskos/harness/mix, built once into .cache/), each
 * looping acquire (free -> busy), `heartbeats` x UpdateOne, ReleaseOne (-> free), a fixed number
 * of loops each with a time cap. Latencies are what the client's callers see, its own retries
 * (it sleeps 1, 4 and 9 s between attempts) included; the repeated attempts are counted (not its
 * dial retries, which only show as latency). Double leases are counted on the client side: an
 * acquire answering a resource another client holds (and has not started to release), or naming
 * another owner. Not a bench itself (the dispatcher runs [a-z][a-z0-9]*.ts).
 *
 * Its Go runtime collects no garbage during a run (MIX_ENV): its GC pauses are not in the
 * latencies (its CPU, scheduling and the loopback round trip still are).
 *
 * The real client, as the reference figures were taken with, and as users run it: how it
 * treats an answer is part of what a server costs it (paddock's once cost it a TCP connection per
 * heartbeat). It is also the lighter load: against a server doing nothing, 64 node clients in one
 * process made 9,000-9,700 calls/s with a heartbeat p99 of 15-19 ms, the Go client 9,700-15,300
 * calls/s at 12-15 ms (three runs each, interleaved, on a 2-core machine; its GC still on then).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { run } from './cluster-kit.ts';
import { REPO_ROOT } from './lib.ts';
import { sorted } from './serve-kit.ts';

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
  /** Attempts the client repeated after a failed one (each after a sleep of 1, 4 or 9 s). */
  readonly retries: number;
  /** Latencies of the calls that succeeded, sorted, in ms. */
  readonly acquire: number[];
  readonly update: number[];
  readonly release: number[];
  readonly errors: ReadonlyMap<string, number>;
  readonly firstError: string;
}

/**
 * The mix collects no garbage while it runs (unless its heap nears 1 GiB; a 64-client warm-up
 * peaks near 60 MiB): its own GC pauses would be counted as the server's latency. Against the
 * server doing nothing, at 64 clients, they took the heartbeat p99 from 4.7-5.8 ms to 5.9-13.7
 * (five rounds each).
 */
const MIX_ENV = { GOGC: 'off', GOMEMLIMIT: '1GiB' };

const HARNESS = path.join(REPO_ROOT, 'test/boskos/harness');
const BIN = path.join(REPO_ROOT, '.cache/boskos-harness/mix');
let built: Promise<string> | undefined;

/** Builds the mix (go build is a no-op when nothing changed); its path. */
function mixBinary(): Promise<string> {
  built ??= (async () => {
    mkdirSync(path.dirname(BIN), { recursive: true });
    try {
      await run('go', ['build', '-o', BIN, './mix'], {}, 900_000, undefined, HARNESS);
    } catch (e) {
      throw new Error(`the lease mix is the real Boskos Go client and needs Go to build (${HARNESS}/mix): ${(e as Error).message}`);
    }
    return BIN;
  })();
  return built;
}

export async function driveLeases(base: string, o: MixOptions): Promise<MixResult> {
  const bin = await mixBinary();
  const out = await run(bin, [
    '-url', base, '-type', o.type, '-clients', String(o.clients), '-loops', String(o.loops),
    '-heartbeats', String(o.heartbeats), '-time-cap', `${o.timeCapMs}ms`,
  ], MIX_ENV, o.timeCapMs + 600_000);
  const r = JSON.parse(out) as {
    ops: number; wallMs: number; loops: number; capped: boolean; doubles: number; retries: number;
    acquire: number[] | null; update: number[] | null; release: number[] | null; errors: Record<string, number>; firstError: string;
  };
  return {
    ops: r.ops, wallMs: r.wallMs, opsPerSec: (r.ops / r.wallMs) * 1000, loops: r.loops, capped: r.capped, doubles: r.doubles, retries: r.retries,
    acquire: sorted(r.acquire ?? []), update: sorted(r.update ?? []), release: sorted(r.release ?? []),
    errors: new Map(Object.entries(r.errors)), firstError: r.firstError,
  };
}
