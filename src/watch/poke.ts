/**
 * The sidecar's side of the watcher's `POST /follow` (http.ts): "I pushed". Kept apart from the
 * watcher's server so a writer that only pokes does not load an HTTP server.
 */

/**
 * After a push, tells the watcher at `watcherUrl` to look (fire and forget: a watcher that is
 * down only means Argo CD hears of the commit at the watcher's next own fetch).
 */
export function pokeWatcher(watcherUrl: string, onError?: (e: unknown) => void): void {
  fetch(`${watcherUrl.replace(/\/+$/, '')}/follow`, { method: 'POST', signal: AbortSignal.timeout(10_000) })
    .then((r) => r.body?.cancel())
    .catch((e) => onError?.(e));
}
