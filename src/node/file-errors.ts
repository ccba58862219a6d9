/**
 * File errors that name the file. Node's own messages leave the path out of write, fsync, close
 * and rename errors ("ENOSPC: no space left on device, write"); every writer in src/node goes
 * through these, so a full disk or a read-only folder names what could not be written.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';

/** An Error naming `path` and what was being done; a full disk says that what was written before is kept. */
export function fileError(path: string, doing: string, e: unknown): Error {
  const err = e as NodeJS.ErrnoException;
  const msg = err?.message ?? String(e);
  if (msg.startsWith(`${path}: `)) return err;
  const full = err?.code === 'ENOSPC' || err?.code === 'EDQUOT';
  const hint = full ? ' (the disk is full: what was written before is kept; free space, then run the command again, with --resume for lrp eval)'
    : err?.code === 'EISDIR' ? ' (a folder is there, not a file)' : '';
  return new Error(`${path}: cannot ${doing}: ${msg}${hint}`);
}

/** A file's text (or bytes, with `encoding` null); errors name the file and what was being done. */
export function readFileNamed(path: string, doing: string): string;
export function readFileNamed(path: string, doing: string, encoding: null): Buffer;
export function readFileNamed(path: string, doing: string, encoding: 'utf8' | null = 'utf8'): string | Buffer {
  try {
    return encoding === null ? readFileSync(path) : readFileSync(path, encoding);
  } catch (e) {
    throw fileError(path, doing, e);
  }
}

export function writeFileNamed(path: string, data: string | Uint8Array): void {
  try {
    writeFileSync(path, data);
  } catch (e) {
    throw fileError(path, 'write', e);
  }
}

export async function writeFileNamedAsync(path: string, data: string | Uint8Array): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (e) {
    throw fileError(path, 'write', e);
  }
}
