/**
 * src/workspaces: the rules of a per-user workspace, with no HTTP in them: what a request may
 * ask for (sizes, email, one plain OpenSSH key), which email domains may ask, and what the user
 * is told (the API's answer and the email).
 *
 * Owns: workspace requests and how a workspace is described. Must not touch: HTTP, git.
 */
import type { WorkspaceRecord } from '../../core/records.ts';
import { Workspace } from '../../constructs/workspace.ts';
import { UserError } from '../errors.ts';
import type { WorkspaceRequest } from '../repo/intents.ts';

export const DEFAULT_STORAGE = '10Gi';
export const MAX_RAM_GIB = 256;
export const MAX_CPU = 64;
/** Largest home volume, in GiB (16Ti). */
export const MAX_STORAGE_GIB = 16 * 1024;

/** Longest public key line taken. */
export const MAX_KEY_LENGTH = 16 * 1024;

/** A request's fields as given (either body shape), checked: sizes as numbers (GiB, cores), storage as a quantity. */
export function workspaceRequest(raw: { email: string; ram: number | string; cpu: number | string; storage?: number | string; publicKey: string }): WorkspaceRequest {
  return {
    email: checkEmail(raw.email),
    ram: ramOf(raw.ram),
    cpu: cpuOf(raw.cpu),
    storage: storageOf(raw.storage),
    publicKey: checkPublicKey(raw.publicKey),
  };
}

/**
 * DomainNotAllowed unless `email`'s domain is allowed by `domains` (none listed: any domain).
 * `example.edu` (or `@example.edu`) allows that domain only; `.example.edu` allows its subdomains
 * (`cs.example.edu`), not itself: list both for both.
 */
export function checkDomain(email: string, domains: readonly string[]): void {
  const domain = domainOf(email);
  const allows = (entry: string) => {
    const d = entry.trim().replace(/^@/, '').toLowerCase();
    return d.startsWith('.') ? domain.endsWith(d) && domain.length > d.length : domain === d;
  };
  if (domains.length && !domains.some(allows)) {
    throw new UserError('DomainNotAllowed', `email domain "${domain}" may not get workspaces; allowed: ${domains.join(', ')}`);
  }
}

const EMAIL = /^[^\s\x00-\x1f\x7f@<>()[\]",;:\\]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** The address with its domain lowercased; BadRequest when it is not one. */
export function checkEmail(text: string): string {
  const at = text.trim().lastIndexOf('@');
  const normal = at < 0 ? text.trim() : `${text.trim().slice(0, at)}@${text.trim().slice(at + 1).toLowerCase()}`;
  if (!EMAIL.test(normal)) throw new UserError('BadRequest', `email "${shown(text)}" is not an email address`);
  return normal;
}

/** The part after the last `@`, lowercased. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

const DECIMAL = /^(\d{1,6}(?:\.\d{1,6})?)$/;

/** Memory in GiB: a bare number, or `2Gi` / `2G` / `2GiB` (all read as GiB). At most 3 decimals. */
export function ramOf(v: number | string): number {
  let n = NaN;
  if (typeof v === 'number') n = v;
  else {
    const m = /^(\d{1,6}(?:\.\d{1,6})?)\s*(?:Gi|G|GiB|GB)?$/i.exec(v.trim());
    if (m) n = Number(m[1]);
  }
  if (!Number.isFinite(n) || n <= 0 || n > MAX_RAM_GIB || !fine(n)) {
    throw new UserError('InvalidSize', `ram "${shown(String(v))}" must be a number of GiB above 0 and at most ${MAX_RAM_GIB} (like 2, "2" or "2Gi"), with at most 3 decimals`);
  }
  return n;
}

/** CPU in cores: a bare number, or millicores like `500m`. At most 3 decimals (1m). */
export function cpuOf(v: number | string): number {
  let n = NaN;
  if (typeof v === 'number') n = v;
  else {
    const s = v.trim();
    const milli = /^(\d{1,6})m$/.exec(s);
    if (milli) n = Number(milli[1]) / 1000;
    else if (DECIMAL.test(s)) n = Number(s);
  }
  if (!Number.isFinite(n) || n <= 0 || n > MAX_CPU || !fine(n)) {
    throw new UserError('InvalidSize', `cpu "${shown(String(v))}" must be a number of cores above 0 and at most ${MAX_CPU} (like 1, "0.5" or "500m")`);
  }
  return n;
}

const STORAGE_UNITS_GIB: Record<string, number> = { Mi: 1 / 1024, Gi: 1, Ti: 1024, M: 1e6 / 2 ** 30, G: 1e9 / 2 ** 30, T: 1e12 / 2 ** 30 };

/** A Kubernetes quantity for the home volume (`10Gi`, `500Mi`, `1Ti`; a bare number is GiB). @default 10Gi */
export function storageOf(v: number | string | undefined): string {
  if (v === undefined) return DEFAULT_STORAGE;
  const m = /^(\d{1,6}(?:\.\d{1,3})?)(Mi|Gi|Ti|M|G|T)?$/.exec(String(v).trim());
  const gib = m ? Number(m[1]) * STORAGE_UNITS_GIB[m[2] ?? 'Gi'] : NaN;
  if (!m || !(gib > 0) || gib > MAX_STORAGE_GIB) {
    throw new UserError('InvalidSize', `storage "${shown(String(v))}" must be a Kubernetes quantity above 0 and at most 16Ti, like "10Gi" or "500Mi"`);
  }
  return `${m[1]}${m[2] ?? 'Gi'}`;
}

/** OpenSSH public key types sshd accepts in authorized_keys. */
export const KEY_TYPES = [
  'ssh-ed25519', 'ssh-rsa', 'ssh-dss',
  'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
] as const;

/**
 * One OpenSSH public key line, `<type> <base64> [comment]`, whose base64 decodes to a key blob
 * that names the same type. No authorized_keys options (`command=...`). Returns it normalized.
 */
export function checkPublicKey(text: string): string {
  const bad = (why: string) => new UserError('InvalidPublicKey', `publicKey ${why}`);
  const line = text.trim();
  if (!line) throw bad('is empty: give one OpenSSH public key, like the content of ~/.ssh/id_ed25519.pub');
  if (/[\r\n]/.test(line)) throw bad('must be one line holding one OpenSSH public key');
  if (/[\x00-\x08\x0b-\x1f\x7f]/.test(line)) throw bad('holds control characters');
  const [type, data, ...comment] = line.split(/[ \t]+/);
  if (!(KEY_TYPES as readonly string[]).includes(type)) {
    throw bad(`must start with a key type (${KEY_TYPES.slice(0, 6).join(', ')}, ...), not "${shown(type, 40)}"`);
  }
  if (!data || !/^[A-Za-z0-9+/]+={0,2}$/.test(data) || data.length % 4 !== 0) throw bad(`key data after "${type}" is not base64`);
  const blob = Buffer.from(data, 'base64');
  const n = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (n < 1 || n > 64 || 4 + n > blob.length) throw bad(`key data after "${type}" is not an OpenSSH key blob`);
  const embedded = blob.subarray(4, 4 + n).toString('latin1');
  if (embedded !== type) {
    throw bad(`says "${type}" but its key data is ${/^[\w@.-]+$/.test(embedded) ? `a "${embedded}" key` : 'not a key of that type'}`);
  }
  // The key itself follows the type: ed25519 is exactly 32 bytes, every other type more than that.
  if (type === 'ssh-ed25519' ? blob.length !== 4 + n + 4 + 32 : blob.length < 4 + n + 4 + 32) throw bad(`key data is too short for a "${type}" key`);
  const note = comment.join(' ');
  if (note.length > 256) throw bad('comment is longer than 256 characters');
  return note ? `${type} ${data} ${note}` : `${type} ${data}`;
}

/** Up to `max` characters of user input, for messages. */
export function shown(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** True when `n` has at most 3 decimals. */
function fine(n: number): boolean {
  return Math.abs(Math.round(n * 1000) - n * 1000) < 1e-6;
}

/** What the API says about a workspace: its record, the login user, and the ssh command. */
export function describeWorkspace(r: WorkspaceRecord, nodeAddress: string, removed = false) {
  const user = Workspace.userOf(r.name);
  return {
    name: r.name,
    group: Workspace.groupOf(r.name),
    email: r.email,
    ram: r.ram,
    cpu: r.cpu,
    storage: r.storage,
    port: r.port,
    user,
    ssh: `ssh -p ${r.port} ${user}@${nodeAddress}`,
    /**
     * `stopped`: scaled to zero, its home volume and port kept (`POST .../start` brings it back);
     * `removed`: its group was removed (GC, TTL, demolish), the same request brings it back.
     */
    state: removed ? 'removed' : r.stoppedAt ? 'stopped' : 'running',
    createdAt: r.createdAt,
    ...(r.stoppedAt ? { stoppedAt: r.stoppedAt } : {}),
  };
}

/** What deleting a workspace removes, for the answer: everything, its home volume included. */
export function removalOf(r: WorkspaceRecord): { name: string; deleted: true; removed: string[] } {
  return {
    name: r.name,
    deleted: true,
    removed: [
      `Deployment ${r.name}`,
      `Service ${r.name} (NodePort ${r.port}, free again)`,
      `PersistentVolumeClaim ${r.name}-home (the ${r.storage} home volume: its data is gone once the volume is reclaimed)`,
      `ConfigMap ${r.name}-ssh (the public key)`,
    ],
  };
}

/** The email to the user: the same instructions as the answer. */
export function instructions(w: ReturnType<typeof describeWorkspace>): { subject: string; text: string } {
  return {
    subject: `Your workspace ${w.name} is ready`,
    text: [
      'Hello,',
      '',
      `your workspace "${w.name}" (${w.ram} GiB RAM, ${w.cpu} CPU, ${w.storage} home volume) is committed; it starts as soon as Argo CD has applied it.`,
      'Reach it with the SSH key you gave:',
      '',
      `    ${w.ssh}`,
      '',
      `Your home directory is on the volume and survives restarts. POST /api/workspaces/${w.name}/stop scales the workspace to zero and keeps`,
      `the volume and the port (POST .../start brings it back); DELETE /api/workspaces/${w.name} removes it, volume included.`,
      '',
      '-- paddock',
      '',
    ].join('\n'),
  };
}
