import type { Shape } from '../graph/ir.ts';

/**
 * A value on the GPU: a batch of NCHW float32 data. `relu` marks a ReLU view: the memory holds
 * the pre-activation and readers apply max(x, 0) as they load, so a ReLU costs no pass and the
 * linear layer's output z stays available to the relevance rules.
 */
export interface TensorRef {
  readonly buffer: GPUBuffer;
  readonly shape: Shape;
  readonly relu: boolean;
}

/** What an op needs to know of its inputs before any batch runs. */
export interface InputInfo {
  readonly shape: Shape;
  readonly relu: boolean;
}
