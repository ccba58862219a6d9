/** Tensors as NumPy `.npy` bytes (float32, float64 and integer arrays read; float32 written). */
import { encodeNpy, npyToFloat32, parseNpy } from '../io/npy.ts';
import type { Tensor } from './input.ts';
import { argumentError, requireTensor } from '../io/arguments.ts';

/** A `.npy` file's bytes as a float32 tensor; `source` names it in errors. */
export function npyToTensor(bytes: Uint8Array, source = 'npy'): Tensor {
  if (!(bytes instanceof Uint8Array)) throw argumentError('npyToTensor', 'bytes', 'the bytes of a .npy file (a Uint8Array)', bytes);
  const arr = parseNpy(bytes, source);
  return { data: npyToFloat32(arr), shape: arr.shape };
}

/** A tensor as `.npy` bytes (float32, C order), which `numpy.load` reads. */
export function tensorToNpy(tensor: Tensor): Uint8Array {
  requireTensor('tensorToNpy', 'tensor', tensor);
  return encodeNpy(tensor.shape, tensor.data);
}
