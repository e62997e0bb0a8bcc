/**
 * The logs of `paddock serve` as an operator reads them: one JSON line per request, the cause
 * of a 5xx under the same request id as its answer, and no GC token, API token or password in
 * any line.
 */
import { rmSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { gcUrl } from '../core/gc-token.ts';
import { configureLogging, flushLogs, logger, redact } from '../src/log.ts';
import { paddock, startServe } from './helpers/cli.ts';
import { freePort } from './helpers/git-daemon.ts';
import { bareRepo, groupsSource } from './helpers/repo.ts';
import { definitionsDir, TEST_SECRET } from './helpers/synth.ts';

const API_TOKEN = 'logging-test-api-token-5f2b';

/** The JSON records of a process's output (other lines are dropped). */
function records(output: string): Array<Record<string, any>> {
  return output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

describe('paddock serve logs', () => {
  it('GIVEN JSON logs WHEN requests succeed and one fails because the repo is gone THEN each request has its line, the 5xx its cause under the answer\'s request id, and no token appears anywhere', async () => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': groupsSource(3, 'lg') });
    const env = { PADDOCK_GC_SECRET: TEST_SECRET, PADDOCK_API_TOKENS: API_TOKEN, PADDOCK_LOG_LEVEL: undefined, PADDOCK_LOG_FORMAT: undefined };
    expect((await paddock(['push', '--repo', remote, '--definitions', dir], { env })).code).toBe(0);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const serve = await startServe(['--log-format', 'json', '--repo', remote, '--definitions', dir, '--listen', `127.0.0.1:${port}`], env);
    const raw: string[] = [];
    try {
      const gc = (group: string) => fetch(gcUrl(base, TEST_SECRET, group), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: `group_id=${group}` }) });
      const ok = await gc('lg-0');
      expect(ok.status).toBe(202);
      const releases = await fetch(`${base}/api/releases`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      expect(releases.status).toBe(200);

      rmSync(remote, { recursive: true, force: true });
      const failed = await gc('lg-1');
      expect(failed.status).toBe(503);
      const id = failed.headers.get('x-request-id');
      expect(id).toBeTruthy();
      expect((await failed.json()).code).toBe('RemoteUnavailable');

      await expect.poll(() => records(serve.raw()).some((r) => r.reqId === id && r.status === 503 && r.url), { timeout: 5_000 }).toBe(true);
      raw.push(serve.raw());
    } finally {
      await serve.stop();
    }
    const out = raw[0];
    const lines = records(out);
    // One line per request, with what an operator filters on.
    const access = lines.filter((r) => r.route === '/gc/:token');
    expect(access.map((r) => r.status)).toEqual([202, 503]);
    for (const r of access) {
      expect(r).toMatchObject({ level: expect.any(String), component: 'sidecar', method: 'POST', url: '/gc/[redacted]', requester: { ip: '127.0.0.1' } });
      expect(r.ms).toEqual(expect.any(Number));
      expect(r.reqId).toEqual(expect.any(String));
    }
    expect(lines.find((r) => r.route === '/api/releases')).toMatchObject({ status: 200, requester: { auth: 'bearer' } });
    // The failure's cause, under the id its answer carries.
    const id = access[1].reqId;
    const cause = lines.find((r) => r.reqId === id && r.level === 'error');
    expect(cause, out).toBeDefined();
    expect(cause!.err.message).toMatch(/manifests repo unavailable: the repository does not exist/);
    expect(cause!.err.cause.message).toContain(remote);
    // No secret in any line: the GC tokens, the API token.
    for (const g of ['lg-0', 'lg-1']) expect(out).not.toContain(gcUrl('', TEST_SECRET, g).split('/gc/')[1]);
    expect(out).not.toContain(API_TOKEN);
  }, 60_000);

  it('GIVEN --log-format text THEN lines are text; GIVEN an unknown format THEN one line names it and the command does nothing', async () => {
    const bad = await paddock(['--log-format', 'xml', 'synth', '--definitions', definitionsDir({ 'g.ts': groupsSource(1, 'tx') })], { env: { PADDOCK_GC_SECRET: TEST_SECRET } });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('paddock: log format "xml" is not one of json, text (--log-format or PADDOCK_LOG_FORMAT)');
    expect(bad.stdout).toBe('');

    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': groupsSource(1, 'tx') });
    const port = await freePort();
    const serve = await startServe(['--repo', remote, '--definitions', dir, '--listen', `127.0.0.1:${port}`], { PADDOCK_GC_SECRET: TEST_SECRET, PADDOCK_LOG_FORMAT: 'text' });
    try {
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await expect.poll(() => serve.raw(), { timeout: 5_000 }).toMatch(/^\[[\d:.]+\] INFO: sidecar: GET \/healthz 200 \{/m);
      expect(serve.raw()).toMatch(/^\[[\d:.]+\] INFO: paddock serve: listening on /m);
      expect(records(serve.raw())).toEqual([]);
    } finally {
      await serve.stop();
    }
  }, 60_000);

  it('GIVEN secrets in URLs and messages THEN redact hides them and keeps the rest', () => {
    expect(redact('POST /gc/abc.DEF_123 failed')).toBe('POST /gc/[redacted] failed');
    expect(redact('fatal: unable to access https://paddock:s3cr3t@git.example/m.git/')).toBe('fatal: unable to access https://paddock:[redacted]@git.example/m.git/');
    expect(redact('GET /x?owner=a&token=t0k&password=p')).toBe('GET /x?owner=a&token=[redacted]&password=[redacted]');
    expect(redact('git://127.0.0.1:9418/manifests.git')).toBe('git://127.0.0.1:9418/manifests.git');
    expect(redact('POST /gc/:token 202')).toBe('POST /gc/:token 202');
  });

  it('GIVEN a message that quotes a secret (a watcher\'s "commit failed: <git\'s words>") THEN the line has it redacted, from the logger and its children', () => {
    configureLogging({ format: 'json' }); // as off a terminal, whatever this run's stderr is
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    try {
      logger.warn('commit failed: fatal: unable to access https://paddock:s3cr3t@git.example/m.git/');
      logger.child({ component: 'watcher' }).warn({ group: 'g' }, 'gc of /gc/abcDEF123 failed');
      flushLogs();
    } finally {
      spy.mockRestore();
    }
    const lines = written.join('').split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(written.join('')).not.toMatch(/s3cr3t|abcDEF123/);
    expect(JSON.parse(lines[0]).msg).toBe('commit failed: fatal: unable to access https://paddock:[redacted]@git.example/m.git/');
    expect(JSON.parse(lines[1])).toMatchObject({ component: 'watcher', group: 'g', msg: 'gc of /gc/[redacted] failed' });
  });

  it('GIVEN info lines logged in one turn of the event loop THEN they go out in one write before the next turn, and a warning goes out at once', async () => {
    configureLogging({ format: 'json' });
    const written: string[] = [];
    const level = logger.level;
    logger.level = 'info';
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    try {
      for (let i = 0; i < 3; i++) logger.info(`line ${i}`);
      expect(written).toHaveLength(0);
      // Immediates run in the order queued: the flush queued by the first line runs first.
      await new Promise((r) => setImmediate(r));
      expect(written).toHaveLength(1);
      expect(written[0].split('\n').filter(Boolean).map((l) => JSON.parse(l).msg)).toEqual(['line 0', 'line 1', 'line 2']);
      // A warning goes out at once, with the lines that waited before it.
      logger.info('before');
      logger.warn('now');
      expect(written).toHaveLength(2);
      expect(written[1].split('\n').filter(Boolean).map((l) => JSON.parse(l).msg)).toEqual(['before', 'now']);
      // A turn that logs more than 64 KiB does not hold it all.
      for (let i = 0; i < 40; i++) logger.info('x'.repeat(2048));
      expect(written.length).toBeGreaterThan(2);
      flushLogs();
    } finally {
      logger.level = level;
      spy.mockRestore();
    }
    expect(written.join('').split('\n').filter(Boolean)).toHaveLength(45);
  });
});
