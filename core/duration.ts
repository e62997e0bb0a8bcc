/** Durations as people write them in definitions and flags: `90s`, `30m`, `2h`, `1d`, `1h30m`. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;

/** Milliseconds in `text`, or undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (!s) return undefined;
  let total = 0;
  let at = 0;
  while (at < s.length) {
    PART.lastIndex = at;
    const m = PART.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
    at = PART.lastIndex;
  }
  return total > 0 ? Math.round(total) : undefined;
}

/** Short human form of a duration for tables: `2h05m`, `3d4h`, `45s`. */
export function formatDuration(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${sign}${d}d${h}h`;
  if (h) return `${sign}${h}h${String(m).padStart(2, '0')}m`;
  if (m) return `${sign}${m}m${String(s).padStart(2, '0')}s`;
  return `${sign}${s}s`;
}
