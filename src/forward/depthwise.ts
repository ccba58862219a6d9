/**
 * Depthwise convolutions (groups == input channels; a channel multiplier outC / inC of 1 or more)
 * by a direct kernel (shaders/forward/depthwise.wgsl) instead of the grouped GEMM: with one input
 * channel per group the GEMM's reduction is only KH * KW deep and its tiles are mostly padding,
 * while the layer is bound by memory. Each invocation computes a block of one channel from the
 * input rows the block covers, loaded once.
 *
 * Decisions: the block is 4 x 4 outputs (fewer columns where a row's reach would pass the
 * register row of MAX_SX values); the taps of a channel live in registers, so kernels of more than
 * MAX_TAPS taps (past 11 x 11) are not depthwise-eligible and take the GEMM (conv-op.ts says so in
 * the op's method). MAX_TAPS, MAX_SX and MAX_OUT are the WGSL files' MAX_K4 * 4, MAX_SX and
 * MAX_OUT (the transposed kernel holds up to 64 outputs: its blocks are multiples of the stride). The weight layout [outC][ceil(KH * KW / 4) vec4s] is one shared copy per model
 * (key `depthwise taps`), read by the forward op and every relevance op of the layer.
 */
import { GpuError } from '../gpu/errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { ConvLayer, Shape } from '../graph/ir.ts';
import type { SharedBuffer, WeightStore } from '../gpu/weight-store.ts';
import type { ForwardOp } from './op.ts';
import { grid1d } from '../gpu/grid.ts';
import { depthwise } from '../kernels/forward.ts';
import type { InputInfo } from './tensor.ts';

const WG = 64;
/** The kernels' register capacities (MAX_K4 vec4s of taps, MAX_SX values of a row, MAX_OUT outputs). */
const MAX_TAPS = 128;
const MAX_SX = 32;
const MAX_OUT = 16;
const MAX_TRANSPOSED_OUT = 64;

/** Whether a layer is depthwise: one input channel per group. */
export const isDepthwise = (layer: ConvLayer): boolean => layer.groups > 1 && layer.groups === layer.inChannels && layer.outChannels % layer.groups === 0;

/** An output block of PY x PX for reach `k` taps of dilation `d` at stride `s`. */
export interface DepthwiseBlock { readonly PY: number; readonly PX: number }

/** Input values one row of a block spans: (P - 1) * s + (k - 1) * d + 1. */
export const span = (P: number, k: number, s: number, d: number): number => (P - 1) * s + (k - 1) * d + 1;

/**
 * Values of s one row of the transposed pass's window spans for a block of P inputs (P a multiple
 * of the stride s, `phase` the pad's remainder mod s), as shaders/relevance/depthwise_transpose.wgsl
 * computes NX from E0X.
 */
export function transposedSpan(P: number, k: number, s: number, d: number, phase: number): number {
  const e0 = Math.floor((phase + k * d * s - (k - 1) * d) / s);
  return Math.floor((phase + P - 1 + k * d * s) / s) - e0 + 1;
}

/**
 * Why the direct kernels cannot take a depthwise layer (null: they can): too many taps to hold in
 * registers, or a reach so wide that not even the narrowest block's row fits.
 */
export function depthwiseBlocker(layer: ConvLayer): string | null {
  if (!isDepthwise(layer)) return 'not depthwise';
  const taps = layer.kernel[0] * layer.kernel[1];
  if (taps > MAX_TAPS) return `${taps} taps exceed the direct kernels' ${MAX_TAPS}`;
  const [k, s, d] = [layer.kernel[1], layer.stride[1], layer.dilation[1]];
  const row = Math.max(span(1, k, s, d), transposedSpan(s, k, s, d, layer.pads[1] % s));
  if (row > MAX_SX) return `a dilated row of ${row} values exceeds the direct kernels' ${MAX_SX}`;
  const t = transposedBlock(layer);
  if (t.PY * t.PX > MAX_TRANSPOSED_OUT) return `stride ${layer.stride.join('x')} needs a transposed block of ${t.PY * t.PX} inputs, over ${MAX_TRANSPOSED_OUT}`;
  return null;
}

/**
 * The transposed pass's block of inputs: a multiple of the stride along each axis (about 4), so
 * that every tap's place in the window is a constant; narrower where the window's row would not fit.
 */
export function transposedBlock(layer: ConvLayer): DepthwiseBlock {
  const [sh, sw] = layer.stride;
  const PY = sh * Math.max(1, Math.floor(4 / sh));
  let PX = sw * Math.max(1, Math.floor(4 / sw));
  while (PX > sw && transposedSpan(PX, layer.kernel[1], sw, layer.dilation[1], layer.pads[1] % sw) > MAX_SX) PX -= sw;
  return { PY, PX };
}

/** The forward (and denominator) block: 4 x 4, narrower where a row's reach would not fit. */
export function depthwiseBlock(layer: ConvLayer): DepthwiseBlock {
  let PX = 4;
  while (PX > 1 && span(PX, layer.kernel[1], layer.stride[1], layer.dilation[1]) > MAX_SX) PX--;
  return { PY: Math.min(4, Math.floor(MAX_OUT / PX)), PX };
}

/** Weight [outC][1][KH][KW] → [outC][ceil(KH * KW / 4) * 4], zero-padded to whole vec4s. */
export function depthwiseWeightLayout(weight: Float32Array, outC: number, taps: number): Float32Array {
  const k4 = Math.ceil(taps / 4) * 4;
  const data = new Float32Array(outC * k4);
  for (let c = 0; c < outC; c++) data.set(weight.subarray(c * taps, (c + 1) * taps), c * k4);
  return data;
}

/**
 * The layer's taps in depthwiseWeightLayout, or `weight()` (a PatternAttribution product) under
 * `key`, shared through the model's WeightStore.
 */
export function acquireDepthwiseWeight(
  ctx: GpuContext, weights: WeightStore, layer: ConvLayer, what = 'depthwise', key = '', weight: () => Float32Array = () => layer.weight,
): SharedBuffer {
  return weights.acquire(layer.name, `depthwise taps${key}`, () => {
    const data = depthwiseWeightLayout(weight(), layer.outChannels, layer.kernel[0] * layer.kernel[1]);
    if (data.byteLength > ctx.maxBinding) {
      throw new GpuError(`weight of ${data.byteLength} bytes exceeds the ${ctx.maxBinding}-byte binding limit`, 'limits', `${what} for layer '${layer.name}'`);
    }
    return data;
  });
}

/**
 * The kernels read rows of their input as aligned vec4s: the buffer must hold whole ones (the
 * buffer pool's size classes and GpuContext.upload are multiples of 16 bytes).
 */
export function checkVec4(buffer: GPUBuffer, layer: string): void {
  if (buffer.size % 16 !== 0) throw new Error(`internal: layer '${layer}': a depthwise kernel's input buffer of ${buffer.size} bytes is not a whole number of vec4s`);
}

/** The geometry constants every depthwise kernel takes. */
export function depthwiseConstants(layer: ConvLayer, b: DepthwiseBlock) {
  const { kernel, stride, dilation } = layer;
  return { KH: kernel[0], KW: kernel[1], SH: stride[0], SW: stride[1], DH: dilation[0], DW: dilation[1], PY: b.PY, PX: b.PX };
}

export interface DepthwiseOptions {
  readonly weights: WeightStore;
  /** A block instead of depthwiseBlock's (benches, tests). */
  readonly block?: DepthwiseBlock;
}

export async function createDepthwiseConv(
  ctx: GpuContext, layer: ConvLayer, input: InputInfo, outShape: Shape, opts: DepthwiseOptions,
): Promise<ForwardOp> {
  const why = depthwiseBlocker(layer);
  if (why) throw new Error(`layer '${layer.name}': the depthwise kernel cannot run it (${why})`);
  const [inC, inH, inW] = input.shape;
  const [outC, outH, outW] = outShape;
  const b = opts.block ?? depthwiseBlock(layer);
  if (b.PX * b.PY > MAX_OUT || span(b.PX, layer.kernel[1], layer.stride[1], layer.dilation[1]) > MAX_SX) {
    throw new Error(`layer '${layer.name}': depthwise block ${JSON.stringify(b)} does not fit the kernel`);
  }
  const shared = acquireDepthwiseWeight(ctx, opts.weights, layer);
  const bias = ctx.upload(layer.bias, `${layer.name}.bias`);
  try {
    const pipeline = await depthwise.pipeline(ctx, { ...depthwiseConstants(layer, b), WG });
    const blocksX = Math.ceil(outW / b.PX);
    const blocksY = Math.ceil(outH / b.PY);
    const uniforms = depthwise.uniformsByBatch(ctx, layer.name, (batch) => ({
      total: batch * outC * blocksY * blocksX, outC, inC, mult: outC / inC, inH, inW, outH, outW,
      padT: layer.pads[0], padL: layer.pads[1], blocksX, blocksY, reluIn: input.relu ? 1 : 0,
    }));
    const taps = layer.kernel[0] * layer.kernel[1];
    return {
      layer,
      dispatches(batch, [x], out) {
        checkVec4(x.buffer, layer.name);
        const total = batch * outC * blocksY * blocksX;
        return [{
          kernel: 'depthwise', layer: layer.name, pipeline,
          bindings: depthwise.bind({ p: uniforms.get(batch), x: x.buffer, w: shared.buffer, bias, y: out }),
          workgroups: grid1d(total, WG, ctx.limits.maxComputeWorkgroupsPerDimension),
          flops: 2 * batch * outC * outH * outW * taps, bytes: 4 * (batch * (inC * inH * inW + outC * outH * outW) + outC * taps),
        }];
      },
      destroy() {
        shared.release();
        bias.destroy();
        uniforms.destroy();
      },
    };
  } catch (e) {
    shared.release();
    bias.destroy();
    throw e;
  }
}
