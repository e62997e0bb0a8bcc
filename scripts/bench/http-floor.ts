/**
 * The floor under the leases bench's heartbeat figures: what this machine gives the same client
 * mix against a server that does no work. A bare `node:http` server in a process of its own
 * answers every call at once (an acquire names a resource of the caller's own, so no lease is
 * ever shared), and lease-mix.ts drives it as it drives paddock and Boskos. What its clients see
 * is the loopback round trip plus both processes' scheduling on this machine: a heartbeat p99
 * target below it cannot be met by any server here. Not a bench itself (the dispatcher runs
 * [a-z][a-z0-9]*.ts).
 */
import type { Harness } from './serve-kit.ts';

const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  const q = new URL(req.url, 'http://floor').searchParams;
  const owner = q.get('owner') ?? '';
  const body = JSON.stringify({ type: q.get('type') ?? 'floor', name: q.get('name') ?? 'floor-' + owner, state: q.get('dest') ?? q.get('state') ?? 'busy', owner });
  req.resume();
  // An acquire answers the resource; the rest an empty 200, as Boskos (and paddock) answer them.
  req.on('end', () => (req.url.startsWith('/acquire') ? res.writeHead(200, { 'content-type': 'application/json' }).end(body) : res.writeHead(200, { 'content-length': 0 }).end()));
});
server.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
`;

/** Starts the floor server; its URL, and a stop. */
export async function startFloor(h: Harness): Promise<{ readonly url: string; stop(): Promise<void> }> {
  const child = h.start(process.execPath, ['-e', SERVER]);
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('close', (code) => reject(new Error(`the floor server exited ${code}: ${out}`)));
  });
  return { url, stop: () => h.stop(child) };
}
