/** A file's SHA-256 (hex) and size, read in chunks so large models do not sit in memory twice. */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';

export function fileSha256(path: string): { sha256: string; bytes: number } {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(1 << 22);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
  } catch (e) {
    throw new Error(`${path}: cannot read it to hash it (${(e as Error).message})`);
  } finally {
    closeSync(fd);
  }
  if (bytes !== statSync(path).size) throw new Error(`${path}: changed while it was being hashed`);
  return { sha256: hash.digest('hex'), bytes };
}
