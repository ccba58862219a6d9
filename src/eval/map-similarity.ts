/**
 * The randomization check's two similarities between relevance maps, on the GPU
 * (shaders/similarity/): per pair of maps, the Spearman rank correlation and the mean SSIM. Only a
 * few numbers per map come back to the CPU; the maps themselves stay on the GPU.
 *
 * Decisions the protocol (shared/docs/evaluation-protocol.md, "Model-parameter randomization")
 * left open:
 * - The map compared is the relevance summed over channels, its absolute value, scaled by its
 *   largest |R| into [0, 1] (Quantus's MPRT defaults: `abs=True`, `normalise_by_max`). Both
 *   similarities are taken on that map; the absolute value makes a map and its sign flip alike,
 *   as in Adebayo et al.'s figures.
 * - Spearman: the Pearson correlation of average ranks (ties share the mean of their positions;
 *   scipy.stats.spearmanr). Ranks come from a bitonic sort of each map padded to a power of two
 *   (one dispatch per stage) and a binary search for each value's run of ties: O(P log^2 P) per
 *   map of P pixels. A first version counted, for every pixel, the pixels below and equal to it
 *   (one dispatch, O(P^2)): on the demo model's 64 × 64 maps it took 111 of a 158 s check on
 *   lavapipe, and 224 × 224 maps would need 2.5 G comparisons each.
 * - SSIM: Wang et al. 2004 as skimage.metrics.structural_similarity(a, b, data_range=1,
 *   gaussian_weights=True, sigma=1.5, use_sample_covariance=False), i.e. an 11 x 11 Gaussian
 *   window (truncate 3.5), K1 = 0.01, K2 = 0.03, averaged over the pixels at least 5 from every
 *   border (skimage's crop). Maps need at least 11 pixels on each side.
 * - A map whose largest |R| is 0 (no relevance reached the input) cannot be scaled: the pair is
 *   degenerate and both values are null (left out of means, counted). A map with a non-finite
 *   value is an error, never a similarity.
 * - Sums come back as float32; the correlation and the mean are formed from them in float64.
 */
import type { GpuContext } from '../gpu/context.ts';
import { grid1d } from '../gpu/grid.ts';
import type { UniformsByBatch } from '../gpu/uniforms.ts';
import { bitonicStep, pairSimilarity, rankSorted, scaleMap, sortInit } from '../kernels/similarity.ts';

/** skimage's SSIM window: sigma 1.5, truncated at 3.5 sigma, so 5 pixels either side. */
export const SSIM_SIGMA = 1.5;
export const SSIM_RADIUS = 5;
const WG = 256;

/** scipy.ndimage's 1-D Gaussian kernel of `radius` (exp(-x^2 / (2 sigma^2)), normalised to sum 1). */
export function gaussianWindow(sigma = SSIM_SIGMA, radius = SSIM_RADIUS): Float64Array {
  const w = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) sum += (w[i + radius] = Math.exp((-0.5 * i * i) / (sigma * sigma)));
  for (let i = 0; i < w.length; i++) w[i] /= sum;
  return w;
}

/** Scaled maps and their ranks on the GPU, for `count` maps; release() returns the buffers. */
export interface PreparedMaps {
  readonly count: number;
  /** count × H × W: |sum over channels of R| / its maximum. */
  readonly maps: GPUBuffer;
  /** count × H × W average ranks of `maps`. */
  readonly ranks: GPUBuffer;
  /** Per map: the largest finite |R| (0: degenerate). */
  readonly maxima: Float32Array;
  /** Per map: how many pixels were inf or NaN. */
  readonly nonFinite: Uint32Array;
  release(): void;
}

/** One pair's similarities; null when either map is degenerate (all zero) or has constant ranks. */
export interface MapPairSimilarity {
  readonly spearman: number | null;
  readonly ssim: number | null;
}

export class MapSimilarity {
  private constructor(
    private readonly ctx: GpuContext,
    readonly channels: number,
    readonly height: number,
    readonly width: number,
    /** Sort length: the smallest power of two >= H × W. */
    readonly pad: number,
    private readonly pipelines: { scale: GPUComputePipeline; init: GPUComputePipeline; step: GPUComputePipeline; rank: GPUComputePipeline; pair: GPUComputePipeline },
    private readonly scaleUniforms: UniformsByBatch,
    private readonly initUniforms: UniformsByBatch,
    private readonly rankUniforms: UniformsByBatch,
    private readonly pairUniforms: UniformsByBatch,
    private readonly window: GPUBuffer,
  ) {}

  /** The sort's stage uniforms per map count: one buffer per (k, j), made on first use. */
  private readonly stageUniforms = new Map<number, GPUBuffer[]>();

  private stages(count: number): { k: number; j: number; u: GPUBuffer }[] {
    const list: { k: number; j: number }[] = [];
    for (let k = 2; k <= this.pad; k *= 2) for (let j = k / 2; j >= 1; j /= 2) list.push({ k, j });
    let bufs = this.stageUniforms.get(count);
    if (!bufs) {
      bufs = list.map(({ k, j }) => this.ctx.uniform(bitonicStep.pack({ pad: this.pad, total: (count * this.pad) / 2, k, j }), `bitonic stage ${k}/${j} (${count} maps)`));
      this.stageUniforms.set(count, bufs);
    }
    return list.map((s, i) => ({ ...s, u: bufs[i] }));
  }

  get plane(): number {
    return this.height * this.width;
  }

  /** Pixels SSIM averages over: those at least SSIM_RADIUS from every border. */
  get interior(): number {
    return (this.height - 2 * SSIM_RADIUS) * (this.width - 2 * SSIM_RADIUS);
  }

  /** For relevance of one sample's shape `[channels, height, width]`. */
  static async create(ctx: GpuContext, shape: readonly number[]): Promise<MapSimilarity> {
    if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`map similarity needs a C×H×W input, got ${shape.join('×')}`);
    }
    const [c, h, w] = shape;
    const side = 2 * SSIM_RADIUS + 1;
    if (h < side || w < side) throw new Error(`SSIM's ${side}×${side} window needs maps of at least ${side}×${side} pixels; the model's input is ${h}×${w}`);
    const plane = h * w;
    if (plane >= 2 ** 23) throw new Error(`maps of ${h}×${w} pixels are too large to rank exactly in float32 (at most 2^23 pixels)`);
    const pad = 2 ** Math.ceil(Math.log2(Math.max(2, plane)));
    const [scale, init, step, rank, pair] = await ctx.guard('building the map similarity kernels', () => Promise.all([
      scaleMap.pipeline(ctx), sortInit.pipeline(ctx, { WG }), bitonicStep.pipeline(ctx, { WG }), rankSorted.pipeline(ctx, { WG }), pairSimilarity.pipeline(ctx),
    ]));
    const window = ctx.upload(Float32Array.from(gaussianWindow()), 'SSIM window');
    return new MapSimilarity(ctx, c, h, w, pad, { scale, init, step, rank, pair },
      scaleMap.uniformsByBatch(ctx, 'scale maps', (maps) => ({ channels: c, plane, maps })),
      sortInit.uniformsByBatch(ctx, 'sort init', (maps) => ({ plane, pad, total: maps * pad })),
      rankSorted.uniformsByBatch(ctx, 'rank sorted', (maps) => ({ plane, pad, total: maps * plane })),
      pairSimilarity.uniformsByBatch(ctx, 'map similarity', (pairs) => ({ height: h, width: w, pairs })),
      window,
    );
  }

  /** Scales and ranks the first `count` samples of `relevance` (N × C × H × W float32). */
  async prepare(relevance: GPUBuffer, count: number): Promise<PreparedMaps> {
    const { ctx, plane } = this;
    if (!Number.isInteger(count) || count < 1) throw new Error(`prepare needs a whole number of maps >= 1, got ${count}`);
    if (count > 65535) throw new Error(`at most 65535 maps per call, got ${count}`);
    if (relevance.size < 4 * count * this.channels * plane) throw new Error(`relevance buffer of ${relevance.size} bytes is too small for ${count} maps`);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const maps = ctx.pool.acquire(4 * count * plane, usage, 'scaled maps');
    const ranks = ctx.pool.acquire(4 * count * plane, usage, 'map ranks');
    const stats = ctx.pool.acquire(8 * count, usage, 'map maxima');
    const keys = ctx.pool.acquire(4 * count * this.pad, usage, 'sort keys');
    const idx = ctx.pool.acquire(4 * count * this.pad, usage, 'sort indices');
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      ctx.pool.release(maps);
      ctx.pool.release(ranks);
    };
    try {
      const pad = this.pad;
      await ctx.run(`scaling and ranking ${count} relevance maps`, [
        {
          kernel: 'scale-map', layer: 'sanity', pipeline: this.pipelines.scale,
          bindings: scaleMap.bind({ p: this.scaleUniforms.get(count), rel: relevance, maps, stats }),
          workgroups: grid1d(count, 1), bytes: 4 * count * (this.channels + 2) * plane,
        },
        {
          kernel: 'sort-init', layer: 'sanity', pipeline: this.pipelines.init,
          bindings: sortInit.bind({ p: this.initUniforms.get(count), maps, keys, idx }),
          workgroups: grid1d(count * pad, WG), bytes: 4 * count * (plane + 2 * pad),
        },
        ...this.stages(count).map(({ u }) => ({
          kernel: 'bitonic-step', layer: 'sanity', pipeline: this.pipelines.step,
          bindings: bitonicStep.bind({ p: u, keys, idx }),
          workgroups: grid1d((count * pad) / 2, WG), bytes: 16 * count * pad,
        })),
        {
          kernel: 'rank-sorted', layer: 'sanity', pipeline: this.pipelines.rank,
          bindings: rankSorted.bind({ p: this.rankUniforms.get(count), keys, idx, ranks }),
          workgroups: grid1d(count * plane, WG), bytes: 4 * count * 3 * plane,
        },
      ]);
      const raw = await ctx.read(stats, 0, 8 * count, 'reading the map maxima');
      const f = new Float32Array(raw);
      const u = new Uint32Array(raw);
      return {
        count, maps, ranks, release,
        maxima: Float32Array.from({ length: count }, (_, k) => f[2 * k]),
        nonFinite: Uint32Array.from({ length: count }, (_, k) => u[2 * k + 1]),
      };
    } catch (e) {
      release();
      throw e;
    } finally {
      ctx.pool.release(stats);
      ctx.pool.release(keys);
      ctx.pool.release(idx);
    }
  }

  /** Map k of `a` against map k of `b`, for every k (both of `count` maps from `prepare`). */
  async compare(a: PreparedMaps, b: PreparedMaps): Promise<MapPairSimilarity[]> {
    const { ctx } = this;
    if (a.count !== b.count) throw new Error(`compare needs as many maps on each side, got ${a.count} and ${b.count}`);
    const count = a.count;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const out = ctx.pool.acquire(16 * count, usage, 'map similarity sums');
    try {
      await ctx.run(`comparing ${count} pairs of relevance maps`, [{
        kernel: 'pair-similarity', layer: 'sanity', pipeline: this.pipelines.pair,
        bindings: pairSimilarity.bind({ p: this.pairUniforms.get(count), a: a.maps, b: b.maps, ra: a.ranks, rb: b.ranks, g: this.window, out }),
        workgroups: grid1d(count, 1), bytes: 16 * count * this.plane,
        flops: 2 * 5 * (2 * SSIM_RADIUS + 1) ** 2 * this.interior * count,
      }]);
      const sums = await ctx.readF32(out, 0, 4 * count, 'reading the map similarity sums');
      return Array.from({ length: count }, (_, k) => {
        if (!(a.maxima[k] > 0) || !(b.maxima[k] > 0)) return { spearman: null, ssim: null };
        const [sab, saa, sbb, ss] = [sums[4 * k], sums[4 * k + 1], sums[4 * k + 2], sums[4 * k + 3]];
        return { spearman: saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : null, ssim: ss / this.interior };
      });
    } finally {
      ctx.pool.release(out);
    }
  }

  destroy(): void {
    this.scaleUniforms.destroy();
    this.initUniforms.destroy();
    this.rankUniforms.destroy();
    for (const bufs of this.stageUniforms.values()) for (const b of bufs) b.destroy();
    this.stageUniforms.clear();
    this.pairUniforms.destroy();
    this.window.destroy();
  }
}
