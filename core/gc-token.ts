/**
 * GC tokens: the capability in each container's `GARBAGE_COLLECTOR_URL`.
 *
 * token = base64url(HMAC-SHA256(secret, "paddock-gc:" + group)). Each group's URL differs, and
 * nobody without the sidecar's secret can make one for another group.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The token used when synthesizing without a GC secret (`paddock synth` in CI). The sidecar never accepts it. */
export const UNSIGNED_TOKEN = 'unsigned';
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function gcToken(secret: string | undefined, group: string): string {
  if (!secret) return UNSIGNED_TOKEN;
  return createHmac('sha256', secret).update(`paddock-gc:${group}`).digest('base64url');
}

export function gcUrl(sidecarUrl: string, secret: string | undefined, group: string): string {
  return `${sidecarUrl.replace(/\/+$/, '')}/gc/${gcToken(secret, group)}`;
}

/** True when `token` has the shape of a real token (43 base64url characters). */
export function isTokenShaped(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

/** Constant-time check that `token` is the one for `group`. */
export function tokenMatches(secret: string, group: string, token: string): boolean {
  if (!isTokenShaped(token)) return false;
  const want = Buffer.from(gcToken(secret, group));
  const got = Buffer.from(token);
  return want.length === got.length && timingSafeEqual(want, got);
}
