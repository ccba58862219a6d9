/**
 * A 3x3 stride-1 convolution as Winograd minimal filtering F(m x m, 3 x 3) (src/forward/winograd.ts
 * has the math and the choice): three dispatches per chunk of samples,
 *   1. the input transform V = B^T d B (shaders/forward/winograd_input.wgsl) into scratch,
 *   2. the element-wise stage, alpha^2 GEMMs [tiles x C_in] x [C_in x C_out], as the convolution
 *      GEMM kernel (shaders/forward/conv2d.wgsl) viewed as a grouped 1x1 convolution with one group
 *      per transform coordinate, with convTile's tile for that GEMM (and its split reduction where
 *      the tuning splits),
 *   3. the output transform Y = A^T M A + bias (shaders/forward/winograd_output.wgsl).
 *
 * Decisions:
 * - Separate transform kernels rather than the input transform inside the GEMM's A-loading stage:
 *   the GEMM kernel and its tuned tiles stay as they are, and on lavapipe the two transforms
 *   took 11 to 13% of VGG-16's Winograd convolution time at batch 1 (bench/RESULTS.md), which
 *   bounds what a fused kernel could save there.
 * - U = G g G^T is built once per layer, tile size and reduction depth, in the model's WeightStore
 *   under the key `winograd f<m> kn bk<BK>` (alpha^2 / 9 times the layer's weights: 16/9 for
 *   F(2,3), 4x for F(4,3)).
 * - A batch whose transformed input or products would pass one binding runs in chunks of samples;
 *   the scratch of the largest chunk is reused by the next (the queue runs them in order).
 */
import { GpuError } from '../gpu/errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import type { ConvLayer, Shape } from '../graph/ir.ts';
import type { WeightStore } from '../gpu/weight-store.ts';
import type { ForwardOp } from './op.ts';
import { grid1d, tileGrid } from '../gpu/grid.ts';
import { conv2d, conv2dSplitkSum, winogradInput, winogradOutput } from '../kernels/forward.ts';
import { gemmVariant } from '../gpu/subgroups.ts';
import type { InputInfo } from './tensor.ts';
import { convSplit, convTile, convWeightLayout, convWeightShape, defaultFill, tileFamily, tileFits, type ConvTile } from './conv.ts';
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

  const gemm = await gemmVariant(ctx);
  const tile = opts.tile ?? convTile(C, Cout, tileFamily(ctx, gemm));
  if (!tileFits(tile)) throw new Error(`conv tile ${JSON.stringify(tile)} does not fit the kernel`);
  const gemmLayerShape = { ...layer, inChannels: A2 * C, outChannels: A2 * Cout, groups: A2, kernel: [1, 1] as const };
  const { Kpad, Npad } = convWeightShape(gemmLayerShape as ConvLayer, tile.BK);
  const shared = opts.weights.acquire(layer.name, winogradWeightKey(m, tile.BK), () => {
    const { data } = convWeightLayout(winogradGemmLayer(layer, m), tile.BK);
    if (data.byteLength > ctx.maxBinding) {
      throw new GpuError(`transformed weight of ${data.byteLength} bytes exceeds the ${ctx.maxBinding}-byte binding limit`, 'limits', where);
    }
    return data;
  });
  const bias = ctx.upload(layer.bias, `${layer.name}.bias`);
  // The GEMM's own bias: zero (the output transform adds the layer's).
  const zeros = ctx.upload(new Float32Array(A2 * Cout), `${layer.name} winograd zero bias`);
  const constants = { TM: m, WG };
  const [inPipe, outPipe, gemmPipe] = await Promise.all([
    winogradInput.pipeline(ctx, constants),
    winogradOutput.pipeline(ctx, constants),
    conv2d.pipeline(ctx, { KH: 1, KW: 1, ...tile, ...gemm.constants }, gemm.variant),
  ]);
  const fill = opts.fillWorkgroups ?? defaultFill(ctx);
  const sumPipe = fill > 0 ? await conv2dSplitkSum.pipeline(ctx, { WG: SUM_WG }) : null;
  const BM = 4 * tile.PQ * tile.TX;
  const BN = tile.TN * tile.TY;
  const maxDim = ctx.limits.maxComputeWorkgroupsPerDimension;
  const splitOf = (P: number) => convSplit(Math.ceil(Cout / BN) * Math.ceil(P / BM) * A2, Kpad, tile.BK, 4 * A2 * Cout * P, ctx.maxBinding, fill);

  // Uniform buffers by (kernel, tiles in the chunk, first sample): written once, kept until destroy.
  const uniforms = new Map<string, GPUBuffer>();
  const uniform = (key: string, make: () => Uint32Array): GPUBuffer => {
    let u = uniforms.get(key);
    if (!u) {
      u = ctx.uniform(make(), `${layer.name} ${key} params`);
      uniforms.set(key, u);
    }
    return u;
  };

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
            p: uniform(`in ${P} ${n0}`, () => winogradInput.pack({
              C, inH, inW, padT: pads[0], padL: pads[1], tilesX, tilesPerSample: tps, P, n0, reluIn: input.relu ? 1 : 0, total: inTotal,
            })),
            x: x.buffer, v,
          }),
          workgroups: grid1d(inTotal, WG, maxDim),
          flops: 2 * inTotal * A2 * 2 * alpha, bytes: 4 * (inTotal * alpha * alpha + inTotal * A2),
        });
        const { splits, kChunk } = splitOf(P);
        const gemmUniform = uniform(`gemm ${P}`, () => conv2d.pack({
          batch: 1, inC: A2 * C, inH: 1, inW: P, outC: A2 * Cout, outH: 1, outW: P, groups: A2,
          strideH: 1, strideW: 1, padT: 0, padL: 0, dilH: 1, dilW: 1, cinPerGroup: C, coutPerGroup: Cout,
          K: C, Kpad, Npad, M: P, reluIn: 0, vecOut: P % 4 === 0 ? 1 : 0,
          splits, kChunk, splitStride: A2 * Cout * P,
        }));
        const gemmFlops = 2 * A2 * P * C * Cout;
        const gemmIn = 4 * (A2 * C * P + A2 * Kpad * Npad);
        if (splits === 1) {
          dispatches.push({
            kernel: 'winograd_gemm', layer: layer.name, pipeline: gemmPipe,
            bindings: conv2d.bind({ p: gemmUniform, x: v, w: shared.buffer, bias: zeros, y: prod }),
            workgroups: tileGrid(Math.ceil(Cout / BN), Math.ceil(P / BM), A2, maxDim),
            flops: gemmFlops, bytes: gemmIn + 4 * A2 * Cout * P,
          });
        } else {
          const total = A2 * Cout * P;
          const part = scratch(4 * splits * total, `${layer.name} winograd partial sums`);
          dispatches.push({
            kernel: 'winograd_gemm', layer: layer.name, pipeline: gemmPipe,
            bindings: conv2d.bind({ p: gemmUniform, x: v, w: shared.buffer, bias: zeros, y: part }),
            workgroups: tileGrid(Math.ceil(Cout / BN), Math.ceil(P / BM), A2 * splits, maxDim),
            flops: gemmFlops, bytes: gemmIn + 4 * splits * total,
          }, {
            kernel: 'conv2d_splitk_sum', layer: layer.name, pipeline: sumPipe!,
            bindings: conv2dSplitkSum.bind({
              p: uniform(`sum ${P}`, () => conv2dSplitkSum.pack({ total, splits, plane: P, channels: A2 * Cout })),
              part, bias: zeros, y: prod,
            }),
            workgroups: grid1d(total, SUM_WG, maxDim),
            flops: (splits - 1) * total, bytes: 4 * (splits + 1) * total,
          });
        }
        const outTotal = Cout * P;
        dispatches.push({
          kernel: 'winograd_output', layer: layer.name, pipeline: outPipe,
          bindings: winogradOutput.bind({
            p: uniform(`out ${P} ${n0}`, () => winogradOutput.pack({ Cout, outH, outW, tilesX, tilesPerSample: tps, P, n0, total: outTotal })),
            m: prod, bias, y: out,
          }),
          workgroups: grid1d(outTotal, WG, maxDim),
          flops: 2 * outTotal * (m * alpha * alpha + m * m * alpha), bytes: 4 * (outTotal * A2 + outTotal * m * m),
        });
      }
      return dispatches;
    },
    destroy() {
      shared.release();
      bias.destroy();
      zeros.destroy();
      for (const u of uniforms.values()) u.destroy();
      uniforms.clear();
    },
  };
}
