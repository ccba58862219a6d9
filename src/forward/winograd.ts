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
 * - `auto` keeps direct convolution for small layers (few channels or few output pixels): the two
 *   transforms are memory passes that such layers do not amortise, and test models, which are
 *   small, compile no extra pipelines. See winogradChoice for the figures behind the rule.
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

/**
 * Channels (input and output) and output pixels below which `auto` keeps direct convolution on a
 * CPU adapter. Measured on lavapipe with the methods alternating in one process (bench/RESULTS.md):
 * F(2,3) took 0.50 to 0.74 of direct's time on VGG-16's 64- and 128-channel layers at batch 1
 * (bench/conv-tiles.ts; features.2, 64 -> 64 at 224x224: 0.61), 0.15 to 0.57 on its layers of
 * 128 to 512 channels down to 14x14 (bench/forward.ts), but 2.8 to 5.5 times direct's on the first
 * layer (3 -> 64): the transforms are memory passes whose share of the work grows as 1 / channels.
 */
export const AUTO_MIN_CHANNELS = 64;
export const AUTO_MIN_PIXELS = 14 * 14;

/**
 * Which convolution a layer runs under `mode` on an adapter of `tuning`. `winograd` uses F(4,3)
 * wherever it applies. `auto` uses F(2,3) on a CPU adapter for layers of at least
 * AUTO_MIN_CHANNELS input and output channels and AUTO_MIN_PIXELS output pixels, and direct
 * convolution on GPUs, where it has not been measured. F(2,3) rather than F(4,3) by numerics: on
 * VGG-16-sized layers F(2,3)'s float32 error was about half direct convolution's and F(4,3)'s
 * about 2.3 times (bench/winograd-error.ts, bench/RESULTS.md), though F(4,3) was another 1.5 to 3
 * times faster on planes of 56x56 and more. `tile` forces the tile size.
 */
export function winogradChoice(layer: ConvLayer, outPixels: number, mode: ConvMode, tuning: 'cpu' | 'gpu', tile?: WinogradTile): WinogradDecision {
  if (mode === 'direct') return { m: null, why: 'direct convolution asked for' };
  const blocker = winogradBlocker(layer);
  if (blocker) return { m: null, why: blocker };
  if (mode === 'winograd') return { m: tile ?? 4 };
  if (tuning === 'gpu') return { m: null, why: 'auto: Winograd is not measured on GPUs yet' };
  if (layer.inChannels < AUTO_MIN_CHANNELS || layer.outChannels < AUTO_MIN_CHANNELS) {
    return { m: null, why: `auto: fewer than ${AUTO_MIN_CHANNELS} channels` };
  }
  if (outPixels < AUTO_MIN_PIXELS) return { m: null, why: `auto: fewer than ${AUTO_MIN_PIXELS} output pixels` };
  return { m: tile ?? 2 };
}

/**
 * For a user who forced `winograd`: the convolutions that still ran direct and why, as one line
 * (null when every one ran Winograd). `methods` is ForwardModel.methods().
 */
export function winogradSkips(methods: ReadonlyMap<string, string>): string | null {
  const skipped = [...methods].filter(([, m]) => !m.startsWith('winograd')).map(([layer, m]) => `${layer} ${m}`);
  return skipped.length ? `--conv winograd: ${skipped.length} of ${methods.size} convolutions run direct: ${skipped.join(', ')}` : null;
}
