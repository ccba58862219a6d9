/**
 * Paths named inside a file (a patterns.json `file` entry, an ONNX tensor's external-data
 * location, an image id of a VOC ImageSets list) are resolved here, relative to the folder the
 * file speaks for, and refused when they leave it: an absolute path, `..` that climbs out, or (for
 * files of one tool-written folder) a symlink whose target lies outside. Errors name the file, the
 * entry and the folder.
 *
 * Binary files are read through `readRegularFile`: only a regular file (not a folder, device,
 * FIFO or socket, whichever a symlink points to), only up to the size it may have, and only the
 * bytes its size said it had when opened, so a symlink to /dev/zero, a FIFO or a file that keeps
 * growing cannot make a reader loop or block.
 *
 * Decided here: dataset ids (ImageSets) are checked by name only (`links: 'any'`): a dataset
 * assembled from symlinks to a store elsewhere is a normal setup, while its ids must still be
 * plain names that stay in their folder.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync, existsSync, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep, win32 } from 'node:path';

export interface NamedIn {
  /** The file that names the path, for messages. */
  readonly file: string;
  /** What the entry is, e.g. "the pattern file of node 'conv1'". */
  readonly what: string;
}

const leaves = (rel: string) => rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);

/**
 * The absolute path of `entry` inside `folder`; throws naming `named.file` and the entry when it
 * is absolute, climbs out with `..`, or (links 'inside', the default) exists as a symlink (or
 * under one) whose target lies outside the folder.
 */
export function resolveInside(folder: string, entry: string, named: NamedIn, opts: { links?: 'inside' | 'any' } = {}): string {
  const where = `${named.file}: ${named.what} ${JSON.stringify(entry)}`;
  if (typeof entry !== 'string' || entry === '') throw new Error(`${named.file}: ${named.what} is ${JSON.stringify(entry)}, not a file name`);
  if (entry.includes('\0')) throw new Error(`${where} holds a NUL character`);
  if (isAbsolute(entry) || win32.isAbsolute(entry)) throw new Error(`${where} is an absolute path; it must name a file inside ${folder}`);
  const base = resolve(folder);
  const path = resolve(base, entry);
  if (leaves(relative(base, path))) throw new Error(`${where} lies outside ${folder}`);
  if ((opts.links ?? 'inside') === 'inside' && existsSync(path) && existsSync(base)) {
    const real = realpathSync(path);
    if (leaves(relative(realpathSync(base), real))) throw new Error(`${where} is a link to ${real}, outside ${folder}`);
  }
  return path;
}

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The bytes of the regular file `path`, at most `maxBytes` of them; throws naming the file and
 * `what` (e.g. "pattern file") when it is not a regular file, is larger, or ends early.
 */
export function readRegularFile(path: string, what: string, maxBytes = Number.MAX_SAFE_INTEGER): Uint8Array {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read the ${what}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new Error(`${path}: the ${what} is ${kindOf(st)}, not a regular file`);
  // O_NONBLOCK: should the path become a FIFO between the check and the open, the open does not wait.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const f = fstatSync(fd);
    if (!f.isFile()) throw new Error(`${path}: the ${what} is ${kindOf(f)}, not a regular file`);
    if (f.size > maxBytes) throw new Error(`${path}: the ${what} has ${f.size} bytes, more than the ${maxBytes} it can have`);
    const out = new Uint8Array(f.size);
    let done = 0;
    while (done < out.length) {
      const got = readSync(fd, out, done, out.length - done, done);
      if (got === 0) throw new Error(`${path}: the ${what} ended after ${done} of its ${f.size} bytes (was it changed while read?)`);
      done += got;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** readRegularFile without blocking the thread (image decoding in the preparation workers). */
export async function readRegularFileAsync(path: string, what: string, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Uint8Array> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (e) {
    throw new Error(`${path}: cannot read the ${what}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new Error(`${path}: the ${what} is ${kindOf(st)}, not a regular file`);
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const f = await handle.stat();
    if (!f.isFile()) throw new Error(`${path}: the ${what} is ${kindOf(f)}, not a regular file`);
    if (f.size > maxBytes) throw new Error(`${path}: the ${what} has ${f.size} bytes, more than the ${maxBytes} it can have`);
    const out = new Uint8Array(f.size);
    let done = 0;
    while (done < out.length) {
      const { bytesRead } = await handle.read(out, done, out.length - done, done);
      if (bytesRead === 0) throw new Error(`${path}: the ${what} ended after ${done} of its ${f.size} bytes (was it changed while read?)`);
      done += bytesRead;
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** An open descriptor of the regular file `path` (see readRegularFile), for readers that read it in parts. */
export function openRegularFile(path: string, what: string): number {
  const st = statSync(path);
  if (!st.isFile()) throw new Error(`${path}: the ${what} is ${kindOf(st)}, not a regular file`);
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new Error(`${path}: the ${what} is not a regular file`);
  }
  return fd;
}
