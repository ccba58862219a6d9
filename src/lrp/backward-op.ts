import type { Dispatch, GpuContext } from '../gpu/context.ts';
import type { WeightStore } from '../gpu/weight-store.ts';
import type { Layer, Shape } from '../graph/ir.ts';
import type { InputInfo, TensorRef } from '../forward/tensor.ts';
import type { ForwardOptions } from '../forward/op.ts';
import type { LayerRule } from './rule-spec.ts';

/** Buffers one layer's relevance step reads and writes for one batch. */
export interface BackwardIO {
  /** The forward values of the layer's inputs (their `relu` flag says whether to read them through a ReLU). */
  readonly inputs: readonly TensorRef[];
  /** The forward value the layer produced (for a conv or dense layer: z, before any ReLU view). */
  readonly output: TensorRef;
  /** Relevance (or gradient) at the layer's output: N × output shape. */
  readonly relOut: GPUBuffer;
  /** Where relevance at each input goes: N × that input's shape. */
  readonly relIn: readonly GPUBuffer[];
  /** Per input: add into relIn[i] (another consumer of the same value wrote there first). */
  readonly accumulate: readonly boolean[];
  /** A temporary buffer for this layer's dispatches only: later layers' scratch may reuse it (ScratchArena). */
  scratch(bytes: number, label: string): GPUBuffer;
}

/**
 * One layer bound to the kernels of its rule, built once per (model, composite) and reused for
 * every batch. `passes` documents the cost, e.g. "1 forward conv (W+) + 1 transposed conv".
 */
export interface BackwardOp {
  readonly layer: Layer;
  readonly passes: string;
  /**
   * Bytes per sample of the largest scratch buffer one of its kernels binds whole (alpha-beta's
   * two s slices: twice the layer's output), which caps the batch a binding holds; 0 or absent
   * for ops whose bindings are the activations and relevance of one value.
   */
  readonly scratchPerSample?: number;
  dispatches(batch: number, io: BackwardIO): Dispatch[];
  destroy(): void;
}

export interface BackwardOpContext {
  readonly ctx: GpuContext;
  /** The forward model's shared weight copies: ops acquire the layouts they read here. */
  readonly weights: WeightStore;
  readonly layer: Layer;
  readonly rule: LayerRule | null;
  readonly inputs: readonly InputInfo[];
  /**
   * Per input: whether the op adds into relIn (another consumer of the value wrote there first),
   * known from the graph when the plan is built, so ops compile only the variant they run;
   * BackwardIO.accumulate must agree.
   */
  readonly accumulate: readonly boolean[];
  /** Per input: known to be >= 0 (read through a ReLU, or pooled from such values). */
  readonly nonneg: readonly boolean[];
  readonly output: InputInfo;
  readonly outShape: Shape;
  /** The forward model's options: its conv mode picks Winograd for relevance passes too. */
  readonly forwardOptions?: ForwardOptions;
}

/** Throws when the executor binds a value read differently from what the op was built for. */
export function checkReluView(layer: Layer, built: readonly InputInfo[], io: BackwardIO): void {
  io.inputs.forEach((t, i) => {
    if (built[i] && t.relu !== built[i].relu) {
      throw new Error(`${layer.name}: backward op built for input ${i} ${built[i].relu ? 'as' : 'not as'} a ReLU view, bound ${t.relu ? 'as' : 'not as'} one`);
    }
  });
}

/** An op compiled for each input's accumulation mode (BackwardOpContext.accumulate) must run in it. */
export function checkAccumulate(c: BackwardOpContext, io: BackwardIO): void {
  io.accumulate.forEach((acc, k) => {
    if (acc !== (c.accumulate[k] ?? false)) {
      throw new Error(`internal: layer '${c.layer.name}' was built to ${c.accumulate[k] ? 'add into' : 'overwrite'} input ${k}'s relevance`);
    }
  });
}
