import { GpuError } from '../gpu/errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { ConvLayer, Shape } from '../graph/ir.ts';
import type { WeightStore } from '../gpu/weight-store.ts';
import type { ForwardOp } from './op.ts';
import { grid1d, tileGrid } from '../gpu/grid.ts';
import { conv2d, conv2dSplitkSum } from '../kernels/forward.ts';
import { gemmVariant, type GemmVariant } from '../gpu/subgroups.ts';
import type { InputInfo } from './tensor.ts';

const SUM_WG = 256;

/**
 * One tile configuration of the implicit-GEMM kernel (shaders/forward/conv2d.wgsl): TX x TY
 * threads, each owning PQ quads of 4 pixels x TN output channels, so a workgroup computes a
 * (4*PQ*TX) x (TN*TY) tile of the output, BK deep per step.
 */
export interface ConvTile {
  readonly TX: number;
  readonly TY: number;
  readonly PQ: number;
  readonly TN: number;
  readonly BK: number;
}

/** vec4 slots of the kernel's workgroup array (16 KiB, the WebGPU default limit). */
const TILE_VEC4 = 1024;

export function tileFits(t: ConvTile): boolean {
  const vec4s = t.BK * (t.PQ * t.TX + (t.TY * t.TN) / 4);
  return vec4s <= TILE_VEC4 && t.TX % 8 === 0 && t.TN % 4 === 0 && t.TN >= 4 && t.TN <= 32
    && t.PQ >= 1 && t.PQ <= 4 && t.BK >= 1 && t.TX * t.TY <= 256;
}

/**
 * The reduction depth: the largest that fits the workgroup array, reduced while that wastes less
 * of K to zero padding (K = 27 for a first 3x3 layer on RGB takes 3 steps of 9, not 2 of 16).
 */
function chooseBK(K: number, maxBK: number): number {
  let best = maxBK;
  for (let bk = maxBK; bk >= Math.max(1, maxBK >> 1); bk--) {
    if (Math.ceil(K / bk) * bk < Math.ceil(K / best) * best) best = bk;
  }
  return best;
}

/**
 * Which tiles suit the device (and kernel variant): a GPU's, a CPU adapter's, or a CPU adapter's
 * running the subgroups variants (src/gpu/subgroups.ts), where a row's B vectors cost one read
 * per subgroup, so wider channel blocks pay.
 */
export type TileFamily = 'gpu' | 'cpu' | 'cpu-subgroups';

/** The family for a context: its tuning, unless the GEMM kernels run their subgroups variant (CPU only, see gemmVariant). */
export const tileFamily = (ctx: GpuContext, gemm: GemmVariant): TileFamily => (gemm.variant === 'subgroups' ? 'cpu-subgroups' : ctx.tuning);

/**
 * The tile for a layer. Output channels per group (N) set the width, so few columns idle.
 * CPU: 8 threads along m (one SIMD vector) x 4 quads = 128 pixels, 16 channels per thread
 * (16 x 16 = 256 accumulators), which amortises each workgroup-memory read over 64 FMAs. With the
 * subgroups variant B is cheap and 32 channels pay: 2 quads x 32 (VGG-16's convolutions at batch
 * 1 on lavapipe: 2,238 ms for the plain kernel with 4 x 16, 1,421 with the variant at 4 x 16,
 * 1,180 at 4 x 32). 2 x 32 rather than 4 x 32: on the large layers it lost little (features.19:
 * forward 237 against 268 ms, denominators 152 against 133; VGG-16's forward pass 1,227 against
 * 1,180 ms, within the noise of those runs) and LLVM compiles it in half the time (cold, width
 * 256: 10 against 20 to 24 s for the forward pipeline), which every first run on a machine pays,
 * the test suite many times over.
 * GPU: 16 x 16 threads of 1 quad x 4 channels (16 accumulators), a 64 x 64 tile. Swept on an
 * H100 (bench/conv-tiles.ts, every VGG-16 shape at batch 1, 8 and 32), larger register blocks won
 * single layers but lost others for want of workgroups; this one averaged 1.03-1.08 times each
 * layer's best (the 2 x 8 blocks before it 1.06-1.23: better at batch 32, worse at batch 1), and
 * the split reduction covers the layers that still leave the device idle. bench/RESULTS.md has
 * the figures.
 */
export function convTile(K: number, N: number, family: TileFamily): ConvTile {
  const [TX, widePQ, wideTN, maxTY] = family === 'gpu' ? [16, 1, 4, 16] : family === 'cpu-subgroups' ? [8, 2, 32, 8] : [8, 4, 16, 8];
  const TN = Math.min(wideTN, Math.ceil(N / 4) * 4);
  // Thin layers: a smaller block (compiles faster; such layers are small anyway).
  const PQ = TN < wideTN ? 2 : widePQ;
  let TY = 1;
  while (TY < maxTY && TY * TN < N) TY *= 2;
  return withDepth(K, { TX, TY, PQ, TN });
}

/** A thread block shape completed with the deepest reduction step that fits (see chooseBK). */
export function withDepth(K: number, t: Omit<ConvTile, 'BK'>): ConvTile {
  const maxBK = Math.min(16, Math.floor(TILE_VEC4 / (t.PQ * t.TX + (t.TY * t.TN) / 4)));
  return { ...t, BK: chooseBK(K, maxBK) };
}

/** The WeightStore key of convWeightLayout(layer, BK). */
export const convWeightKey = (BK: number): string => `conv kn bk${BK}`;

/**
 * The layer's weight in convWeightLayout(layer, BK), shared through the model's WeightStore (the
 * forward convolution and every relevance denominator read it). Throws, naming the layer, when it
 * exceeds one binding.
 */
export function acquireConvWeight(ctx: GpuContext, weights: WeightStore, layer: ConvLayer, BK: number) {
  return weights.acquire(layer.name, convWeightKey(BK), () => {
    const { data } = convWeightLayout(layer, BK);
    if (data.byteLength > ctx.maxBinding) {
      throw new GpuError(`weight of ${data.byteLength} bytes exceeds the ${ctx.maxBinding}-byte binding limit`, 'limits', `conv2d for layer '${layer.name}'`);
    }
    return data;
  });
}

/** The padded sizes of convWeightLayout(layer, BK), without building it. */
export function convWeightShape(layer: ConvLayer, BK: number): { K: number; Kpad: number; Npad: number } {
  const K = (layer.inChannels / layer.groups) * layer.kernel[0] * layer.kernel[1];
  return { K, Kpad: Math.ceil(K / BK) * BK, Npad: Math.ceil(layer.outChannels / layer.groups / 4) * 4 };
}

/** Weight [outC][cin/g][kh][kw] → [g][Kpad][Npad]: k-major, zero-padded to whole BK tiles and vec4 rows. */
export function convWeightLayout(layer: ConvLayer, BK: number): { data: Float32Array; K: number; Kpad: number; Npad: number } {
  const { groups, outChannels, inChannels, kernel: [kh, kw] } = layer;
  const cinPG = inChannels / groups;
  const coutPG = outChannels / groups;
  const K = cinPG * kh * kw;
  const Kpad = Math.ceil(K / BK) * BK;
  const Npad = Math.ceil(coutPG / 4) * 4;
  const data = new Float32Array(groups * Kpad * Npad);
  const w = layer.weight;
  for (let g = 0; g < groups; g++) {
    for (let n = 0; n < coutPG; n++) {
      const src = (g * coutPG + n) * K;
      const dst = g * Kpad * Npad + n;
      for (let k = 0; k < K; k++) data[dst + k * Npad] = w[src + k];
    }
  }
  return { data, K, Kpad, Npad };
}

/**
 * Output tiles a layer should offer before its reduction is split: four per streaming
 * multiprocessor of a large GPU (an H100 has 132). Swept on an H100 (bench/conv-tiles.ts
 * --fills): 264 left VGG-16's 14x14 layers at batch 8 a quarter slower, 1056 split layers that
 * were full already. CPU adapters have a handful of cores, which every layer of a CNN fills.
 */
const FILL_WORKGROUPS = 528;

/** The split target by tuning: FILL_WORKGROUPS on a GPU, never (0) on a CPU adapter. */
export const defaultFill = (ctx: GpuContext): number => (ctx.tuning === 'cpu' ? 0 : FILL_WORKGROUPS);
/** Each slice of a split reduction keeps at least this many BK steps, so the tile loads amortise. */
const MIN_STEPS_PER_SPLIT = 8;
const MAX_SPLITS = 32;

/**
 * How many slices to split the reduction of a layer into: enough that output tiles x slices
 * fill the device, no slice shorter than MIN_STEPS_PER_SPLIT steps, the partial sums within one
 * binding. Returns the slice count and its depth (whole BK steps; no slice is empty).
 */
export function convSplit(
  outputTiles: number, Kpad: number, BK: number, partialBytesPerSplit: number, maxBinding: number, fill = FILL_WORKGROUPS,
): { splits: number; kChunk: number } {
  const steps = Kpad / BK;
  let splits = Math.min(MAX_SPLITS, Math.floor(steps / MIN_STEPS_PER_SPLIT), Math.ceil(fill / outputTiles),
    Math.floor(maxBinding / partialBytesPerSplit));
  if (splits <= 1) return { splits: 1, kChunk: Kpad };
  const kChunk = Math.ceil(steps / splits) * BK;
  splits = Math.ceil(Kpad / kChunk);
  return { splits, kChunk };
}

export interface ConvOptions {
  /** The model's shared weight copies. */
  readonly weights: WeightStore;
  /** A tile configuration instead of convTile's choice (benchmarks sweep them). */
  readonly tile?: ConvTile;
  /** Output tiles below which the reduction is split; 0 never splits. Default: by ctx.tuning. */
  readonly fillWorkgroups?: number;
}

export async function createConvWith(
  ctx: GpuContext, layer: ConvLayer, input: InputInfo, outShape: Shape, opts: ConvOptions,
): Promise<ForwardOp> {
  const { groups, outChannels, inChannels, kernel, stride, pads, dilation } = layer;
  const [, inH, inW] = input.shape;
  const [, outH, outW] = outShape;
  const coutPG = outChannels / groups;
  const K = (inChannels / groups) * kernel[0] * kernel[1];
  const gemm = await gemmVariant(ctx);
  const tile = opts.tile ?? convTile(K, coutPG, tileFamily(ctx, gemm));
  if (!tileFits(tile)) throw new Error(`conv tile ${JSON.stringify(tile)} does not fit the kernel`);
  const { Kpad, Npad } = convWeightShape(layer, tile.BK);
  const shared = acquireConvWeight(ctx, opts.weights, layer, tile.BK);
  const weight = shared.buffer;
  const bias = ctx.upload(layer.bias, `${layer.name}.bias`);
  const pipeline = await conv2d.pipeline(ctx, { KH: kernel[0], KW: kernel[1], ...tile, ...gemm.constants }, gemm.variant);
  const BM = 4 * tile.PQ * tile.TX;
  const BN = tile.TN * tile.TY;
  const fill = opts.fillWorkgroups ?? defaultFill(ctx);
  const plane = outH * outW;
  const maxDim = ctx.limits.maxComputeWorkgroupsPerDimension;
  const splitOf = (batch: number) => convSplit(
    Math.ceil(coutPG / BN) * Math.ceil((batch * plane) / BM) * groups, Kpad, tile.BK, 4 * batch * outChannels * plane, ctx.maxBinding, fill,
  );
  const uniforms = conv2d.uniformsByBatch(ctx, layer.name, (batch) => {
    const { splits, kChunk } = splitOf(batch);
    return {
      batch, inC: inChannels, inH, inW,
      outC: outChannels, outH, outW, groups,
      strideH: stride[0], strideW: stride[1], padT: pads[0], padL: pads[1],
      dilH: dilation[0], dilW: dilation[1], cinPerGroup: inChannels / groups, coutPerGroup: coutPG,
      K, Kpad, Npad, M: batch * plane,
      reluIn: input.relu ? 1 : 0,
      // Whole vec4s per output plane: aligned vec4 stores (the pool hands out buffers in multiples
      // of 64 bytes, so the kernel's vec4 view of the output covers every float).
      vecOut: plane % 4 === 0 ? 1 : 0,
      splits, kChunk, splitStride: batch * outChannels * plane,
    };
  });
  const sumPipeline = fill > 0 ? await conv2dSplitkSum.pipeline(ctx, { WG: SUM_WG }) : null;
  const sumUniforms = conv2dSplitkSum.uniformsByBatch(ctx, `${layer.name} split sum`, (batch) => ({
    total: batch * outChannels * plane, splits: splitOf(batch).splits, plane, channels: outChannels,
  }));
  return {
    layer,
    dispatches(batch, [x], out, scratch) {
      const M = batch * plane;
      if (out.size % 16 !== 0) throw new Error(`conv2d for layer '${layer.name}': output buffer of ${out.size} bytes is not a whole number of vec4s`);
      const { splits } = splitOf(batch);
      const total = batch * outChannels * plane;
      const flops = 2 * M * outChannels * K;
      const inBytes = 4 * (batch * inChannels * inH * inW + groups * K * coutPG);
      if (splits === 1) {
        return [{
          kernel: 'conv2d', layer: layer.name, pipeline,
          bindings: conv2d.bind({ p: uniforms.get(batch), x: x.buffer, w: weight, bias, y: out }),
          workgroups: tileGrid(Math.ceil(coutPG / BN), Math.ceil(M / BM), groups, maxDim),
          flops, bytes: inBytes + 4 * total,
        }];
      }
      const part = scratch(4 * splits * total, `${layer.name} partial sums`);
      return [{
        kernel: 'conv2d', layer: layer.name, pipeline,
        bindings: conv2d.bind({ p: uniforms.get(batch), x: x.buffer, w: weight, bias, y: part }),
        workgroups: tileGrid(Math.ceil(coutPG / BN), Math.ceil(M / BM), groups * splits, maxDim),
        flops, bytes: inBytes + 4 * splits * total,
      }, {
        kernel: 'conv2d_splitk_sum', layer: layer.name, pipeline: sumPipeline!,
        bindings: conv2dSplitkSum.bind({ p: sumUniforms.get(batch), part, bias, y: out }),
        workgroups: grid1d(total, SUM_WG),
        flops: (splits - 1) * total, bytes: 4 * (splits + 1) * total,
      }];
    },
    destroy() {
      shared.release();
      bias.destroy();
      uniforms.destroy();
      sumUniforms.destroy();
    },
  };
}
