/**
 * Element-wise backward steps (shaders/relevance/elementwise_backward.wgsl): the pass rule of
 * views (ReLU, LRN, Flatten, Identity), the ReLU's gradient and guided-backprop masks, the split of
 * a channel concatenation, and two helpers for the executor: `add` (a value with several consumers
 * sums their relevance) and `timesInput` (gradient-x-input at the input layer).
 */
import type { Dispatch, GpuContext } from '../../gpu/context.ts';
import { grid1d } from '../../gpu/grid.ts';
import { elementwiseBackward as kernel } from '../../kernels/relevance.ts';
import { numel } from '../../graph/ir.ts';
import type { InputInfo, TensorRef } from '../../forward/tensor.ts';
import { checkReluView, type BackwardOp, type BackwardOpContext } from '../backward-op.ts';

const WG = 64;

/** Modes of elementwise_backward.wgsl. */
export const ElementwiseMode = { Copy: 0, ReluGradient: 1, Guided: 2, ConcatSplit: 3, TimesInput: 4 } as const;

/** Uniforms of the modes that read only `total` (all but ConcatSplit). */
const flat = (total: number) => ({ total, channels: 0, plane: 0, outChannels: 0, offset: 0 });

/** A backward op that passes relevance through unchanged; the executor may alias relIn to relOut instead. */
export interface PassThroughOp extends BackwardOp {
  readonly passThrough: true;
}

export function isPassThrough(op: BackwardOp): op is PassThroughOp {
  return (op as Partial<PassThroughOp>).passThrough === true;
}

/**
 * The pass rule (ReLU and LRN `pass`, Flatten, Identity/Dropout): relevance goes through unchanged
 * (Flatten is a view on NCHW-contiguous memory, so no index mapping is needed). Ideally no
 * dispatch at all: when the executor aliases relIn[0] to relOut and does not accumulate,
 * `dispatches` returns none; otherwise it copies, or adds when accumulating.
 */
export async function createPassBackward(c: BackwardOpContext): Promise<PassThroughOp> {
  const { ctx, layer } = c;
  const count = numel(c.outShape);
  const pipes = await kernel.pipelinePair(ctx, { MODE: ElementwiseMode.Copy, WG });
  const uniforms = kernel.uniformsByBatch(ctx, `${layer.name} pass`, (batch) => flat(batch * count));
  return {
    layer,
    passThrough: true,
    passes: 'none when relIn aliases relOut; else 1 element-wise copy (or add when accumulating)',
    dispatches(batch, io) {
      const acc = io.accumulate[0] ?? false;
      if (io.relIn[0] === io.relOut && !acc) return [];
      if (io.relIn[0] === io.relOut) throw new Error(`${layer.name}: cannot accumulate relevance into its own upper relevance buffer`);
      const total = batch * count;
      return [{
        kernel: acc ? 'relevance-add' : 'relevance-copy', layer: layer.name, pipeline: pipes.pick(acc),
        bindings: kernel.bind({ p: uniforms.get(batch), relOut: io.relOut, x: io.relOut, relIn: io.relIn[0] }),
        workgroups: grid1d(total, WG), flops: acc ? total : 0, bytes: 4 * total * (acc ? 3 : 2),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
}

/** ReLU: `pass` (LRP), `gradient` (relOut * [x > 0]) or `guided` (relOut * [x > 0] * [relOut > 0]). */
export async function createReluBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx, layer } = c;
  if (layer.kind !== 'relu') throw new Error(`${layer.name}: createReluBackward needs a relu layer, got ${layer.kind}`);
  const rule = c.rule ?? { rule: 'pass' };
  if (rule.rule === 'pass') return createPassBackward(c);
  if (rule.rule !== 'gradient' && rule.rule !== 'guided') throw new Error(`${layer.name}: rule '${rule.rule}' does not apply to a ReLU`);
  const mode = rule.rule === 'gradient' ? ElementwiseMode.ReluGradient : ElementwiseMode.Guided;
  const count = numel(c.outShape);
  const pipes = await kernel.pipelinePair(ctx, { MODE: mode, RELU_IN: c.inputs[0].relu, WG });
  const uniforms = kernel.uniformsByBatch(ctx, `${layer.name} ${rule.rule}`, (batch) => flat(batch * count));
  return {
    layer,
    passes: `1 element-wise mask over the input (${rule.rule === 'gradient' ? '[x > 0]' : '[x > 0][g > 0]'})`,
    dispatches(batch, io) {
      checkReluView(layer, c.inputs, io);
      const acc = io.accumulate[0] ?? false;
      const total = batch * count;
      return [{
        kernel: rule.rule === 'gradient' ? 'relu-gradient' : 'relu-guided', layer: layer.name, pipeline: pipes.pick(acc),
        bindings: kernel.bind({ p: uniforms.get(batch), relOut: io.relOut, x: io.inputs[0].buffer, relIn: io.relIn[0] }),
        workgroups: grid1d(total, WG), flops: total, bytes: 4 * total * (acc ? 4 : 3),
      }];
    },
    destroy: () => uniforms.destroy(),
  };
}

/** Channel concatenation: each input's relevance is its channel slice of relOut (one copy per input). */
export async function createConcatBackward(c: BackwardOpContext): Promise<BackwardOp> {
  const { ctx, layer } = c;
  if (layer.kind !== 'concat') throw new Error(`${layer.name}: createConcatBackward needs a concat layer, got ${layer.kind}`);
  const outC = c.outShape[0];
  const plane = numel(c.outShape) / outC;
  const pipes = await kernel.pipelinePair(ctx, { MODE: ElementwiseMode.ConcatSplit, WG });
  let offset = 0;
  const parts = c.inputs.map((input, i) => {
    const ch = input.shape[0];
    const off = offset;
    offset += ch;
    return {
      ch,
      uniforms: kernel.uniformsByBatch(ctx, `${layer.name} split #${i}`, (batch) => ({
        total: batch * ch * plane, channels: ch, plane, outChannels: outC, offset: off,
      })),
    };
  });
  if (offset !== outC) throw new Error(`${layer.name}: inputs hold ${offset} channels, the output ${outC}`);
  return {
    layer,
    passes: `${parts.length} slice copies, one per input`,
    dispatches(batch, io) {
      return parts.map((part, i): Dispatch => {
        const acc = io.accumulate[i] ?? false;
        const total = batch * part.ch * plane;
        return {
          kernel: 'concat-split', layer: layer.name, pipeline: pipes.pick(acc),
          bindings: kernel.bind({ p: part.uniforms.get(batch), relOut: io.relOut, x: io.relOut, relIn: io.relIn[i] }),
          workgroups: grid1d(total, WG), flops: acc ? total : 0, bytes: 4 * total * (acc ? 3 : 2),
        };
      });
    },
    destroy: () => parts.forEach((p) => p.uniforms.destroy()),
  };
}

/** `dst += src` (or `dst = src`) over `count` floats: fan-out sums, or a copy where aliasing cannot serve. */
export interface AddKernel {
  dispatch(count: number, src: GPUBuffer, dst: GPUBuffer, opts?: { accumulate?: boolean; layer?: string }): Dispatch;
  destroy(): void;
}

export async function createAdd(ctx: GpuContext): Promise<AddKernel> {
  const pipes = await kernel.pipelinePair(ctx, { MODE: ElementwiseMode.Copy, WG });
  // Keyed by element count rather than batch: one uniform per distinct size.
  const uniforms = kernel.uniformsByBatch(ctx, 'relevance add', flat);
  return {
    dispatch(count, src, dst, opts = {}) {
      if (src === dst) throw new Error('relevance add: source and destination are the same buffer');
      const acc = opts.accumulate ?? true;
      return {
        kernel: acc ? 'relevance-add' : 'relevance-copy', layer: opts.layer ?? '(relevance)', pipeline: pipes.pick(acc),
        bindings: kernel.bind({ p: uniforms.get(count), relOut: src, x: src, relIn: dst }),
        workgroups: grid1d(count, WG), flops: acc ? count : 0, bytes: 4 * count * (acc ? 3 : 2),
      };
    },
    destroy: () => uniforms.destroy(),
  };
}

/** `out = grad * x` (or `out += ...`): gradient-x-input, x the input value (possibly a ReLU view). */
export interface TimesInputKernel {
  /** `out` must not be `grad` (a read-only and a writable binding of one buffer in one dispatch). */
  dispatch(batch: number, x: TensorRef, grad: GPUBuffer, out: GPUBuffer, opts?: { accumulate?: boolean; layer?: string }): Dispatch;
  destroy(): void;
}

export async function createTimesInput(ctx: GpuContext, input: InputInfo): Promise<TimesInputKernel> {
  const count = numel(input.shape);
  const pipes = await kernel.pipelinePair(ctx, { MODE: ElementwiseMode.TimesInput, RELU_IN: input.relu, WG });
  const uniforms = kernel.uniformsByBatch(ctx, 'gradient x input', (batch) => flat(batch * count));
  return {
    dispatch(batch, x, grad, out, opts = {}) {
      if (x.relu !== input.relu) throw new Error(`times-input: built for ${input.relu ? 'a' : 'no'} ReLU view, bound ${x.relu ? 'one' : 'none'}`);
      if (grad === out) throw new Error('times-input: the output buffer must differ from the gradient buffer');
      const acc = opts.accumulate ?? false;
      const total = batch * count;
      return {
        kernel: 'times-input', layer: opts.layer ?? '(input)', pipeline: pipes.pick(acc),
        bindings: kernel.bind({ p: uniforms.get(batch), relOut: grad, x: x.buffer, relIn: out }),
        workgroups: grid1d(total, WG), flops: total * (acc ? 2 : 1), bytes: 4 * total * (acc ? 4 : 3),
      };
    },
    destroy: () => uniforms.destroy(),
  };
}
