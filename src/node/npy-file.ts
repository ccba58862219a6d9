/** `.npy` files on disk, on top of the byte-level codec in ../io/npy.ts. */
import { readRegularFile } from './contained-path.ts';
import { writeFileNamedAsync } from './file-errors.ts';
import { encodeNpy, parseNpy, type NpyArray } from '../io/npy.ts';

/** An .npy file: a regular file, read within the size it had when opened (contained-path.ts). */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = readRegularFile(path, '.npy file');
  } catch (e) {
    const m = (e as Error).message;
    throw new Error(m.startsWith(`${path}: `) ? m : `${path}: cannot read .npy: ${m}`);
  }
  return parseNpy(bytes, path);
}

export async function writeNpy(path: string, shape: readonly number[], data: Float32Array | Float64Array): Promise<void> {
  await writeFileNamedAsync(path, encodeNpy(shape, data));
}
