/** `.npy` files on disk, on top of the byte-level codec in ../io/npy.ts. */
import { readFile, writeFile } from 'node:fs/promises';
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
  const bytes = encodeNpy(shape, data);
  try {
    await writeFile(path, bytes);
  } catch (e) {
    throw new Error(`${path}: cannot write .npy: ${(e as Error).message}`);
  }
}
