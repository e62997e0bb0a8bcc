/**
 * Git repository URLs, as every part of paddock reads them: the manifests repo of a writer, the
 * repos a `PaddockControlPlane` names, and the URL Argo CD reads the repo by.
 */

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/** scp-like `user@host:path`. */
const SCP_LIKE = /^[^/:\s]+@[^/:\s]+:/;

/** An http(s) URL with a host and no spaces, such as the sidecar's or the watcher's. */
export const HTTP_URL = /^https?:\/\/[^\s/]+(\/\S*)?$/;

/** A URL git reaches over the network (`scheme://...` or `user@host:path`), not a local path. */
export function isRemoteUrl(url: string): boolean {
  return SCHEME.test(url) || SCP_LIKE.test(url);
}

/** An SSH URL: `ssh://` (or `git+ssh://`, `ssh+git://`), or scp-like `user@host:path`. */
export function isSshUrl(url: string): boolean {
  return /^(ssh|git\+ssh|ssh\+git):\/\//i.test(url) || SCP_LIKE.test(url);
}

/** `scheme://user:password@...`: a URL carrying a password or token. */
export function hasPassword(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(url);
}

/**
 * `url` without a user name or password: what Argo CD reads the repo by and what may be logged.
 * Argo CD takes credentials from its own repository Secret, matched by URL; a token in the
 * URL would otherwise be written into every Application. scp-style `git@host:path` is kept.
 */
export function withoutCredentials(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^@/]*@)(.*)$/i.exec(url);
  if (!m) return url;
  const user = m[2].slice(0, -1);
  // ssh://git@host keeps its user: it names the account, it is no secret.
  return /^ssh:/i.test(m[1]) && !user.includes(':') ? url : m[1] + m[3];
}
