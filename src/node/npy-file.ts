/** `.npy` files on disk, on top of the byte-level codec in ../io/npy.ts. */
import { readFile } from 'node:fs/promises';
import { writeFileNamedAsync } from './file-errors.ts';
import { encodeNpy, parseNpy, type NpyArray } from '../io/npy.ts';

export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`${path}: cannot read .npy: ${(e as Error).message}`);
  }
  return parseNpy(bytes, path);
}

export async function writeNpy(path: string, shape: readonly number[], data: Float32Array | Float64Array): Promise<void> {
  await writeFileNamedAsync(path, encodeNpy(shape, data));
}
