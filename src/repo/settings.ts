/**
 * Settings every writer must agree on, kept in the repo (`state/settings.yaml`), and how one
 * writer's flags and GC secret are held against that record.
 *
 * A writer brings *claims* (values it was told explicitly, by a flag or an environment
 * variable) and *defaults* (used only by the first commit, which records them). A claim that
 * disagrees with the record is an error naming both values; so is a GC secret whose
 * fingerprint is not the recorded one, or no secret at all. Only `paddock up`, which owns its
 * local repo, *adopts* its claims instead, and says so. Pure: no I/O.
 */
import { createHmac } from 'node:crypto';
import { SettingsRecordSchema, type SettingsRecord } from '../../core/records.ts';
import { UserError } from '../errors.ts';

/** The settings `paddock settings set` takes, as written in `state/settings.yaml`. */
export const SETTING_KEYS = ['sidecarUrl', 'argo.repoURL', 'argo.targetRevision', 'argo.namespace', 'argo.project'] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/** Other spellings people type (the flag names). */
const ALIASES: Record<string, SettingKey> = {
  'sidecar-url': 'sidecarUrl',
  'argo-repo-url': 'argo.repoURL',
  'argo.repoUrl': 'argo.repoURL',
  'argo-branch': 'argo.targetRevision',
  'argo.branch': 'argo.targetRevision',
  'argo-namespace': 'argo.namespace',
  'argo-project': 'argo.project',
};

/** The record without the fingerprint: what a writer proposes for a first commit. */
export type Settings = Omit<SettingsRecord, 'gcSecretFingerprint'>;

/** A value a writer was told explicitly, and where it came from (`--sidecar-url`, `PADDOCK_SIDECAR_URL`). */
export interface Claim {
  readonly value: string;
  readonly from: string;
}

export interface WriterSettings {
  readonly claims: Readonly<Partial<Record<SettingKey, Claim>>>;
  /** For keys neither claimed nor recorded: the first commit only. */
  readonly defaults: Settings;
  readonly gcSecret?: string;
  /** Commit a claim or secret that differs from the record instead of refusing (`paddock up` on its own repo). */
  readonly adopt?: boolean;
  /**
   * `paddock settings set`: a setting to change, or the GC secret to rotate (`gcSecret` is then
   * the new one, and `previous` must be the repo's current secret).
   */
  readonly change?: { readonly key: SettingKey; readonly value: string } | { readonly key: 'gcSecret'; readonly previous: string };
}

export interface SettingsDecision {
  /** The settings this writer commits with. */
  readonly record: SettingsRecord;
  /** True when `record` must be written (the first commit, or adopted claims). */
  readonly write: boolean;
  /** What this writer changed, for people: `sidecarUrl: A -> B`. */
  readonly changes: readonly string[];
}

const FINGERPRINT_OF = 'paddock gc secret fingerprint v1';

/** `hmac-sha256:<base64url>` of a fixed string under `secret`: tells secrets apart, reveals nothing of them. */
export function secretFingerprint(secret: string): string {
  return `hmac-sha256:${createHmac('sha256', secret).update(FINGERPRINT_OF).digest('base64url')}`;
}

/** The first characters of a fingerprint, enough for people to tell two apart. */
export function shortFingerprint(fp: string): string {
  return fp.replace(/^hmac-sha256:/, '').slice(0, 10);
}

export function settingKey(name: string): SettingKey {
  const key = (SETTING_KEYS as readonly string[]).includes(name) ? (name as SettingKey) : ALIASES[name];
  if (!key) throw new UserError('BadRequest', `unknown setting "${name}"; settings are ${SETTING_KEYS.join(', ')} (and gcSecret, set from a file)`);
  return key;
}

export function settingOf(s: Settings, key: SettingKey): string {
  return key === 'sidecarUrl' ? s.sidecarUrl : s.argo[key.slice('argo.'.length) as keyof Settings['argo']];
}

/** `s` with `key` set to `value`, checked: an invalid value is an error naming the key. */
export function withSetting<S extends Settings>(s: S, key: SettingKey, value: string): S {
  const next = key === 'sidecarUrl' ? { ...s, sidecarUrl: value } : { ...s, argo: { ...s.argo, [key.slice('argo.'.length)]: value } };
  const r = SettingsRecordSchema.omit({ gcSecretFingerprint: true }).safeParse({ sidecarUrl: next.sidecarUrl, argo: next.argo });
  if (!r.success) throw new UserError('InvalidConfig', `setting ${key} "${value}": ${r.error.issues[0].message}`);
  return next;
}

/**
 * The settings a writer commits with, given the repo's record (undefined before the first
 * commit). Throws `GcSecretMissing`, `GcSecretMismatch` or `SettingsMismatch`, one line each.
 * With `secret: 'optional'` (`paddock synth`, which commits nothing) a missing secret is no
 * error and the record keeps the repo's fingerprint.
 */
export function decideSettings(recorded: SettingsRecord | undefined, w: WriterSettings, opts: { readonly secret?: 'required' | 'optional' } = {}): SettingsDecision {
  if (!w.gcSecret && opts.secret !== 'optional') {
    const theirs = recorded ? ` (the repo's secret has fingerprint ${shortFingerprint(recorded.gcSecretFingerprint)})` : '';
    throw new UserError('GcSecretMissing', `no GC secret: a commit without it would break every GARBAGE_COLLECTOR_URL${theirs}; set PADDOCK_GC_SECRET or give --gc-secret-file`);
  }
  const fingerprint = w.gcSecret ? secretFingerprint(w.gcSecret) : undefined;
  const change = w.change;
  if (!recorded) {
    let s: Settings = w.defaults;
    for (const [key, claim] of Object.entries(w.claims) as Array<[SettingKey, Claim]>) s = withSetting(s, key, claim.value);
    if (change && change.key !== 'gcSecret') s = withSetting(s, change.key, change.value);
    return { record: { ...s, gcSecretFingerprint: fingerprint ?? '' }, write: true, changes: [] };
  }
  let record = recorded;
  const changes: string[] = [];
  if (change?.key === 'gcSecret') {
    if (secretFingerprint(change.previous) !== recorded.gcSecretFingerprint) {
      throw new UserError('GcSecretMismatch', `the current GC secret (PADDOCK_GC_SECRET or --gc-secret-file) is not the repo's (fingerprint ${shortFingerprint(recorded.gcSecretFingerprint)}): only its holder may rotate it`);
    }
  } else if (change && settingOf(recorded, change.key) !== change.value) {
    record = withSetting(record, change.key, change.value);
    changes.push(`${change.key}: ${settingOf(recorded, change.key)} -> ${change.value}`);
  }
  for (const [key, claim] of Object.entries(w.claims) as Array<[SettingKey, Claim]>) {
    if (key === change?.key) continue;
    const theirs = settingOf(recorded, key);
    if (theirs === claim.value) continue;
    if (!w.adopt) {
      throw new UserError('SettingsMismatch', `${claim.from} "${claim.value}" disagrees with the repo's ${key} "${theirs}" (state/settings.yaml); drop it, or change the repo's with: paddock settings set ${key} ${claim.value}`);
    }
    record = withSetting(record, key, claim.value);
    changes.push(`${key}: ${theirs} -> ${claim.value}`);
  }
  if (fingerprint && fingerprint !== recorded.gcSecretFingerprint) {
    if (!w.adopt && change?.key !== 'gcSecret') {
      throw new UserError('GcSecretMismatch', `the GC secret is not the repo's (fingerprint ${shortFingerprint(fingerprint)}, the repo's ${shortFingerprint(recorded.gcSecretFingerprint)}); use the secret the other writers use, or rotate it with: paddock settings set gcSecret FILE`);
    }
    record = { ...record, gcSecretFingerprint: fingerprint };
    changes.push(`gcSecret: fingerprint ${shortFingerprint(recorded.gcSecretFingerprint)} -> ${shortFingerprint(fingerprint)} (every GC URL changes)`);
  }
  return { record, write: changes.length > 0, changes };
}

/** One `key: value` line per setting, for `paddock settings` (the secret as its fingerprint's prefix). */
export function describeSettings(r: SettingsRecord): string[] {
  return [...SETTING_KEYS.map((k) => `${k}: ${settingOf(r, k)}`), `gcSecret: fingerprint ${shortFingerprint(r.gcSecretFingerprint)}`];
}

/**
 * One writer's settings held against the repo's as it is seen, cycle after cycle: it remembers
 * the last disagreement, which readiness reports and every write is refused with until it is fixed.
 */
export class SettingsGate {
  /** Why this writer may not commit to the repo as last seen, if it may not. */
  problem?: UserError;

  constructor(private readonly writer: WriterSettings) {}

  /** The decision for `recorded`; a disagreement is remembered and thrown. */
  decide(recorded: SettingsRecord | undefined): SettingsDecision {
    try {
      const d = decideSettings(recorded, this.writer);
      this.problem = undefined;
      return d;
    } catch (e) {
      if (e instanceof UserError) this.problem = e;
      throw e;
    }
  }

  /** The repo's settings, or before the first commit the ones this writer would record; never throws. */
  recordFor(recorded: SettingsRecord | undefined): SettingsRecord {
    try {
      return decideSettings(recorded, this.writer).record;
    } catch {
      return recorded ?? { ...this.writer.defaults, gcSecretFingerprint: '' };
    }
  }
}
