/**
 * Whole-or-absent file writes, shared by every writer of run state (eval records' sidecars,
 * reports, pattern files, checkpoints): a crash leaves the old file or the new one, never a mix.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { fileError } from './file-errors.ts';

/** Writes a whole file through a temporary file and rename; on failure the temporary file is removed. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // not created, or renamed already
    }
    throw fileError(path, 'write', e);
  }
}
