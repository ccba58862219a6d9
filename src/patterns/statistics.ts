/**
 * PatternAttribution's statistics on the GPU: for every linear layer, the masked sums of
 * src/patterns/sums.ts over a statistics set, gathered from the activations of each batch's
 * forward pass (one forward pass serves every layer) and added into running sums that stay on the
 * GPU, compensated, until the end (or a checkpoint) reads them back.
 *
 * Per layer and batch (M = batch x output positions rows, K inputs per output, C outputs):
 *
 * - `stats_gemm` (shaders/patterns/stats_gemm.wgsl): sum m x and sum m x y, an implicit GEMM of the
 *   input patches against (m, m y) read from the stored output z, like a weight gradient:
 *   2 x M x K x 2C FLOPs, twice the layer's forward pass. Compulsory traffic: the input and z once
 *   (4 (N x inC x inH x inW + M x C) bytes; the patches overlap and are served from caches, as in
 *   the forward convolution) and a read and write of the running sums and their compensations,
 *   16 x 2CK bytes. For a convolution the FLOPs dominate (K x C x M rows against 2CK state); for
 *   a dense layer M is the batch and the state traffic dominates: VGG-16's fc6 moves 3.3 GB per
 *   batch for 3.3 GFLOP at batch 8, a memory-bound rank-8 update.
 * - `stats_fold` (shaders/patterns/stats_fold.wgsl), only where the reduction over rows is split
 *   into slices to fill the device (a first conv layer has K = 27 and one or two output tiles):
 *   splits x 2CK adds, 4 (splits + 4) x 2CK bytes.
 * - `stats_channels` (shaders/patterns/stats_channels.wgsl): sum y (all rows) and the count of
 *   m, per output: 3 x M x C FLOPs, 4 x M x C bytes (z once).
 *
 * Precision: each batch's sums are float32 (fma accumulations over the batch's rows, and the
 * slices of a split added in order); the running sums across batches are float32 pairs (sum and
 * compensation, Neumaier's summation), exact to about 2^-44 relative whatever the set's size,
 * so the spec's "never one running float32 sum" holds and only the end result comes back. The
 * state is 16 bytes per weight (sum and compensation of sum m x and sum m x y): VGG-16 needs
 * 2.2 GB, split into chunks of output rows that each fit one binding.
 *
 * Statistics see the layers a forward pass stores: a ReLU view is applied as the input is
 * gathered; pooling, LRN and the other layers are passed through (they only shape what the next
 * linear layer reads).
 */
import type { Dispatch, GpuContext } from '../gpu/context.ts';
import { BufferLease } from '../gpu/buffer-pool.ts';
import type { LinearLayer } from '../graph/ir.ts';
import { isLinear, valueInfo } from '../graph/ir.ts';
import type { Activations, ForwardModel } from '../forward/model.ts';
import { grid1d, tileGrid } from '../gpu/grid.ts';
import type { UniformsByBatch } from '../gpu/uniforms.ts';
import { statsChannels, statsFold, statsGemm } from '../kernels/patterns.ts';
import { linearGeometry, type LayerSums, type LinearGeometry } from './sums.ts';

/** One thread-block shape of stats_gemm.wgsl: TX x TY threads of PQ k-quads x TN columns, BR rows per step. */
export interface StatsTile {
  readonly TX: number;
  readonly TY: number;
  readonly PQ: number;
  readonly TN: number;
  readonly BR: number;
}

/** vec4 slots of the kernel's workgroup array (16 KiB). */
const TILE_VEC4 = 1024;

/**
 * The tile for a layer: the forward convolution's register blocks (src/forward/conv.ts, convTile:
 * 8 threads x 4 quads x 16 columns on a CPU adapter, 16 x 1 quad x 4 columns on a GPU), one quad
 * row where K fits in it (a first layer's K = 27), and the threads along the columns doubled up to
 * the 2C columns; then the deepest row step that fits. Few shapes on purpose: each is a pipeline,
 * and lavapipe compiles one for seconds (VGG-16 needs 2, the demo model 5).
 */
export function statsTile(K: number, columns: number, cpu: boolean): StatsTile {
  const [TX, widePQ, TN, maxTY] = cpu ? [8, 4, 16, 8] : [16, 1, 4, 16];
  const PQ = K <= 4 * TX ? 1 : widePQ;
  let TY = 1;
  while (TY < maxTY && TY * TN < columns) TY *= 2;
  const BR = Math.min(16, Math.floor(TILE_VEC4 / (PQ * TX + (TY * TN) / 4)));
  return { TX, TY, PQ, TN, BR };
}

/**
 * Whether the kernel takes a tile: its X and B tiles, and the epilogue's parked quad row, fit the
 * workgroup array, and each thread loads at most 4 column quads of a B row.
 */
export function statsTileFits(t: StatsTile): boolean {
  return t.BR * (t.PQ * t.TX + (t.TY * t.TN) / 4) <= TILE_VEC4 && t.TX * t.TY * t.TN <= TILE_VEC4 && t.TY * t.TN <= 16 * t.TX
    && t.TX % 8 === 0 && t.TN % 4 === 0 && t.TN >= 4 && t.TN <= 32 && t.PQ >= 1 && t.PQ <= 4 && t.BR >= 1 && t.TX * t.TY <= 256;
}

/**
 * Workgroups to offer before the reduction over rows is split: four per SM of a large GPU (as the
 * forward convolution's FILL_WORKGROUPS); on a CPU adapter enough for its worker threads (lavapipe
 * runs one per core) with room for machines of up to 64 cores.
 */
const FILL = { gpu: 528, cpu: 64 } as const;
const MIN_STEPS_PER_SPLIT = 8;
const MAX_SPLITS = 256;

/** Slices of the rows: enough to fill the device, each at least MIN_STEPS_PER_SPLIT row steps. */
export function statsSplit(tiles: number, rows: number, BR: number, sliceBytes: number, maxBinding: number, fill: number): { splits: number; rChunk: number } {
  const steps = Math.ceil(rows / BR);
  let splits = Math.min(MAX_SPLITS, Math.floor(steps / MIN_STEPS_PER_SPLIT), Math.ceil(fill / tiles), Math.floor(maxBinding / sliceBytes));
  if (splits <= 1) return { splits: 1, rChunk: steps * BR };
  const rChunk = Math.ceil(steps / splits) * BR;
  splits = Math.ceil(rows / rChunk);
  return { splits, rChunk };
}

const FOLD_WG = 256;

/** Running sums on the GPU: one buffer of `length` sums followed by their `length` compensations. */
interface Accumulator {
  readonly buffer: GPUBuffer;
  readonly length: number;
}

interface Chunk {
  /** First channel of the chunk within each group, and channels per group. */
  readonly chBase: number;
  readonly nCh: number;
  /** (half, g, c, k) sums: 2 x groups x nCh x K. */
  readonly state: Accumulator;
  /** How a batch's rows are sliced (statsSplit). */
  readonly split: (batch: number) => { splits: number; rChunk: number };
  readonly uniforms: UniformsByBatch;
  readonly foldUniforms: UniformsByBatch;
}

interface LayerStats {
  readonly layer: LinearLayer;
  readonly geometry: LinearGeometry;
  readonly tile: StatsTile;
  readonly pipeline: GPUComputePipeline;
  readonly bias: GPUBuffer;
  readonly chunks: readonly Chunk[];
  /** [sum y (C), count (C)]. */
  readonly channels: Accumulator;
  readonly channelUniforms: UniformsByBatch;
  readonly inElements: number;
}

/** What a layer's statistics cost per batch, for `--verbose`, the bench and patterns.json. */
export interface StatsCost {
  readonly layer: string;
  readonly flops: number;
  readonly bytes: number;
  /** Bytes of running sums on the GPU. */
  readonly stateBytes: number;
  /** Chunks of output channels the sums are split into (one binding each). */
  readonly chunks: number;
  /** The most row slices of a chunk's GEMM (1: unsplit). */
  readonly splits: number;
}

export interface StatisticsOptions {
  /** A tile per layer instead of statsTile's choice (benchmarks). */
  readonly tile?: (K: number, columns: number) => StatsTile;
  /** At most this many output channels per chunk of sums (tests chunk small layers this way). */
  readonly chunkChannels?: number;
}

/** The raw running sums, for checkpoints: every accumulator's sums and compensations, in a fixed order. */
export interface StatsSnapshot {
  readonly samples: number;
  readonly batches: number;
  readonly arrays: Float32Array[];
}

export class PatternStatistics {
  private samplesSeen = 0;
  private batchesSeen = 0;

  private constructor(
    readonly forward: ForwardModel,
    private readonly layers: readonly LayerStats[],
    private readonly foldPipeline: GPUComputePipeline,
    private readonly channelPipeline: GPUComputePipeline,
  ) {}

  get ctx(): GpuContext {
    return this.forward.ctx;
  }

  /** Samples added so far. */
  get samples(): number {
    return this.samplesSeen;
  }

  get batches(): number {
    return this.batchesSeen;
  }

  /** The linear layers, in forward order. */
  get linearLayers(): readonly LinearLayer[] {
    return this.layers.map((l) => l.layer);
  }

  static async create(forward: ForwardModel, opts: StatisticsOptions = {}): Promise<PatternStatistics> {
    const { ctx, graph } = forward;
    const cpu = ctx.tuning === 'cpu';
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const made: LayerStats[] = [];
    const accumulator = (length: number, label: string): Accumulator => {
      const bytes = 8 * length;
      if (bytes > ctx.maxBinding) throw new Error(`internal: ${label} of ${bytes} bytes exceeds the binding limit`);
      return { buffer: ctx.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage, label }), length };
    };
    try {
      await ctx.guard(`preparing the pattern statistics of '${graph.name}'`, async () => {
        for (const layer of graph.layers) {
          if (!isLinear(layer)) continue;
          const inShape = valueInfo(graph, layer.inputs[0]).shape;
          const outShape = valueInfo(graph, layer.output).shape;
          const g = linearGeometry(layer, outShape);
          const input = forward.info.get(layer.inputs[0])!;
          const coutPG = g.outputs / g.groups;
          // The chunk's running sums (two halves, sums and compensations: 16 bytes per weight) within one binding.
          const perChannel = 16 * g.groups * g.fanIn;
          const maxCh = Math.floor(ctx.maxBinding / perChannel);
          if (maxCh < 1) throw new Error(`layer '${layer.name}': the statistics of one output (${perChannel} bytes) exceed the ${ctx.maxBinding}-byte binding limit`);
          const chunkCh = Math.min(coutPG, maxCh, opts.chunkChannels ?? Infinity);
          const tile = opts.tile ? opts.tile(g.fanIn, 2 * chunkCh) : statsTile(g.fanIn, 2 * chunkCh, cpu);
          if (!statsTileFits(tile)) {
            throw new Error(`stats tile ${JSON.stringify(tile)} does not fit the kernel`);
          }
          const [kh, kw] = layer.kind === 'conv' ? layer.kernel : [1, 1];
          const pipeline = await statsGemm.pipeline(ctx, { ...tile });
          // A dense layer is a 1x1 convolution of a 1x1 map whose channels are its input features.
          const conv = layer.kind === 'conv' ? layer : null;
          const [inC, inH, inW] = conv ? inShape : [g.fanIn, 1, 1];
          const [outH, outW] = conv ? [outShape[1], outShape[2]] : [1, 1];
          const chunks: Chunk[] = [];
          for (let chBase = 0; chBase < coutPG; chBase += chunkCh) {
            const nCh = Math.min(chunkCh, coutPG - chBase);
            const tag = nCh < coutPG ? `[${chBase}:${chBase + nCh}]` : '';
            const stateLen = 2 * g.groups * nCh * g.fanIn;
            const tiles = Math.ceil(g.fanIn / (4 * tile.PQ * tile.TX)) * Math.ceil((2 * nCh) / (tile.TN * tile.TY)) * g.groups;
            const split = (batch: number) => statsSplit(tiles, batch * g.plane, tile.BR, 4 * stateLen, ctx.maxBinding, FILL[ctx.tuning]);
            chunks.push({
              chBase, nCh, split,
              state: accumulator(stateLen, `${layer.name} pattern sums${tag}`),
              uniforms: statsGemm.uniformsByBatch(ctx, `${layer.name} stats${tag}`, (batch) => {
                const { splits, rChunk } = split(batch);
                return {
                  inC, inH, inW, outC: g.outputs,
                  outH, outW, strideH: conv?.stride[0] ?? 1, strideW: conv?.stride[1] ?? 1,
                  padT: conv?.pads[0] ?? 0, padL: conv?.pads[1] ?? 0, dilH: conv?.dilation[0] ?? 1, dilW: conv?.dilation[1] ?? 1,
                  cinPerGroup: inC / g.groups, coutPerGroup: coutPG, K: g.fanIn, plane: g.plane,
                  M: batch * g.plane, chBase, nCh, groups: g.groups,
                  splits, rChunk, stateLen, reluIn: input.relu ? 1 : 0,
                  kh, kw,
                };
              }),
              foldUniforms: statsFold.uniformsByBatch(ctx, `${layer.name} stats fold${tag}`, (batch) => ({ total: stateLen, splits: split(batch).splits })),
            });
          }
          made.push({
            layer, geometry: g, tile, pipeline, chunks,
            bias: ctx.upload(layer.bias, `${layer.name}.bias (pattern statistics)`),
            channels: accumulator(2 * g.outputs, `${layer.name} pattern sums of y and m`),
            channelUniforms: statsChannels.uniformsByBatch(ctx, `${layer.name} channel stats`, (batch) => ({ batch, channels: g.outputs, plane: g.plane })),
            inElements: inC * inH * inW,
          });
        }
      });
      const [fold, channels] = await Promise.all([statsFold.pipeline(ctx, { WG: FOLD_WG }), statsChannels.pipeline(ctx)]);
      return new PatternStatistics(forward, made, fold, channels);
    } catch (e) {
      for (const l of made) destroyLayer(l);
      throw e;
    }
  }

  /** The dispatches adding one batch's statistics; `scratch` holds split partial sums until they run. */
  private dispatches(acts: Activations, scratch: (bytes: number, label: string) => GPUBuffer): Dispatch[] {
    const batch = acts.batch;
    const maxDim = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    const out: Dispatch[] = [];
    for (const l of this.layers) {
      const { layer, geometry: g, tile } = l;
      const x = acts.get(layer.inputs[0]);
      const z = acts.get(layer.output);
      const M = batch * g.plane;
      const BM = 4 * tile.PQ * tile.TX;
      const BN = tile.TN * tile.TY;
      for (const ch of l.chunks) {
        const params = ch.uniforms.get(batch);
        const { splits } = ch.split(batch);
        const flops = 2 * M * g.fanIn * 2 * ch.nCh * g.groups;
        const inBytes = 4 * (batch * l.inElements + M * g.outputs);
        const part = splits > 1 ? scratch(4 * splits * ch.state.length, `${layer.name} pattern partial sums`) : ch.state.buffer;
        out.push({
          kernel: 'stats_gemm', layer: layer.name, pipeline: l.pipeline,
          bindings: statsGemm.bind({ p: params, x: x.buffer, z: z.buffer, bias: l.bias, state: ch.state.buffer, part: splits > 1 ? part : this.dummy(scratch) }),
          workgroups: tileGrid(Math.ceil((2 * ch.nCh) / BN), Math.ceil(g.fanIn / BM), g.groups * splits, maxDim),
          flops, bytes: inBytes + (splits > 1 ? 4 * splits * ch.state.length : 16 * ch.state.length),
        });
        if (splits > 1) {
          out.push({
            kernel: 'stats_fold', layer: layer.name, pipeline: this.foldPipeline,
            bindings: statsFold.bind({ p: ch.foldUniforms.get(batch), part, state: ch.state.buffer }),
            workgroups: grid1d(ch.state.length, FOLD_WG, maxDim),
            flops: splits * ch.state.length, bytes: 4 * (splits + 4) * ch.state.length,
          });
        }
      }
      out.push({
        kernel: 'stats_channels', layer: layer.name, pipeline: this.channelPipeline,
        bindings: statsChannels.bind({ p: l.channelUniforms.get(batch), z: z.buffer, bias: l.bias, state: l.channels.buffer }),
        workgroups: grid1d(g.outputs, 1, maxDim),
        flops: 3 * M * g.outputs, bytes: 4 * M * g.outputs,
      });
    }
    return out;
  }

  private dummy(scratch: (bytes: number, label: string) => GPUBuffer): GPUBuffer {
    return scratch(16, 'unused partial sums');
  }

  /** Adds the statistics of a batch whose forward pass has run (`acts` from this model). */
  async accumulate(acts: Activations, opts: { profile?: boolean } = {}): Promise<import('../gpu/profiler.ts').KernelTiming[] | null> {
    if (acts.graph !== this.forward.graph) throw new Error('pattern statistics: the activations come from another model');
    const lease = new BufferLease(this.ctx.pool, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    try {
      const timings = await this.ctx.run(`pattern statistics of '${this.forward.graph.name}' (batch ${acts.batch})`,
        this.dispatches(acts, (bytes, label) => lease.acquire(bytes, label)), opts);
      this.samplesSeen += acts.batch;
      this.batchesSeen++;
      return timings;
    } finally {
      lease.release();
    }
  }

  /** FLOPs and bytes per layer for a batch (see the file header). */
  cost(batch: number): StatsCost[] {
    return this.layers.map((l) => {
      const g = l.geometry;
      const M = batch * g.plane;
      const state = l.chunks.reduce((s, c) => s + c.state.length, 0);
      const splits = l.chunks.map((c) => c.split(batch).splits);
      const flops = 2 * M * g.fanIn * 2 * g.outputs + l.chunks.reduce((s, c, i) => s + (splits[i] > 1 ? splits[i] * c.state.length : 0), 0) + 3 * M * g.outputs;
      const bytes = l.chunks.reduce((s, c, i) => s + (splits[i] > 1 ? 4 * splits[i] * c.state.length + 4 * (splits[i] + 4) * c.state.length : 16 * c.state.length), 0)
        + 4 * (batch * l.inElements + M * g.outputs) + 4 * M * g.outputs;
      return { layer: l.layer.name, flops, bytes, stateBytes: 8 * (state + l.channels.length), chunks: l.chunks.length, splits: Math.max(...splits) };
    });
  }

  /** The float64 sums of every linear layer (sum + compensation of each running sum). */
  async read(): Promise<LayerSums[]> {
    const out: LayerSums[] = [];
    for (const l of this.layers) out.push(await this.readLayer(l));
    return out;
  }

  /** The float64 sums of one layer, by name. */
  async readLayer(l: LayerStats | string): Promise<LayerSums> {
    const ls = typeof l === 'string' ? this.layers.find((x) => x.layer.name === l) : l;
    if (!ls) throw new Error(`pattern statistics: no linear layer named '${l as string}'`);
    const { geometry: g, layer } = ls;
    const K = g.fanIn;
    const coutPG = g.outputs / g.groups;
    const sx = new Float64Array(g.outputs * K);
    const sxy = new Float64Array(g.outputs * K);
    for (const ch of ls.chunks) {
      const v = await this.readAccumulator(ch.state, `${layer.name} pattern sums`);
      for (let half = 0; half < 2; half++) {
        const dst = half === 0 ? sx : sxy;
        for (let grp = 0; grp < g.groups; grp++) {
          for (let c = 0; c < ch.nCh; c++) {
            const src = ((half * g.groups + grp) * ch.nCh + c) * K;
            const co = grp * coutPG + ch.chBase + c;
            for (let k = 0; k < K; k++) dst[co * K + k] = v.sum[src + k] + v.comp[src + k];
          }
        }
      }
    }
    const cv = await this.readAccumulator(ls.channels, `${layer.name} pattern sums of y and m`);
    const C = g.outputs;
    const sy = new Float64Array(C);
    const count = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      sy[c] = cv.sum[c] + cv.comp[c];
      count[c] = cv.sum[C + c] + cv.comp[C + c];
    }
    return { layer: layer.name, outputs: C, fanIn: K, rows: this.samplesSeen * g.plane, sx, sxy, sy, count };
  }

  private async readAccumulator(a: Accumulator, what: string): Promise<{ sum: Float32Array; comp: Float32Array }> {
    const all = await this.ctx.readF32(a.buffer, 0, 2 * a.length, `reading ${what}`);
    return { sum: all.subarray(0, a.length), comp: all.subarray(a.length) };
  }

  /** Every accumulator in a fixed order (per layer: its chunks, then its per-output sums). */
  private accumulators(): Accumulator[] {
    return this.layers.flatMap((l) => [...l.chunks.map((c) => c.state), l.channels]);
  }

  /** Sizes (floats) of the snapshot's arrays, to check a checkpoint against this model. */
  snapshotLayout(): number[] {
    return this.accumulators().map((a) => 2 * a.length);
  }

  /** The exact state (float32 sums and compensations) and the samples it covers: restore() continues bit for bit. */
  async snapshot(): Promise<StatsSnapshot> {
    const arrays: Float32Array[] = [];
    for (const a of this.accumulators()) arrays.push(await this.ctx.readF32(a.buffer, 0, 2 * a.length, 'reading pattern statistics for a checkpoint'));
    return { samples: this.samplesSeen, batches: this.batchesSeen, arrays };
  }

  restore(s: StatsSnapshot): void {
    const accs = this.accumulators();
    if (s.arrays.length !== accs.length || s.arrays.some((a, i) => a.length !== 2 * accs[i].length)) {
      throw new Error(`pattern statistics: the snapshot holds ${s.arrays.length} arrays that do not match this model's ${accs.length}`);
    }
    accs.forEach((a, i) => this.ctx.writeBuffer(a.buffer, 0, s.arrays[i]));
    this.samplesSeen = s.samples;
    this.batchesSeen = s.batches;
  }

  destroy(): void {
    for (const l of this.layers) destroyLayer(l);
  }
}

function destroyLayer(l: LayerStats): void {
  l.bias.destroy();
  l.channels.buffer.destroy();
  l.channelUniforms.destroy();
  for (const c of l.chunks) {
    c.state.buffer.destroy();
    c.uniforms.destroy();
    c.foldUniforms.destroy();
  }
}
