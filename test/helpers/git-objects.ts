/** Loose objects for tests of git's housekeeping (`gc --auto` estimates them from `objects/17/` alone). */
import { createHash } from 'node:crypto';

/** `n` texts whose blob ids start with `prefix`. */
export function blobsHashedUnder(prefix: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const text = `seed ${i}\n`;
    if (createHash('sha1').update(`blob ${Buffer.byteLength(text)}\0${text}`).digest('hex').startsWith(prefix)) out.push(text);
  }
  return out;
}
