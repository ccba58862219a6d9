import type { ConvLayer } from '../graph/ir.ts';
import { GpuError } from '../gpu/errors.ts';
import type { ForwardOpFactory } from './op.ts';
import { UniformsByBatch } from './op.ts';

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
 * Whether the device is a CPU implementation (lavapipe, SwiftShader): SIMD lanes across
 * invocations, where every workgroup-memory read in a loop costs a per-lane loop, so thread
 * blocks must be wide; on a GPU they must stay within the register file.
 */
export function isCpuDevice(device: GPUDevice): boolean {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (!info) return false;
  return info.architecture === 'software' || (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true
    || /llvmpipe|lavapipe|swiftshader/i.test(`${info.description} ${info.device}`);
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
 * The tile for a layer. Output channels per group (N) set the width: 128-wide tiles where
 * N allows, narrower ones for thin layers (64 for VGG's first two), so few columns idle.
 * CPU: 8 threads along m (one SIMD vector) x 4 quads = 128 pixels, 16 channels per thread
 * (16 x 16 = 256 accumulators), which amortises each workgroup-memory read over 64 FMAs.
 * GPU: 16 x 16 threads of 2 quads x 8 channels (64 accumulators), a 128 x 128 tile.
 */
export function convTile(K: number, N: number, cpu: boolean): ConvTile {
  const [TX, widePQ, wideTN, maxTY] = cpu ? [8, 4, 16, 8] : [16, 2, 8, 16];
  const TN = Math.min(wideTN, Math.ceil(N / 4) * 4);
  // Thin layers: a smaller block (compiles faster; such layers are small anyway).
  const PQ = TN < wideTN ? 2 : widePQ;
  let TY = 1;
  while (TY < maxTY && TY * TN < N) TY *= 2;
  const maxBK = Math.min(16, Math.floor(TILE_VEC4 / (PQ * TX + (TY * TN) / 4)));
  return { TX, TY, PQ, TN, BK: chooseBK(K, maxBK) };
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

export const createConv: ForwardOpFactory<ConvLayer> = async (ctx, layer, inputs, outShape) => {
  const [input] = inputs;
  const { groups, outChannels, inChannels, kernel, stride, pads, dilation } = layer;
  const [, inH, inW] = input.shape;
  const [, outH, outW] = outShape;
  const coutPG = outChannels / groups;
  const K = (inChannels / groups) * kernel[0] * kernel[1];
  const tile = convTile(K, coutPG, isCpuDevice(ctx.device));
  if (!tileFits(tile)) throw new Error(`conv tile ${JSON.stringify(tile)} does not fit the kernel`);
  const { data, Kpad, Npad } = convWeightLayout(layer, tile.BK);
  if (data.byteLength > ctx.maxBinding) {
    throw new GpuError(`weight of ${data.byteLength} bytes exceeds the ${ctx.maxBinding}-byte binding limit`, 'limits', `conv2d for layer '${layer.name}'`);
  }
  const weight = ctx.upload(data, `${layer.name}.weight`);
  const bias = ctx.upload(layer.bias, `${layer.name}.bias`);
  const pipeline = await ctx.pipelines.get('forward/conv2d.wgsl', {
    KH: kernel[0], KW: kernel[1], ...tile,
  });
  const BM = 4 * tile.PQ * tile.TX;
  const BN = tile.TN * tile.TY;
  const uniforms = new UniformsByBatch(ctx, layer.name, (batch) => Uint32Array.of(
    batch, inChannels, inH, inW,
    outChannels, outH, outW, groups,
    stride[0], stride[1], pads[0], pads[1],
    dilation[0], dilation[1], inChannels / groups, coutPG,
    K, Kpad, Npad, batch * outH * outW,
    input.relu ? 1 : 0,
    // Whole vec4s per output plane: aligned vec4 stores (the pool hands out buffers in multiples
    // of 64 bytes, so the kernel's vec4 view of the output covers every float).
    (outH * outW) % 4 === 0 ? 1 : 0,
  ));
  return {
    layer,
    dispatches(batch, [x], out) {
      const M = batch * outH * outW;
      if (out.size % 16 !== 0) throw new Error(`conv2d for layer '${layer.name}': output buffer of ${out.size} bytes is not a whole number of vec4s`);
      return [{
        kernel: 'conv2d', layer: layer.name, pipeline,
        bindings: [uniforms.get(batch), x.buffer, weight, bias, out],
        workgroups: [Math.ceil(coutPG / BN), Math.ceil(M / BM), groups],
        flops: 2 * M * outChannels * K,
        bytes: 4 * (batch * inChannels * inH * inW + groups * K * coutPG + M * outChannels),
      }];
    },
    destroy() {
      weight.destroy();
      bias.destroy();
      uniforms.destroy();
    },
  };
};
