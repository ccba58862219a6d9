import type { Dispatch, GpuContext } from '../gpu/context.ts';
import type { Layer, Shape } from '../graph/ir.ts';
import type { WeightStore } from '../gpu/weight-store.ts';
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

/** Builds a layer's op; `weights` is the model's store of shared weight copies. */
export type ForwardOpFactory<L extends Layer = Layer> = (
  ctx: GpuContext, layer: L, inputs: readonly InputInfo[], outShape: Shape, weights: WeightStore,
) => Promise<ForwardOp>;

/** The bit pattern of an f32, for f32 fields of a uniform struct written as u32 words. */
export function f32bits(v: number): number {
  const b = new Float32Array([v]);
  return new Uint32Array(b.buffer)[0];
}

/**
 * Uniform buffers keyed by batch size: shapes depend on the batch only, so each op writes its
 * parameters once per batch size, not once per call.
 */
export class UniformsByBatch {
  private readonly byBatch = new Map<number, GPUBuffer>();

  constructor(private readonly ctx: GpuContext, private readonly label: string, private readonly make: (batch: number) => ArrayLike<number>) {}

  get(batch: number): GPUBuffer {
    let u = this.byBatch.get(batch);
    if (!u) {
      u = this.ctx.uniform(this.make(batch), `${this.label} params (batch ${batch})`);
      this.byBatch.set(batch, u);
    }
    return u;
  }

  destroy(): void {
    for (const u of this.byBatch.values()) u.destroy();
    this.byBatch.clear();
  }
}
