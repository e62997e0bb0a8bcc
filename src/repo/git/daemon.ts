/**
 * paddock's side of the git:// protocol (git daemon): a push, and a look at the remote's refs.
 * git's own client leaves Nagle's algorithm on for git:// sockets, so whenever it writes twice
 * before reading (a push's commands, then its pack; a fetch's ls-refs) the second write waits
 * for the server to acknowledge the first, which Linux delays by 40 ms. On `git daemon` on the
 * same machine that is two thirds of a small push (~60 ms with git, ~20 ms here) and almost all
 * of a fetch with nothing new (~50 ms with git, ~5 ms here).
 *
 * Only the connection is paddock's. The pack is the one `git fast-import` wrote with the commit
 * (its new objects, whole: no pack-objects walk on this side, no thin deltas to resolve on the
 * server's: ~55 ms less a GC commit on a 5,000-group repo), or `git pack-objects` makes it
 * exactly as `git push` asks it to. The server's receive-pack checks and applies it; the ref
 * moves only from the tip the server advertised (a compare-and-swap under the server's ref
 * lock). As `git push` does, a push whose tip is not an ancestor of ours is refused before
 * anything is sent. Failures read as git's own messages, so classifyGitError sorts them the
 * same way.
 *
 * Protocol: gitprotocol-pack(5) (v0: the only push protocol git daemon speaks; a v0 upload-pack
 * advertises its refs unasked), over the pkt-line framing of gitprotocol-common(5).
 */
import { connect, type Socket } from 'node:net';
import { runGit } from './process.ts';

const DEFAULT_PORT = 9418;
/** What this client asks of the server (every git daemon since 2006 offers both). */
const NEEDED = ['report-status', 'ofs-delta'];

export const isGitDaemonUrl = (url: string): boolean => url.startsWith('git://');

export interface DaemonPush {
  readonly gitDir: string;
  readonly url: string;
  readonly sha: string;
  /** The full ref name, e.g. refs/heads/main. */
  readonly ref: string;
  /**
   * The commit `sha` was written on, when known: its pack is made while the server answers. It
   * must be `sha`'s parent: a remote at it needs no ancestry check.
   */
  readonly parent?: string;
  /**
   * A pack holding every object of `sha` that `parent` lacks (every object, without a parent):
   * the one `git fast-import` wrote with the commit. Sent as it is when the remote is at `parent`
   * (or empty), with no pack-objects; a pack the server refuses is made again by pack-objects.
   */
  readonly written?: () => Promise<Buffer>;
  readonly timeoutMs?: number;
}

/** Pushes `sha` to `ref` of the git:// remote `url`; resolves once the server reports the ref updated. */
export async function pushToGitDaemon(p: DaemonPush): Promise<void> {
  const zero = '0'.repeat(p.sha.length);
  // The tip the remote should be at: the pack is made while the server answers (a written pack
  // that cannot be read, housekeeping having joined it into another, is made again).
  const expected = p.parent ?? zero;
  const made = () => packObjects(p.gitDir, p.sha, p.parent);
  const early = p.written ? p.written().catch(made) : p.parent ? made() : undefined;
  early?.catch(() => undefined); // awaited below only when the remote is at `expected`
  const { conn, refs, capabilities } = await openService(p.url, 'git-receive-pack', p.timeoutMs);
  let sentWritten = false;
  try {
    const missing = NEEDED.filter((c) => !capabilities.has(c));
    if (missing.length) throw new DaemonPushUnsupported(missing);
    const old = refs.get(p.ref) ?? zero;
    if (old === p.sha) return conn.write(FLUSH);
    if (old !== zero && old !== p.parent && !(await isAncestor(p.gitDir, old, p.sha))) {
      throw new Error(`! [rejected] ${p.sha} -> ${p.ref} (fetch first): the remote's tip ${old} is not in this commit's history`);
    }
    sentWritten = old === expected && !!p.written;
    const pack = old === expected && early ? await early : await packObjects(p.gitDir, p.sha, old === zero ? undefined : old);
    conn.write(Buffer.concat([pktLine(`${old} ${p.sha} ${p.ref}\0${asked(capabilities).join(' ')}`), FLUSH, pack]));
    await readReport(conn, p.sha, p.ref);
    return;
  } catch (e) {
    // The server refused the written pack and kept its ref: one that lacks an object the remote
    // needs ("missing necessary objects"; an unpack error where the server checks objects as
    // they come) should never be sent (WorkTree), but costs a push made again, not a failure.
    // Another writer's tip in between is refused again, before sending.
    if (!sentWritten || !(e instanceof Refused)) throw e;
  } finally {
    conn.close();
  }
  await pushToGitDaemon({ ...p, written: undefined });
}

/** The server's report says no: nothing landed. Read by classifyGitError as git's own message. */
class Refused extends Error {}

/** The git:// remote's refs (name -> oid), as its upload-pack advertises them; nothing is fetched. */
export async function remoteRefs(url: string, timeoutMs?: number): Promise<Map<string, string>> {
  const { conn, refs } = await openService(url, 'git-upload-pack', timeoutMs);
  conn.write(FLUSH); // "nothing wanted": upload-pack ends quietly
  conn.close();
  return refs;
}

/** Connects to the daemon, asks for `service` on the URL's repository, reads the advertisement. */
async function openService(url: string, service: string, timeoutMs = 60_000) {
  const { hostname, port, pathname, host } = new URL(url);
  const conn = new PktConnection(hostname.replace(/^\[|\]$/g, ''), Number(port || DEFAULT_PORT), timeoutMs);
  // As git does: `git://host/~user/repo` asks for `~user/repo` (git daemon's --user-path).
  const repoPath = decodeURIComponent(pathname.startsWith('/~') ? pathname.slice(1) : pathname);
  try {
    conn.write(pktLine(`${service} ${repoPath}\0host=${host}\0`));
    return { conn, ...(await readAdvertisement(conn)) };
  } catch (e) {
    conn.close();
    throw e;
  }
}

/** The capabilities a push asks for: those it needs, the server's object format, and an agent where the server names its own. */
function asked(offered: ReadonlySet<string>): string[] {
  const format = [...offered].filter((c) => c.startsWith('object-format='));
  const agent = [...offered].some((c) => c.startsWith('agent=')) ? ['agent=paddock'] : [];
  return [...NEEDED, ...format, ...agent];
}

/** The server lacks a capability this client needs: push with git instead. Nothing was sent. */
export class DaemonPushUnsupported extends Error {
  constructor(missing: readonly string[]) {
    super(`the git:// server does not offer ${missing.join(', ')}`);
  }
}

/** The server's refs (name -> oid) and capabilities, from the advertisement that opens a session. */
async function readAdvertisement(conn: PktConnection): Promise<{ refs: Map<string, string>; capabilities: Set<string> }> {
  const refs = new Map<string, string>();
  let capabilities = new Set<string>();
  for (let line = await conn.read(), first = true; line !== null; line = await conn.read(), first = false) {
    let text = line.toString('utf8').replace(/\n$/, '');
    if (text.startsWith('ERR ')) throw new Error(`remote error: ${text.slice(4)}`);
    if (first) {
      const nul = text.indexOf('\0');
      if (nul >= 0) capabilities = new Set(text.slice(nul + 1).split(' '));
      text = nul >= 0 ? text.slice(0, nul) : text;
    }
    const [oid, name] = text.split(' ');
    if (name && name !== 'capabilities^{}') refs.set(name, oid);
  }
  return { refs, capabilities };
}

/** Reads report-status: `unpack ok`, then `ok <ref>` or `ng <ref> <why>`. */
async function readReport(conn: PktConnection, sha: string, ref: string): Promise<void> {
  const lines: string[] = [];
  for (let line = await conn.read(); line !== null; line = await conn.read()) lines.push(line.toString('utf8').replace(/\n$/, ''));
  const unpack = lines.find((l) => l.startsWith('unpack '));
  const status = lines.find((l) => l === `ok ${ref}` || l.startsWith(`ng ${ref} `));
  const rejected = status?.startsWith('ng ') ? `! [remote rejected] ${sha} -> ${ref} (${status.slice(ref.length + 4)})` : '';
  if (unpack !== 'unpack ok') throw new Refused([`error: remote unpack failed: ${unpack?.slice(7) ?? 'no report'}`, rejected].filter(Boolean).join('\n'));
  if (rejected) throw new Refused(rejected);
  if (!status) throw new Error(`the remote end hung up unexpectedly: no status for ${ref}`);
}

/** The pack `git push` would send: the objects of `sha` the remote's `have` lacks, thin, offset deltas. */
function packObjects(gitDir: string, sha: string, have: string | undefined): Promise<Buffer> {
  return runGit(gitDir, ['pack-objects', '--all-progress-implied', '--revs', '--stdout', '--thin', '--delta-base-offset', '-q'], `${sha}\n${have ? `^${have}\n` : ''}`)
    .then(({ code, out, err }) => (code === 0 ? out : Promise.reject(new Error(`git pack-objects failed (${code ?? 'timed out'}): ${err.trim()}`))));
}

/** Whether `old` is in `sha`'s history (false also when this repository has never seen `old`). */
async function isAncestor(gitDir: string, old: string, sha: string): Promise<boolean> {
  return (await runGit(gitDir, ['merge-base', '--is-ancestor', old, sha], '')).code === 0;
}

const FLUSH = Buffer.from('0000');

function pktLine(text: string): Buffer {
  const body = Buffer.from(text);
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0')), body]);
}

/**
 * A TCP connection with Nagle's algorithm off, read as pkt-lines. Every failure (refused, reset,
 * closed early, too slow) rejects the pending read with git's words for it.
 */
class PktConnection {
  private readonly socket: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private failure?: Error;
  private ended = false;
  private wake?: () => void;
  private readonly timer: NodeJS.Timeout;

  constructor(host: string, port: number, timeoutMs: number) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
      this.wake?.();
    });
    this.socket.on('end', () => ((this.ended = true), this.wake?.()));
    this.socket.on('error', (e: NodeJS.ErrnoException) => this.fail(new Error(`unable to connect to ${host}: ${socketWords(e)}`, { cause: e })));
    this.timer = setTimeout(() => this.fail(new Error(`git:// connection to ${host} timed out after ${timeoutMs} ms`)), timeoutMs);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next pkt-line's payload, or null for a flush-pkt. */
  async read(): Promise<Buffer | null> {
    for (;;) {
      if (this.buffered.length >= 4) {
        const size = parseInt(this.buffered.subarray(0, 4).toString('latin1'), 16);
        if (Number.isNaN(size) || (size > 0 && size < 4)) throw new Error(`protocol error: bad line length ${this.buffered.subarray(0, 4).toString('latin1')}`);
        if (size === 0 || this.buffered.length >= size) {
          const payload = size === 0 ? null : this.buffered.subarray(4, size);
          this.buffered = this.buffered.subarray(size === 0 ? 4 : size);
          return payload;
        }
      }
      if (this.failure) throw this.failure;
      if (this.ended) throw new Error('the remote end hung up unexpectedly');
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.socket.end();
    this.socket.destroySoon();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.socket.destroy();
    this.wake?.();
  }
}

/** An errno as git's connection messages word it (classifyGitError reads these). */
function socketWords(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ECONNREFUSED': return 'Connection refused';
    case 'ECONNRESET': return 'Connection reset by peer';
    case 'EPIPE': return 'Broken pipe';
    case 'ENOTFOUND':
    case 'EAI_AGAIN': return 'Could not resolve host';
    case 'ENETUNREACH':
    case 'EHOSTUNREACH': return 'Network is unreachable';
    default: return e.message;
  }
}
