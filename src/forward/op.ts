import type { Dispatch, GpuContext } from '../gpu/context.ts';
import type { Layer, Shape } from '../graph/ir.ts';
import type { WeightStore } from '../gpu/weight-store.ts';
import type { InputInfo, TensorRef } from './tensor.ts';
import type { ConvMode, WinogradTile } from './winograd.ts';

/** A layer bound to its kernels, with its weights on the GPU: built once per model. */
export interface ForwardOp {
  readonly layer: Layer;
  /** How the op computes its layer where a kind has several ways (a convolution: `direct` or `winograd F(2,3)`, with why). */
  readonly method?: string;
  /** The dispatches computing this layer for one batch into `out`. */
  dispatches(batch: number, inputs: readonly TensorRef[], out: GPUBuffer, scratch: Scratch): Dispatch[];
  destroy(): void;
}

/**
 * Working memory for one layer's dispatches (the pass's ScratchArena): once the layer's
 * dispatches are recorded a later layer's scratch may reuse it, which is safe because WebGPU runs
 * the dispatches of a queue in order.
 */
export type Scratch = (bytes: number, label: string) => GPUBuffer;

/** How a model's forward ops are built (ForwardModel.create). */
export interface ForwardOptions {
  /** Convolution algorithm: `auto` (the default) picks per layer (src/forward/winograd.ts). */
  readonly conv?: ConvMode;
  /** Winograd's output tile wherever Winograd runs, instead of the mode's (benchmarks, tests). */
  readonly winogradTile?: WinogradTile;
}

/** Builds a layer's op; `weights` is the model's store of shared weight copies. */
export type ForwardOpFactory<L extends Layer = Layer> = (
  ctx: GpuContext, layer: L, inputs: readonly InputInfo[], outShape: Shape, weights: WeightStore, options: ForwardOptions,
) => Promise<ForwardOp>;
