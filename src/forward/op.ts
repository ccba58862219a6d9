import type { Dispatch, GpuContext } from '../gpu/context.ts';
import type { Layer, Shape } from '../graph/ir.ts';
import type { InputInfo, TensorRef } from './tensor.ts';

/** A layer bound to its kernels, with its weights on the GPU: built once per model. */
export interface ForwardOp {
  readonly layer: Layer;
  /** The dispatches computing this layer for one batch into `out`. */
  dispatches(batch: number, inputs: readonly TensorRef[], out: GPUBuffer, scratch: Scratch): Dispatch[];
  destroy(): void;
}

/**
 * Working memory for one layer's dispatches, from the buffer pool. It goes back to the pool as
 * soon as the layer's dispatches are recorded: a later dispatch of the same submission may reuse
 * it, which is safe because WebGPU runs the dispatches of a queue in order.
 */
export type Scratch = (bytes: number, label: string) => GPUBuffer;

export type ForwardOpFactory<L extends Layer = Layer> = (
  ctx: GpuContext, layer: L, inputs: readonly InputInfo[], outShape: Shape,
) => Promise<ForwardOp>;
