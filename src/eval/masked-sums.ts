/**
 * The evaluation's per-pair reduction on the GPU (shaders/metrics/masked_sums.wgsl): from a batch's
 * input relevance (N × C × H × W, left on the GPU by Explainer.relevanceOnGpu) and one mask per
 * pair, R_in, R_tot and S_in per pair; only those few numbers come back to the CPU. Also the
 * channel-summed maps themselves (shaders/metrics/channel_sum.wgsl), for --save-relevance.
 */
import type { GpuContext } from '../gpu/context.ts';
import { grid1d } from '../gpu/grid.ts';
import type { UniformsByBatch } from '../gpu/uniforms.ts';
import { channelSum, maskedSums } from '../kernels/metrics.ts';

const CHANNEL_SUM_WG = 64;

/** One pair of a reduction: which relevance sample (index in the batch) and which H × W 0/1 mask. */
export interface MaskedPair {
  readonly sample: number;
  readonly mask: Uint8Array;
}

/** The reduction of one pair. R_in and R_tot are float32 sums (f64 here only as a container). */
export interface PairSums {
  readonly R_in: number;
  readonly R_tot: number;
  readonly S_in: number;
  readonly S_tot: number;
}

/** u32 words per packed mask of `plane` pixels. */
export function maskWords(plane: number): number {
  return Math.ceil(plane / 32);
}

/** Packs 0/1 masks (any non-zero byte counts as 1), `maskWords(plane)` words each, pixel i at bit i & 31 of word i >> 5. */
export function packMasks(masks: readonly Uint8Array[], plane: number): Uint32Array {
  const words = maskWords(plane);
  const out = new Uint32Array(Math.max(1, masks.length * words));
  masks.forEach((m, k) => {
    if (m.length !== plane) throw new Error(`mask ${k} has ${m.length} pixels, expected ${plane}`);
    const base = k * words;
    for (let i = 0; i < plane; i++) if (m[i]) out[base + (i >>> 5)] |= 1 << (i & 31);
  });
  return out;
}

export class MaskedSums {
  private constructor(
    private readonly ctx: GpuContext,
    readonly channels: number,
    readonly height: number,
    readonly width: number,
    private readonly sumsPipeline: GPUComputePipeline,
    private readonly channelSumPipeline: GPUComputePipeline,
    private readonly sumsUniforms: UniformsByBatch,
    private readonly channelSumUniforms: UniformsByBatch,
  ) {}

  get plane(): number {
    return this.height * this.width;
  }

  /** For relevance of one sample's shape `[channels, height, width]`. */
  static async create(ctx: GpuContext, shape: readonly number[]): Promise<MaskedSums> {
    if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`masked sums need a C×H×W input, got ${shape.join('×')}`);
    }
    const [c, h, w] = shape;
    const plane = h * w;
    const [sums, chSum] = await ctx.guard('building the metric kernels', () => Promise.all([
      maskedSums.pipeline(ctx),
      channelSum.pipeline(ctx, { WG: CHANNEL_SUM_WG }),
    ]));
    return new MaskedSums(ctx, c, h, w, sums, chSum,
      maskedSums.uniformsByBatch(ctx, 'masked sums', (pairs) => ({ channels: c, plane, pairs, words: maskWords(plane) })),
      channelSum.uniformsByBatch(ctx, 'channel sum', (n) => ({ total: n * plane, channels: c, plane })),
    );
  }

  /**
   * Reduces `relevance` (at least max(sample)+1 samples of C × H × W float32) against each pair's
   * mask. Pairs may share a sample (several masks on one map).
   */
  async compute(relevance: GPUBuffer, pairs: readonly MaskedPair[]): Promise<PairSums[]> {
    if (pairs.length === 0) return [];
    const { ctx, plane } = this;
    const per = this.channels * plane;
    const need = (Math.max(...pairs.map((p) => p.sample)) + 1) * per * 4;
    if (relevance.size < need) throw new Error(`relevance buffer of ${relevance.size} bytes is too small for the pairs' samples (${need} bytes)`);
    const masks = packMasks(pairs.map((p) => p.mask), plane);
    const table = new Uint32Array(2 * pairs.length);
    pairs.forEach((p, k) => {
      if (!Number.isInteger(p.sample) || p.sample < 0) throw new Error(`pair ${k}: bad sample index ${p.sample}`);
      table[2 * k] = p.sample;
      table[2 * k + 1] = k;
    });
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const maskBuf = ctx.pool.acquire(masks.byteLength, usage, 'pair masks');
    const tableBuf = ctx.pool.acquire(table.byteLength, usage, 'pair table');
    const outBuf = ctx.pool.acquire(16 * pairs.length, usage, 'pair sums');
    try {
      ctx.writeBuffer(maskBuf, 0, masks);
      ctx.writeBuffer(tableBuf, 0, table);
      await ctx.run(`masked sums of ${pairs.length} pairs`, [{
        kernel: 'masked-sums', layer: 'metrics', pipeline: this.sumsPipeline,
        bindings: maskedSums.bind({ p: this.sumsUniforms.get(pairs.length), rel: relevance, masks: maskBuf, table: tableBuf, out: outBuf }),
        workgroups: grid1d(pairs.length, 1),
        bytes: 4 * pairs.length * (per + maskWords(plane)),
      }]);
      const raw = await ctx.read(outBuf, 0, 16 * pairs.length, 'reading the pair sums');
      const f = new Float32Array(raw);
      const u = new Uint32Array(raw);
      return pairs.map((_, k) => ({ R_in: f[4 * k], R_tot: f[4 * k + 1], S_in: u[4 * k + 2], S_tot: plane }));
    } finally {
      ctx.pool.release(maskBuf);
      ctx.pool.release(tableBuf);
      ctx.pool.release(outBuf);
    }
  }

  /** The first `count` samples of `relevance` summed over channels: count × H × W float32. */
  async channelSums(relevance: GPUBuffer, count: number): Promise<Float32Array> {
    const { ctx, plane } = this;
    if (count === 0) return new Float32Array(0);
    const outBuf = ctx.pool.acquire(4 * count * plane, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'channel-summed relevance');
    try {
      await ctx.run(`channel sums of ${count} relevance maps`, [{
        kernel: 'channel-sum', layer: 'metrics', pipeline: this.channelSumPipeline,
        bindings: channelSum.bind({ p: this.channelSumUniforms.get(count), rel: relevance, out: outBuf }),
        workgroups: grid1d(count * plane, CHANNEL_SUM_WG),
      }]);
      return await ctx.readF32(outBuf, 0, count * plane, 'reading the channel-summed relevance');
    } finally {
      ctx.pool.release(outBuf);
    }
  }

  destroy(): void {
    this.sumsUniforms.destroy();
    this.channelSumUniforms.destroy();
  }
}

/**
 * The same numbers on the CPU in float64, from a C × H × W relevance (the reference for tests and
 * for the Baseline's analytic values).
 */
export function maskedSumsCpu(rel: ArrayLike<number>, channels: number, plane: number, mask: ArrayLike<number>, offset = 0): PairSums {
  let rIn = 0;
  let rTot = 0;
  let sIn = 0;
  for (let i = 0; i < plane; i++) {
    let r = 0;
    for (let c = 0; c < channels; c++) r += rel[offset + c * plane + i];
    const pos = r > 0 ? r : 0;
    rTot += pos;
    if (mask[i]) {
      rIn += pos;
      sIn++;
    }
  }
  return { R_in: rIn, R_tot: rTot, S_in: sIn, S_tot: plane };
}
