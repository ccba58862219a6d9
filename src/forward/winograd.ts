/**
 * Winograd minimal filtering (Lavin and Gray 2016, "Fast Algorithms for Convolutional Neural
 * Networks") for 3x3 stride-1 convolutions: which layers it applies to, the transforms' matrices,
 * the weight transform U = G g G^T done once at load time, and the per-layer choice of `auto`.
 * The op is src/forward/conv-winograd.ts; the input and output transforms are WGSL
 * (shaders/forward/winograd_input.wgsl, winograd_output.wgsl).
 *
 * Decisions:
 * - F(m x m, 3 x 3) with m = 2 (4 x 4 tiles, 16 transform coordinates, 2.25 times fewer
 *   multiplies) or m = 4 (6 x 6 tiles, 36 coordinates, 4 times fewer). The matrices are Lavin and
 *   Gray's (F(4,3) with the interpolation points 0, +-1, +-2, infinity).
 * - The element-wise stage is a batched GEMM per coordinate xi, M_xi = V_xi U_xi with V_xi
 *   [tiles x C_in] and U_xi [C_in x C_out]; it runs as the project's implicit-GEMM convolution
 *   kernel (shaders/forward/conv2d.wgsl) viewed as a grouped 1x1 convolution with one group per
 *   coordinate, so it reuses that kernel's tiles, its subgroups variant and its split reduction.
 *   U is laid out as that kernel's weight ([xi][Kpad][Npad]) by convWeightLayout.
 * - `auto` picks per layer and per pass on CPU adapters (autoWinogradCpu, with the figures behind
 *   it): F(4,3) on planes of 28x28 and more, F(2,3) on 14x14 (and 7x7 in the redistribution),
 *   direct below, and direct for layers of few channels: the two transforms are memory passes that
 *   such layers do not amortise, and test models, which are small, compile no extra pipelines.
 *   F(4,3) was once kept out of `auto` for its float32 error, 2 to 7 times direct convolution's;
 *   at about 1e-6 to 1e-5 relative it is well inside every reference's tolerance (1e-4 or looser),
 *   and it is 1.2 to 3 times faster than F(2,3) on the large planes.
 * - The relevance passes take the same choice per pass (src/lrp/ops/winograd-relevance.ts,
 *   winogradRelevanceChoice): the denominators are this convolution with modified operands, the
 *   redistribution a 3x3 stride-1 convolution of s with the flipped kernel.
 */
import type { ConvLayer } from '../graph/ir.ts';

/** How convolutions run: `auto` picks per layer (winogradChoice). */
export type ConvMode = 'direct' | 'winograd' | 'auto';
export const CONV_MODES: readonly ConvMode[] = ['direct', 'winograd', 'auto'];

/** Output tile side m of F(m x m, 3 x 3). */
export type WinogradTile = 2 | 4;

/** Why a layer cannot run as Winograd convolution, or null if it can. */
export function winogradBlocker(layer: ConvLayer): string | null {
  const { kernel, stride, dilation, groups } = layer;
  if (kernel[0] !== 3 || kernel[1] !== 3) return `kernel ${kernel[0]}x${kernel[1]}, not 3x3`;
  if (stride[0] !== 1 || stride[1] !== 1) return `stride ${stride[0]}x${stride[1]}, not 1`;
  if (dilation[0] !== 1 || dilation[1] !== 1) return `dilation ${dilation[0]}x${dilation[1]}, not 1`;
  if (groups !== 1) return `${groups} groups, not 1`;
  return null;
}

/** G (alpha x 3), B^T (alpha x alpha), A^T (m x alpha), alpha = m + 2, row-major. */
export interface WinogradMatrices {
  readonly m: WinogradTile;
  readonly alpha: number;
  readonly G: readonly number[];
  readonly BT: readonly number[];
  readonly AT: readonly number[];
}

const F2: WinogradMatrices = {
  m: 2,
  alpha: 4,
  G: [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1],
  BT: [1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1],
  AT: [1, 1, 1, 0, 0, 1, -1, -1],
};

const F4: WinogradMatrices = {
  m: 4,
  alpha: 6,
  G: [
    1 / 4, 0, 0,
    -1 / 6, -1 / 6, -1 / 6,
    -1 / 6, 1 / 6, -1 / 6,
    1 / 24, 1 / 12, 1 / 6,
    1 / 24, -1 / 12, 1 / 6,
    0, 0, 1,
  ],
  BT: [
    4, 0, -5, 0, 1, 0,
    0, -4, -4, 1, 1, 0,
    0, 4, -4, -1, 1, 0,
    0, -2, -1, 2, 1, 0,
    0, 2, -1, -2, 1, 0,
    0, 4, 0, -5, 0, 1,
  ],
  AT: [
    1, 1, 1, 1, 1, 0,
    0, 1, -1, 2, -2, 0,
    0, 1, 1, 4, 4, 0,
    0, 1, -1, 8, -8, 1,
  ],
};

export const winogradMatrices = (m: WinogradTile): WinogradMatrices => (m === 2 ? F2 : F4);

/**
 * U = G g G^T for every (output, input) channel pair, arranged as the weight of a grouped 1x1
 * convolution with one group per transform coordinate: [xi][C_out][C_in] (the [outC][cin/g][1][1]
 * order convWeightLayout takes). Computed in float64 and rounded once.
 */
export function winogradWeights(layer: ConvLayer, m: WinogradTile): Float32Array {
  const { G, alpha } = winogradMatrices(m);
  const { outChannels: O, inChannels: C, weight } = layer;
  const A2 = alpha * alpha;
  const out = new Float32Array(A2 * O * C);
  const tmp = new Float64Array(alpha * 3);
  for (let o = 0; o < O; o++) {
    for (let c = 0; c < C; c++) {
      const g = (o * C + c) * 9;
      // tmp = G g (alpha x 3)
      for (let i = 0; i < alpha; i++) {
        for (let j = 0; j < 3; j++) {
          tmp[i * 3 + j] = G[i * 3] * weight[g + j] + G[i * 3 + 1] * weight[g + 3 + j] + G[i * 3 + 2] * weight[g + 6 + j];
        }
      }
      // U = tmp G^T (alpha x alpha)
      for (let i = 0; i < alpha; i++) {
        for (let j = 0; j < alpha; j++) {
          const u = tmp[i * 3] * G[j * 3] + tmp[i * 3 + 1] * G[j * 3 + 1] + tmp[i * 3 + 2] * G[j * 3 + 2];
          out[((i * alpha + j) * O + o) * C + c] = u;
        }
      }
    }
  }
  return out;
}

/** The transformed weight as a ConvLayer of the grouped 1x1 GEMM (for convWeightLayout). */
export function winogradGemmLayer(layer: ConvLayer, m: WinogradTile): ConvLayer {
  const A2 = winogradMatrices(m).alpha ** 2;
  return {
    ...layer,
    inChannels: A2 * layer.inChannels,
    outChannels: A2 * layer.outChannels,
    groups: A2,
    kernel: [1, 1],
    stride: [1, 1],
    dilation: [1, 1],
    pads: [0, 0, 0, 0],
    weight: winogradWeights(layer, m),
    bias: new Float32Array(A2 * layer.outChannels),
  };
}

/** The per-layer decision of a mode: the tile, or direct with the reason. */
export type WinogradDecision = { readonly m: WinogradTile } | { readonly m: null; readonly why: string };

/** The pass a convolution's choice is for: the relevance passes may choose differently. */
export type ConvPass = 'forward' | 'denominators' | 'redistribution';

/*
 * `auto` on a CPU adapter, per pass, from its channels and the plane it computes (the output
 * plane; the input plane for the redistribution). Measured on lavapipe, the three methods built
 * side by side and timed round-robin in one process (bench/winograd-choice.ts, alpha-beta 2/1,
 * bench/RESULTS.md, 2026-12-08, load 16 to 32: ratios only), time over direct's at batch 1
 * (batch 8), VGG-16's 13 convolutions and ResNet-50's stride-1 3x3 ones:
 * - 64+ channels, planes of 28x28 and more (VGG-16 features.2 to .21, ResNet-50 layer1 and
 *   layer2): F(4,3) 0.16 to 0.65 in every pass (0.22 to 0.52), F(2,3) 0.42 to 0.87 (0.32 to
 *   1.05); F(4,3) the faster of the two in every pass at batch 1.
 * - 14x14 (VGG-16 features.24 to .28, 512 channels; ResNet-50 layer3, 256): F(2,3) 0.26 to 0.66
 *   (0.45 to 0.97), F(4,3) 0.73 to 0.99 (0.27 to 0.54). At batch 1 F(4,3) has 16 tiles per
 *   transform coordinate, too few rows for the GEMM's blocks; at batch 8 it has 128 and wins. The
 *   op is built for any batch, so the rule takes batch 1's winner.
 * - 7x7 (ResNet-50 layer4, 512 channels): forward and denominators F(2,3) 1.06 to 2.29 (0.45 to
 *   0.63), F(4,3) 3.1 to 6.2 (0.56 to 0.61): direct, which loses as much per image at batch 8 as
 *   it wins at batch 1. The redistribution, whose direct transposed kernel takes 3 to 7 times the
 *   forward convolution's time on such a plane: F(2,3) 0.65 to 0.69 (0.49), F(4,3) 1.5 (0.47).
 * - Fewer channels (VGG-16 features.0, 3 -> 64, 224x224): direct; F(2,3) 1.35 to 3.5 times
 *   direct's and F(4,3) 0.74 to 2.4 (its denominators the one pass where F(4,3) won, on a layer
 *   of under 2% of the model's time): the transforms are memory passes whose share of the
 *   work grows as 1 / channels, and its redistribution runs by columns.
 * Numerics: F(4,3)'s float32 error is 2 to 7 times direct convolution's (about 1e-6 to 1e-5
 * relative on VGG-16-sized layers, no growth over 13 layers: bench/winograd-error.ts,
 * bench/winograd-relevance-error.ts, test/winograd-relevance.test.ts), F(2,3)'s about direct's;
 * every reference tolerance is 1e-4 or looser. Memory: F(4,3)'s transformed weight is 36/9 of
 * the kernel, F(2,3)'s 16/9: VGG-16's weight copies with cmp-alpha2-flat's explainer went from
 * 871 to 1,129 MiB (lrp-z's 671 to 801, the forward model's alone 571 to 636).
 */
/** Input and output channels below which `auto` keeps a layer direct. */
export const AUTO_MIN_CHANNELS = 64;
/** Pixels of a pass's plane from which `auto` takes F(4,3) (28x28: the smallest plane where it won at batch 1). */
export const AUTO_F4_MIN_PIXELS = 28 * 28;
/** Pixels from which `auto` takes F(2,3) in the forward pass and the denominators (14x14). */
export const AUTO_F2_MIN_PIXELS = 14 * 14;
/** Pixels from which `auto` takes F(2,3) in the redistribution (7x7). */
export const AUTO_F2_MIN_PIXELS_REDISTRIBUTION = 7 * 7;

/**
 * The tile `auto` takes on a CPU adapter for a pass over a plane of `pixels` from `inChannels` to
 * `outChannels` (the redistribution's are the layer's swapped), or direct with the reason: the
 * figures are above AUTO_MIN_CHANNELS.
 */
export function autoWinogradCpu(inChannels: number, outChannels: number, pixels: number, pass: ConvPass): WinogradDecision {
  if (inChannels < AUTO_MIN_CHANNELS || outChannels < AUTO_MIN_CHANNELS) {
    return { m: null, why: `auto: fewer than ${AUTO_MIN_CHANNELS} channels` };
  }
  if (pixels >= AUTO_F4_MIN_PIXELS) return { m: 4 };
  const f2 = pass === 'redistribution' ? AUTO_F2_MIN_PIXELS_REDISTRIBUTION : AUTO_F2_MIN_PIXELS;
  if (pixels >= f2) return { m: 2 };
  return { m: null, why: `auto: fewer than ${f2} pixels` };
}

/**
 * Which convolution a pass of a layer runs under `mode` on an adapter of `tuning`, computing a
 * plane of `outPixels`. `winograd` uses F(4,3) wherever it applies, `direct` never; `auto` takes
 * autoWinogradCpu's choice on a CPU adapter and direct convolution on GPUs, where it has not been
 * measured. `tile` forces the tile size wherever Winograd is taken.
 */
export function winogradChoice(
  layer: ConvLayer, outPixels: number, mode: ConvMode, tuning: 'cpu' | 'gpu', tile?: WinogradTile, pass: ConvPass = 'forward',
): WinogradDecision {
  if (mode === 'direct') return { m: null, why: 'direct convolution asked for' };
  const blocker = winogradBlocker(layer);
  if (blocker) return { m: null, why: blocker };
  if (mode === 'winograd') return { m: tile ?? 4 };
  if (tuning === 'gpu') return { m: null, why: 'auto: Winograd is not measured on GPUs yet' };
  const auto = autoWinogradCpu(layer.inChannels, layer.outChannels, outPixels, pass);
  return auto.m === null ? auto : { m: tile ?? auto.m };
}

/**
 * For a user who forced `winograd`: the convolutions that still ran direct and why, as one line
 * (null when every one ran Winograd). `methods` is ForwardModel.methods().
 */
export function winogradSkips(methods: ReadonlyMap<string, string>): string | null {
  const skipped = [...methods].filter(([, m]) => !m.startsWith('winograd')).map(([layer, m]) => `${layer} ${m}`);
  return skipped.length ? `--conv winograd: ${skipped.length} of ${methods.size} convolutions run direct: ${skipped.join(', ')}` : null;
}
