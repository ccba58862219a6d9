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

/** Refuses anything but a regular file, naming it and `what` it was to be. */
function checkRegular(path: string, what: string, st: Stats): void {
  if (!st.isFile()) throw new Error(`${path}: the ${what} is ${kindOf(st)}, not a regular file`);
}

function cannotRead(path: string, what: string, e: unknown): Error {
  return new Error(`${path}: cannot read the ${what}: ${(e as Error).message}`);
}

/** The buffer for an opened file of `size` bytes, refused when over `maxBytes`. */
function bufferFor(path: string, what: string, size: number, maxBytes: number): Uint8Array {
  if (size > maxBytes) throw new Error(`${path}: the ${what} has ${size} bytes, more than the ${maxBytes} it can have`);
  return new Uint8Array(size);
}

function endedEarly(path: string, what: string, done: number, size: number): Error {
  return new Error(`${path}: the ${what} ended after ${done} of its ${size} bytes (was it changed while read?)`);
}

// O_NONBLOCK: should the path become a FIFO between the check and the open, the open does not wait.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/**
 * The bytes of the regular file `path`, at most `maxBytes` of them; throws naming the file and
 * `what` (e.g. "pattern file") when it is not a regular file, is larger, or ends early.
 */
export function readRegularFile(path: string, what: string, maxBytes = Number.MAX_SAFE_INTEGER): Uint8Array {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    throw cannotRead(path, what, e);
  }
  checkRegular(path, what, st);
  const fd = openSync(path, OPEN_FLAGS);
  try {
    const f = fstatSync(fd);
    checkRegular(path, what, f);
    const out = bufferFor(path, what, f.size, maxBytes);
    for (let done = 0, got; done < out.length; done += got) {
      got = readSync(fd, out, done, out.length - done, done);
      if (got === 0) throw endedEarly(path, what, done, f.size);
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
    throw cannotRead(path, what, e);
  }
  checkRegular(path, what, st);
  const handle = await open(path, OPEN_FLAGS);
  try {
    const f = await handle.stat();
    checkRegular(path, what, f);
    const out = bufferFor(path, what, f.size, maxBytes);
    for (let done = 0, got; done < out.length; done += got) {
      got = (await handle.read(out, done, out.length - done, done)).bytesRead;
      if (got === 0) throw endedEarly(path, what, done, f.size);
    }
    return out;
  } finally {
    await handle.close();
  }
}

/** An open descriptor of the regular file `path` (see readRegularFile), for readers that read it in parts. */
export function openRegularFile(path: string, what: string): number {
  checkRegular(path, what, statSync(path));
  const fd = openSync(path, OPEN_FLAGS);
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new Error(`${path}: the ${what} is not a regular file`);
  }
  return fd;
}
