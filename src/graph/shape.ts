import type { Pads4, Pair, Shape } from './ir.ts';

/**
 * Output length of a sliding window along one axis, ONNX/PyTorch convention. With `ceil`, a last
 * window that would start inside the end padding is dropped, as PyTorch and onnxruntime do.
 */
export function windowOutput(
  size: number, kernel: number, stride: number, padBegin: number, padEnd: number,
  dilation: number, ceil: boolean,
): number {
  const span = dilation * (kernel - 1) + 1;
  const room = size + padBegin + padEnd - span;
  if (room < 0) return 0;
  let out = (ceil ? Math.ceil(room / stride) : Math.floor(room / stride)) + 1;
  if (ceil && (out - 1) * stride >= size + padBegin) out -= 1;
  return out;
}

export function windowOutputHW(
  input: Shape, kernel: Pair, stride: Pair, pads: Pads4, dilation: Pair, ceil: boolean,
): [number, number] {
  const [, h, w] = input;
  return [
    windowOutput(h, kernel[0], stride[0], pads[0], pads[2], dilation[0], ceil),
    windowOutput(w, kernel[1], stride[1], pads[1], pads[3], dilation[1], ceil),
  ];
}
