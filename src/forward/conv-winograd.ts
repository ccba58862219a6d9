/**
 * A 3x3 stride-1 convolution as Winograd minimal filtering F(m x m, 3 x 3) (src/forward/winograd.ts
 * has the math and the choice): three dispatches per chunk of samples,
 *   1. the input transform V = B^T d B (shaders/forward/winograd_input.wgsl) into scratch,
 *   2. the element-wise stage, alpha^2 GEMMs [tiles x C_in] x [C_in x C_out]: on a CPU adapter
 *      whose subgroups are rows (src/gpu/subgroups.ts), the batched GEMM shaped for lavapipe
 *      (shaders/forward/winograd_gemm.wgsl); otherwise the
 *      convolution GEMM kernel (shaders/forward/conv2d.wgsl) viewed as a grouped 1x1 convolution
 *      with one group per transform coordinate, with convTile's tile for that GEMM (and its split
 *      reduction where the tuning splits),
 *   3. the output transform Y = A^T M A + bias (shaders/forward/winograd_output.wgsl).
 *
 * Decisions:
 * - Separate transform kernels rather than the input transform inside the GEMM's A-loading stage:
 *   the GEMM kernel and its tuned tiles stay as they are, and on lavapipe the two transforms
 *   took 11 to 13% of VGG-16's Winograd convolution time at batch 1 (bench/RESULTS.md), which
 *   bounds what a fused kernel could save there.
 * - winograd_gemm on CPU adapters with row subgroups, conv2d elsewhere (a GPU reads a row's
 *   common B vec4 once in hardware and wants split reductions). It reads U in conv2d's layout, so
 *   either kernel takes the same weight, and the transforms' [xi][C][P] layout, which the
 *   relevance passes share, stays as it is. Its pipeline per dispatch follows the tile count P:
 *   a quad of tiles is one aligned vec4 load where P % 4 == 0, four float loads elsewhere.
 *   lavapipe compiles a pipeline on its first dispatch, so the one a model never uses costs
 *   nothing. Figures: bench/RESULTS.md (issue 24).
 * - U = G g G^T is built once per layer, tile size and reduction depth, in the model's WeightStore
 *   under the key `winograd f<m> kn bk<BK>` (alpha^2 / 9 times the layer's weights: 16/9 for
 *   F(2,3), 4x for F(4,3)).
 * - A batch whose transformed input or products would pass one binding runs in chunks of samples;
 *   the scratch of the largest chunk is reused by the next (the queue runs them in order).
 */
import { GpuError } from '../gpu/errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import { KeyedUniforms } from '../gpu/uniforms.ts';
import type { ConvLayer, Shape } from '../graph/ir.ts';
import type { SharedBuffer, WeightStore } from '../gpu/weight-store.ts';
import type { ForwardOp } from './op.ts';
import { grid1d, tileGrid } from '../gpu/grid.ts';
import { conv2d, conv2dSplitkSum, winogradGemm, winogradInput, winogradOutput } from '../kernels/forward.ts';
import { gemmVariant } from '../gpu/subgroups.ts';
import type { InputInfo } from './tensor.ts';
import { convSplit, convTile, convWeightLayout, defaultFill, tileFamily, tileFits, type ConvTile } from './conv.ts';
import { winogradGemmLayer, winogradMatrices, type WinogradTile } from './winograd.ts';

const WG = 64;
const SUM_WG = 256;

/** The WeightStore key of the transformed weight U for tile m and reduction depth BK. */
export const winogradWeightKey = (m: WinogradTile, BK: number): string => `winograd f${m} kn bk${BK}`;

/** Tiles of an output plane: ceil(outH / m) x ceil(outW / m). */
export function winogradTiles(outH: number, outW: number, m: WinogradTile): { tilesY: number; tilesX: number } {
  return { tilesY: Math.ceil(outH / m), tilesX: Math.ceil(outW / m) };
}

/**
 * Samples per chunk: the most whose transformed input (alpha^2 C_in floats per tile) and products
 * (alpha^2 C_out per tile) each fit one binding; 0 when not even one sample's do.
 */
export function winogradChunk(layer: ConvLayer, outH: number, outW: number, m: WinogradTile, maxBinding: number): number {
  const { alpha } = winogradMatrices(m);
  const { tilesY, tilesX } = winogradTiles(outH, outW, m);
  const perSample = 4 * alpha * alpha * tilesY * tilesX * Math.max(layer.inChannels, layer.outChannels);
  return Math.floor(maxBinding / perSample);
}

/**
 * Whether tile m can run the layer within `maxBinding`: one sample's transformed tensors
 * (winogradChunk) and the transformed weight (at most 16-deep reduction padding) each fit.
 */
export function winogradFits(layer: ConvLayer, outH: number, outW: number, m: WinogradTile, maxBinding: number): boolean {
  const { alpha } = winogradMatrices(m);
  const weightBytes = 4 * alpha * alpha * Math.ceil(layer.inChannels / 16) * 16 * Math.ceil(layer.outChannels / 4) * 4;
  return winogradChunk(layer, outH, outW, m, maxBinding) >= 1 && weightBytes <= maxBinding;
}

export interface WinogradConvOptions {
  readonly weights: WeightStore;
  readonly m: WinogradTile;
  /** A tile for the element-wise GEMM instead of convTile's choice (benchmarks). */
  readonly tile?: ConvTile;
  /** Output tiles below which the GEMM's reduction is split; 0 never. Default: by ctx.tuning. */
  readonly fillWorkgroups?: number;
}

/**
 * The element-wise stage: alpha^2 GEMMs [P x K] x [K x N], one per transform coordinate: the
 * batched GEMM kernel (winograd_gemm.wgsl) where it applies, else the convolution GEMM kernel
 * (conv2d.wgsl) over a grouped 1x1 convolution (A2 groups of K input and N output channels on a
 * plane of P tiles), with its split reduction where the tuning splits.
 * The forward op and the relevance ops (src/lrp/ops/winograd-*.ts) share it; the weight is
 * [xi][Kpad][Npad] as convWeightLayout lays out winogradGemmLayer's.
 */
export interface WinogradGemm {
  readonly tile: ConvTile;
  readonly Kpad: number;
  readonly Npad: number;
  /** The dispatches computing y = v w for a chunk of P tiles (`kernel` names them in profiles). */
  dispatches(P: number, v: GPUBuffer, w: GPUBuffer, y: GPUBuffer, scratch: (bytes: number, label: string) => GPUBuffer, kernel: string): Dispatch[];
  destroy(): void;
}

/** Which kernel runs the element-wise stage: `auto` picks winograd_gemm where it can run (benchmarks force conv2d). */
export type WinogradGemmKernel = 'auto' | 'conv2d';

/**
 * winograd_gemm's thread block: PQ quads x 32 columns per thread, TY rows of 8 threads. One quad:
 * on VGG-16's F(2,3) stages (what `auto` runs on lavapipe) two quads were ahead on some layers and
 * behind on others (bench/winograd-gemm.ts, machine heavily loaded), and LLVM compiles one quad in
 * about half the time; with few tiles (14x14 planes) one quad also leaves fewer threads idle.
 */
export const WGEMM_BLOCK: WgemmBlock = { PQ: 1, TY: 1 };
export interface WgemmBlock { readonly PQ: 1 | 2; readonly TY: number }

export async function createWinogradGemm(
  ctx: GpuContext, label: string, A2: number, K: number, N: number,
  opts: { tile?: ConvTile; fillWorkgroups?: number; kernel?: WinogradGemmKernel; wgemm?: WgemmBlock } = {},
): Promise<WinogradGemm> {
  const gemm = await gemmVariant(ctx);
  const tile = opts.tile ?? convTile(K, N, tileFamily(ctx, gemm));
  if (!tileFits(tile)) throw new Error(`conv tile ${JSON.stringify(tile)} does not fit the kernel`);
  const Kpad = Math.ceil(K / tile.BK) * tile.BK;
  const Npad = Math.ceil(N / 4) * 4;
  const fill = opts.fillWorkgroups ?? defaultFill(ctx);
  const maxDim = ctx.limits.maxComputeWorkgroupsPerDimension;
  const uniforms = new KeyedUniforms(ctx, label);
  const flopsOf = (P: number) => 2 * A2 * P * K * N;
  const bytesInOf = (P: number) => 4 * (A2 * K * P + A2 * Kpad * Npad);

  // The batched kernel needs the subgroups variant's row layout (its SG) and takes no split; it
  // reads U in conv2d's layout (the tile's BK pads K), so only the kernel differs.
  if (gemm.variant === 'subgroups' && fill === 0 && (opts.kernel ?? 'auto') === 'auto') {
    const block = opts.wgemm ?? WGEMM_BLOCK;
    // Both of its pipelines are made; lavapipe compiles one on its first dispatch only.
    const [wgemmVec, wgemmScalar] = await Promise.all([true, false].map((VEC_A) => winogradGemm.pipeline(ctx, { ...block, SG: gemm.constants.SG!, VEC_A })));
    return {
      tile, Kpad, Npad,
      dispatches: (P, v, w, y, _scratch, kernel) => [{
        kernel, layer: label, pipeline: P % 4 === 0 ? wgemmVec : wgemmScalar,
        bindings: winogradGemm.bind({
          p: uniforms.get(`wgemm ${P}`, () => winogradGemm.pack({ P, K, N, Kpad, npad4: Npad / 4 })),
          x: v, xs: v, w, y,
        }),
        workgroups: tileGrid(Math.ceil(N / (32 * block.TY)), Math.ceil(P / (32 * block.PQ)), A2, maxDim),
        flops: flopsOf(P), bytes: bytesInOf(P) + 4 * A2 * N * P,
      }],
      destroy: () => uniforms.destroy(),
    };
  }

  // The GEMM's own bias: zero (the output transforms add the layer's).
  const zeros = ctx.upload(new Float32Array(A2 * N), `${label} winograd zero bias`);
  const gemmPipe = await conv2d.pipeline(ctx, { KH: 1, KW: 1, ...tile, ...gemm.constants }, gemm.variant);
  const sumPipe = fill > 0 ? await conv2dSplitkSum.pipeline(ctx, { WG: SUM_WG }) : null;
  const BM = 4 * tile.PQ * tile.TX;
  const BN = tile.TN * tile.TY;
  const splitOf = (P: number) => convSplit(Math.ceil(N / BN) * Math.ceil(P / BM) * A2, Kpad, tile.BK, 4 * A2 * N * P, ctx.maxBinding, fill);
  return {
    tile, Kpad, Npad,
    dispatches(P, v, w, y, scratch, kernel) {
      const flops = flopsOf(P);
      const bytesIn = bytesInOf(P);
      const { splits, kChunk } = splitOf(P);
      const gemmUniform = uniforms.get(`gemm ${P}`, () => conv2d.pack({
        batch: 1, inC: A2 * K, inH: 1, inW: P, outC: A2 * N, outH: 1, outW: P, groups: A2,
        strideH: 1, strideW: 1, padT: 0, padL: 0, dilH: 1, dilW: 1, cinPerGroup: K, coutPerGroup: N,
        K, Kpad, Npad, M: P, reluIn: 0, vecOut: P % 4 === 0 ? 1 : 0,
        splits, kChunk, splitStride: A2 * N * P,
      }));
      if (splits === 1) {
        return [{
          kernel, layer: label, pipeline: gemmPipe,
          bindings: conv2d.bind({ p: gemmUniform, x: v, w, bias: zeros, y }),
          workgroups: tileGrid(Math.ceil(N / BN), Math.ceil(P / BM), A2, maxDim),
          flops, bytes: bytesIn + 4 * A2 * N * P,
        }];
      }
      const total = A2 * N * P;
      const part = scratch(4 * splits * total, `${label} winograd partial sums`);
      return [{
        kernel, layer: label, pipeline: gemmPipe,
        bindings: conv2d.bind({ p: gemmUniform, x: v, w, bias: zeros, y: part }),
        workgroups: tileGrid(Math.ceil(N / BN), Math.ceil(P / BM), A2 * splits, maxDim),
        flops, bytes: bytesIn + 4 * splits * total,
      }, {
        kernel: 'conv2d_splitk_sum', layer: label, pipeline: sumPipe!,
        bindings: conv2dSplitkSum.bind({
          p: uniforms.get(`sum ${P}`, () => conv2dSplitkSum.pack({ total, splits, plane: P, channels: A2 * N })),
          part, bias: zeros, y,
        }),
        workgroups: grid1d(total, SUM_WG, maxDim),
        flops: (splits - 1) * total, bytes: 4 * (splits + 1) * total,
      }];
    },
    destroy() {
      zeros.destroy();
      uniforms.destroy();
    },
  };
}

export async function createWinogradConv(
  ctx: GpuContext, layer: ConvLayer, input: InputInfo, outShape: Shape, opts: WinogradConvOptions,
): Promise<ForwardOp> {
  const { m } = opts;
  const { alpha } = winogradMatrices(m);
  const A2 = alpha * alpha;
  const { inChannels: C, outChannels: Cout, pads } = layer;
  const [, inH, inW] = input.shape;
  const [, outH, outW] = outShape;
  const { tilesY, tilesX } = winogradTiles(outH, outW, m);
  const tps = tilesY * tilesX;
  const chunk = winogradChunk(layer, outH, outW, m, ctx.maxBinding);
  const where = `winograd conv2d for layer '${layer.name}'`;
  if (chunk < 1) throw new GpuError(`one sample's transformed tensors exceed the ${ctx.maxBinding}-byte binding limit`, 'limits', where);

  const gemm = await createWinogradGemm(ctx, layer.name, A2, C, Cout, { tile: opts.tile, fillWorkgroups: opts.fillWorkgroups });
  let shared: SharedBuffer | null = null;
  let bias: GPUBuffer | null = null;
  // Uniform buffers by (kernel, tiles in the chunk, first sample): written once, kept until destroy.
  const uniforms = new KeyedUniforms(ctx, layer.name);
  const destroy = () => {
    gemm.destroy();
    shared?.release();
    bias?.destroy();
    uniforms.destroy();
  };
  try {
    const held = opts.weights.acquire(layer.name, winogradWeightKey(m, gemm.tile.BK), () => {
      const { data } = convWeightLayout(winogradGemmLayer(layer, m), gemm.tile.BK);
      if (data.byteLength > ctx.maxBinding) {
        throw new GpuError(`transformed weight of ${data.byteLength} bytes exceeds the ${ctx.maxBinding}-byte binding limit`, 'limits', where);
      }
      return data;
    });
    shared = held;
    const b = ctx.upload(layer.bias, `${layer.name}.bias`);
    bias = b;
    const constants = { TM: m, WG };
    const [inPipe, outPipe] = await Promise.all([winogradInput.pipeline(ctx, constants), winogradOutput.pipeline(ctx, constants)]);
    const maxDim = ctx.limits.maxComputeWorkgroupsPerDimension;

    return {
      layer,
      dispatches(batch, [x], out, scratch) {
        const dispatches: Dispatch[] = [];
        const largest = Math.min(batch, chunk) * tps;
        const v = scratch(4 * A2 * C * largest, `${layer.name} winograd V`);
        const prod = scratch(4 * A2 * Cout * largest, `${layer.name} winograd M`);
        for (let n0 = 0; n0 < batch; n0 += chunk) {
          const P = Math.min(chunk, batch - n0) * tps;
          const inTotal = C * P;
          dispatches.push({
            kernel: 'winograd_input', layer: layer.name, pipeline: inPipe,
            bindings: winogradInput.bind({
              p: uniforms.get(`in ${P} ${n0}`, () => winogradInput.pack({
                C, inH, inW, padT: pads[0], padL: pads[1], tilesX, tilesPerSample: tps, P, n0, reluIn: input.relu ? 1 : 0, total: inTotal,
              })),
              x: x.buffer, v,
            }),
            workgroups: grid1d(inTotal, WG, maxDim),
            flops: 2 * inTotal * A2 * 2 * alpha, bytes: 4 * (inTotal * alpha * alpha + inTotal * A2),
          });
          dispatches.push(...gemm.dispatches(P, v, held.buffer, prod, scratch, 'winograd_gemm'));
          const outTotal = Cout * P;
          dispatches.push({
            kernel: 'winograd_output', layer: layer.name, pipeline: outPipe,
            bindings: winogradOutput.bind({
              p: uniforms.get(`out ${P} ${n0}`, () => winogradOutput.pack({ Cout, outH, outW, tilesX, tilesPerSample: tps, P, n0, total: outTotal })),
              m: prod, bias: b, y: out,
            }),
            workgroups: grid1d(outTotal, WG, maxDim),
            flops: 2 * outTotal * (m * alpha * alpha + m * m * alpha), bytes: 4 * (outTotal * A2 + outTotal * m * m),
          });
        }
        return dispatches;
      },
      destroy,
    };
  } catch (e) {
    destroy();
    throw e;
  }
}
