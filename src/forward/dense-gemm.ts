/**
 * A dense layer over many rows (a transformer's tokens, ConvNeXt's channels-last MLP) as the
 * convolution GEMM: rows [R][inF] row-major are R samples of an [inF, 1, 1] image in NCHW, and
 * the output [R][outF] is R samples of [outF, 1, 1], so the layer is a 1x1 convolution over a
 * batch of R with the weight as it lies ([outF][inF] is [outC][inC][1][1]). No layout flag and no
 * new kernel: the tiled implicit GEMM (shaders/forward/conv2d.wgsl, its subgroups variant, and
 * for relevance conv_stab and conv_transpose) runs it with their tile choice.
 *
 * Decisions: the path is chosen per layer from its rows per sample (the product of the input's
 * leading axes), not per batch, so one weight layout is held per layer: the few-row kernels
 * (dense.wgsl, dense_stab, dense_transpose) keep the classifier head, where every weight is read
 * once per sample and a GEMM tile of 64 to 128 rows would mostly idle (bench/dense-rows.ts
 * measures both). A weight whose GEMM layout exceeds one binding keeps the row-chunked kernels,
 * which split it (VGG-16's fc6 is 411 MB). Cost: with relevance, two layouts of the weight are
 * held (the conv ops' k-major one and their transposed one), where the few-row kernels read one.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { WeightStore } from '../gpu/weight-store.ts';
import type { ConvLayer, DenseLayer, Shape } from '../graph/ir.ts';
import { createConvWith } from './conv.ts';
import type { ForwardOp } from './op.ts';
import type { InputInfo } from './tensor.ts';

/**
 * Rows per sample from which a dense layer runs as the GEMM. The GEMM's row tile is 64 (the
 * forward's on a CPU adapter with subgroups) to 128 rows, so few rows leave it mostly idle. On
 * lavapipe (bench/dense-rows.ts, ViT-B's 768/2304/3072 features, bench/RESULTS.md) the GEMM took
 * a third to a fifth of the few-row kernels' time over all three passes from 32 rows, and about
 * broke even at 16 (faster on two shapes, slower on 3072 -> 768). ConvNeXt's last stage (7 x 7 =
 * 49 positions) and a ViT's 197 tokens are above it; a classifier head (1) is far below.
 */
export const ROW_GEMM_MIN_ROWS = 32;

/** The deepest reduction step a conv tile takes (src/forward/conv.ts withDepth). */
const MAX_BK = 16;

/** The layer as a 1x1 convolution over [inF, 1, 1] samples; same name, weight and bias. */
export function denseAsConv(layer: DenseLayer): ConvLayer {
  return {
    kind: 'conv', name: layer.name, inputs: layer.inputs, output: layer.output,
    inChannels: layer.inFeatures, outChannels: layer.outFeatures, weight: layer.weight, bias: layer.bias, hasBias: layer.hasBias,
    kernel: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1], groups: 1,
  };
}

/** The per-row shapes of the convolution: [inF, 1, 1] and [outF, 1, 1]. */
export const convShapes = (layer: DenseLayer): { inShape: Shape; outShape: Shape } => ({
  inShape: [layer.inFeatures, 1, 1], outShape: [layer.outFeatures, 1, 1],
});

/**
 * Whether a layer over `rowsPerSample` rows runs as the GEMM: enough rows, and both GEMM layouts
 * of the weight (k-major for the forward and denominators, transposed for the redistribution)
 * within one binding.
 */
export function usesRowGemm(layer: DenseLayer, rowsPerSample: number, maxBinding: number): boolean {
  const padded = (k: number, n: number) => 4 * Math.ceil(k / MAX_BK) * MAX_BK * Math.ceil(n / 4) * 4;
  const { inFeatures: inF, outFeatures: outF } = layer;
  return rowsPerSample >= ROW_GEMM_MIN_ROWS && padded(inF, outF) <= maxBinding && padded(outF, inF) <= maxBinding;
}

/**
 * The forward op: conv2d over N x rowsPerSample samples of [inF, 1, 1]. It names no `method`:
 * ForwardModel.methods() lists convolutions (Model.convMethods, the winograd notes).
 */
export async function createDenseGemm(
  ctx: GpuContext, layer: DenseLayer, input: InputInfo, rowsPerSample: number, weights: WeightStore,
): Promise<ForwardOp> {
  const { inShape, outShape } = convShapes(layer);
  const op = await createConvWith(ctx, denseAsConv(layer), { ...input, shape: inShape }, outShape, { weights });
  return {
    layer,
    dispatches: (samples, inputs, out, scratch) => op.dispatches(samples * rowsPerSample, inputs, out, scratch),
    destroy: () => op.destroy(),
  };
}
