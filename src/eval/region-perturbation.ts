/**
 * Region perturbation (Samek et al. 2017; shared/docs/evaluation-protocol.md, "Faithfulness"):
 * per (sample, class), the class logit as the input loses its patches in the order of a relevance
 * map, most relevant first (MoRF) and least relevant first (LeRF), and its AOPC. Browser-safe.
 *
 * Everything between the relevance and the logits runs on the GPU (shaders/metrics/): the patch
 * scores (patch_scores.wgsl), both orders of every row as ranks (patch_ranks.wgsl), the perturbed
 * inputs of every step (perturb.wgsl) in batches that go straight into the model's forward pass.
 * Only the class logits come back.
 *
 * Decisions the protocol leaves open:
 * - Steps: x_1 .. x_L are run (L = `steps`); x_0 is the clean input, whose logit f(x_0) the caller
 *   has from its own forward pass. A curve is the L + 1 logits f(x_0), f(x_1), ..., f(x_L).
 * - The image's index, which seeds `uniform:SEED` and the random order: the position of the image
 *   in the run's sorted list of every image id of the dataset (before --limit and --shard, so
 *   shards and reruns agree); for `lrp explain` and `Explanation.aopc`, the sample's position in
 *   the batch explained.
 * - `uniform:SEED`: one baseline picture per image, value e (c·H·W + y·W + x) of image i being
 *   `(keyed(baselineKey(SEED, i), e) >> 8) · 2^-23 - 1`, uniform on [-1, 1) in steps of 2^-23,
 *   with keyed(k, e) = fmix32(k ^ fmix32(e ^ 0x9e3779b9)) and
 *   baselineKey(s, i) = fmix32(fmix32(s ^ 0x243f6a88) ^ i) (fmix32: MurmurHash3's finaliser).
 *   A replaced value keeps its baseline value at every later step.
 * - The random-order row scores patch j of image i by `keyed(orderKey(i), j) >> 8` with
 *   orderKey(i) = fmix32(fmix32(RANDOM_ORDER_SEED ^ 0x13198a2e) ^ i), seed 0, and is perturbed like
 *   an analyzer: its MoRF is that random order and its LeRF the reverse, so it has an AOPC-MoRF,
 *   an AOPC-LeRF and an ABPC (near 0) like every analyzer. It depends on the image only, not on the
 *   class or an analyzer.
 * - Patch scores are float32 sums on the GPU; orders are exact on those sums (ties: row-major).
 */
import { describeValue } from '../io/arguments.ts';
import type { ForwardModel } from '../forward/model.ts';
import type { GpuContext } from '../gpu/context.ts';
import { grid1d } from '../gpu/grid.ts';
import type { UniformsByBatch } from '../gpu/uniforms.ts';
import { numel, valueInfo } from '../graph/ir.ts';
import { patchRanks, patchScores, perturb } from '../kernels/metrics.ts';
import { fmix32 } from '../synth/rng.ts';

/** What replaces a patch: 0 in the normalised input, or seeded uniform values in [-1, 1). */
export type Baseline = { readonly kind: 'zero' } | { readonly kind: 'uniform'; readonly seed: number };

/** The options of region perturbation: `--steps`, `--patch`, `--baseline`. */
export interface AopcSettings {
  /** L: patches removed, one per step (default 100). */
  readonly steps: number;
  /** Side of the square patches in input pixels (default 8). */
  readonly patch: number;
  /** `zero` (default) or `uniform:SEED`, as given. */
  readonly baseline: string;
}

/** The fewest perturbed inputs per forward pass where the model fits them: small models' passes cost mostly their fixed overhead. */
export const PERTURB_BATCH = 32;

export const DEFAULT_AOPC: AopcSettings = { steps: 100, patch: 8, baseline: 'zero' };

/** The seed of the random-order row (the protocol's). */
export const RANDOM_ORDER_SEED = 0;

/** `zero` or `uniform:SEED` (SEED a whole number 0..2^32-1); errors name `--baseline`. */
export function parseBaseline(text: string, name = '--baseline'): Baseline {
  const t = String(text).trim();
  if (t === 'zero') return { kind: 'zero' };
  const m = /^uniform:(\d+)$/.exec(t);
  if (m && Number(m[1]) <= 0xffffffff) return { kind: 'uniform', seed: Number(m[1]) };
  throw new Error(`${name} must be zero or uniform:SEED (SEED a whole number 0..4294967295), got '${text}'`);
}

/** The patch grid of an H × W input: `cols` × `rows` patches, the last row and column cut short by the edge. */
export function patchGrid(height: number, width: number, patch: number): { rows: number; cols: number; count: number } {
  const rows = Math.ceil(height / patch);
  const cols = Math.ceil(width / patch);
  return { rows, cols, count: rows * cols };
}

/**
 * Throws, naming the flag, unless the settings suit a C × H × W input: steps and patch whole
 * numbers >= 1, a known baseline, a patch no larger than the image, steps no more than the patches.
 */
export function checkAopcSettings(
  s: AopcSettings, inputShape: readonly number[], flag: (setting: keyof AopcSettings) => string = (setting) => `--${setting}`,
): void {
  for (const [name, v] of [['steps', s.steps], ['patch', s.patch]] as const) {
    if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= 1)) {
      throw new Error(`${flag(name)} must be a whole number >= 1, got ${describeValue(v)}`);
    }
  }
  parseBaseline(s.baseline, flag('baseline'));
  if (inputShape.length !== 3) throw new Error(`region perturbation needs a C×H×W model input, got ${inputShape.join('×')}`);
  const [, h, w] = inputShape;
  if (s.patch > h || s.patch > w) throw new Error(`${flag('patch')} ${s.patch} is larger than the model's ${h}×${w} input`);
  const { count, rows, cols } = patchGrid(h, w, s.patch);
  if (s.steps > count) throw new Error(`${flag('steps')} ${s.steps} is more than the ${count} patches (${cols}×${rows} of ${s.patch} pixels) of the ${h}×${w} input`);
}

/** MurmurHash3-finaliser keyed hash of the shaders: keyed(k, i) = fmix32(k ^ fmix32(i ^ 0x9e3779b9)). */
function keyOf(seed: number, salt: number, image: number): number {
  return fmix32((fmix32((seed ^ salt) >>> 0) ^ image) >>> 0);
}

/** The key of an image's uniform baseline picture. */
export function baselineKey(seed: number, image: number): number {
  return keyOf(seed, 0x243f6a88, image);
}

/** The key of an image's random order. */
export function randomOrderKey(image: number): number {
  return keyOf(RANDOM_ORDER_SEED, 0x13198a2e, image);
}

/** AOPC of one curve of L + 1 logits (curve[0] = f(x_0)), in float64: mean over k of f(x_0) - f(x_k). */
export function aopc(curve: readonly number[]): number {
  let s = 0;
  for (const v of curve) s += curve[0] - v;
  return s / curve.length;
}

/** One row to perturb: a sample of the clean inputs, its class, its image index, and what orders its patches. */
export interface PerturbRow {
  /** Index of the clean input in the inputs buffer. */
  readonly input: number;
  readonly classIndex: number;
  /** The image's index (seeds; see the file header). */
  readonly image: number;
  /** Index of its relevance map in the relevance buffer, or 'random' for the random order. */
  readonly order: number | 'random';
}

/** The logits f(x_1) .. f(x_L) of one row, removing patches most relevant first and least relevant first. */
export interface PerturbCurves {
  readonly morf: Float32Array;
  readonly lerf: Float32Array;
}

export class RegionPerturbation {
  readonly baseline: Baseline;
  readonly grid: { rows: number; cols: number; count: number };

  private constructor(
    private readonly fm: ForwardModel,
    readonly settings: AopcSettings,
    /** The most perturbed inputs per forward pass. */
    readonly batch: number,
    private readonly scoresPipeline: GPUComputePipeline,
    private readonly ranksPipeline: GPUComputePipeline,
    private readonly perturbPipeline: GPUComputePipeline,
    private readonly scoresUniforms: UniformsByBatch,
    private readonly ranksUniforms: UniformsByBatch,
    private readonly perturbUniforms: UniformsByBatch,
  ) {
    this.baseline = parseBaseline(settings.baseline);
    const [, h, w] = fm.graph.input.shape;
    this.grid = patchGrid(h, w, settings.patch);
  }

  private get ctx(): GpuContext {
    return this.fm.ctx;
  }

  /** For `fm`'s input; `batch` caps the perturbed inputs per forward pass (at most the model's maxBatch). */
  static async create(fm: ForwardModel, settings: AopcSettings, opts: { batch: number }): Promise<RegionPerturbation> {
    const shape = fm.graph.input.shape;
    checkAopcSettings(settings, shape);
    const [c, h, w] = shape;
    const { cols, count } = patchGrid(h, w, settings.patch);
    const ctx = fm.ctx;
    const [s, r, p] = await ctx.guard('building the region-perturbation kernels', () => Promise.all([
      patchScores.pipeline(ctx), patchRanks.pipeline(ctx), perturb.pipeline(ctx),
    ]));
    const uniform = parseBaseline(settings.baseline).kind === 'uniform' ? 1 : 0;
    const patch = settings.patch;
    return new RegionPerturbation(fm, settings, Math.max(1, Math.min(Math.floor(opts.batch), fm.maxBatch)), s, r, p,
      patchScores.uniformsByBatch(ctx, 'patch scores', (rows) => ({ channels: c, height: h, width: w, side: patch, cols, patches: count, rows })),
      patchRanks.uniformsByBatch(ctx, 'patch ranks', (rows) => ({ patches: count, rows })),
      perturb.uniformsByBatch(ctx, 'perturbed inputs', (n) => ({ channels: c, height: h, width: w, side: patch, cols, total: n * c * h * w, baseline: uniform })),
    );
  }

  /**
   * The MoRF and LeRF logits of every row. `inputs` holds the clean inputs (N × C × H × W),
   * `relevance` the relevance maps the rows' `order` indices name (null when every row is random).
   */
  async curves(inputs: GPUBuffer, relevance: GPUBuffer | null, rows: readonly PerturbRow[]): Promise<PerturbCurves[]> {
    if (rows.length === 0) return [];
    const L = this.settings.steps;
    const classes = numel(valueInfo(this.fm.graph, this.fm.graph.output).shape);
    this.checkRows(inputs, relevance, rows);
    rows.forEach((r, k) => {
      if (!Number.isInteger(r.classIndex) || r.classIndex < 0 || r.classIndex >= classes) throw new Error(`row ${k}: class ${r.classIndex} is not one of the model's ${classes} outputs`);
    });
    const orders = await this.orders(relevance, rows);
    try {
      const total = rows.length * 2 * L;
      const logits = new Float32Array(total);
      for (let s0 = 0; s0 < total; s0 += this.batch) {
        const n = Math.min(this.batch, total - s0);
        const x = await this.build(inputs, orders.ranks, rows, s0, n);
        try {
          const acts = await this.fm.forward(x, n);
          let out: Float32Array;
          try {
            out = await acts.read(this.fm.graph.output);
          } finally {
            acts.release();
          }
          for (let j = 0; j < n; j++) logits[s0 + j] = out[j * classes + rows[Math.floor((s0 + j) / (2 * L))].classIndex];
        } finally {
          this.ctx.pool.release(x);
        }
      }
      return rows.map((_, r) => ({ morf: logits.slice(2 * r * L, (2 * r + 1) * L), lerf: logits.slice((2 * r + 1) * L, (2 * r + 2) * L) }));
    } finally {
      orders.release();
    }
  }

  private checkRows(inputs: GPUBuffer, relevance: GPUBuffer | null, rows: readonly Pick<PerturbRow, 'input' | 'image' | 'order'>[]): void {
    const per = numel(this.fm.graph.input.shape);
    let maxInput = 0;
    let maxRel = -1;
    rows.forEach((r, k) => {
      if (!Number.isInteger(r.input) || r.input < 0) throw new Error(`row ${k}: bad input index ${r.input}`);
      if (!Number.isInteger(r.image) || r.image < 0 || r.image > 0xffffffff) throw new Error(`row ${k}: image index ${r.image} is not a whole number 0..2^32-1`);
      if (r.order !== 'random' && !(Number.isInteger(r.order) && r.order >= 0)) throw new Error(`row ${k}: bad relevance index ${r.order}`);
      maxInput = Math.max(maxInput, r.input);
      if (r.order !== 'random') maxRel = Math.max(maxRel, r.order);
    });
    if (inputs.size < 4 * per * (maxInput + 1)) throw new Error(`the inputs buffer of ${inputs.size} bytes holds fewer than the ${maxInput + 1} inputs the rows name`);
    if (maxRel >= 0 && (!relevance || relevance.size < 4 * per * (maxRel + 1))) {
      throw new Error(`the relevance buffer holds fewer than the ${maxRel + 1} maps the rows name`);
    }
  }

  /** The patch scores and both orders' ranks of every row, on the GPU; `release()` gives the buffers back. */
  private async orders(relevance: GPUBuffer | null, rows: readonly Pick<PerturbRow, 'image' | 'order'>[]): Promise<{ scores: GPUBuffer; ranks: GPUBuffer; release(): void }> {
    const { ctx } = this;
    const patches = this.grid.count;
    const table = new Uint32Array(3 * rows.length);
    rows.forEach((r, k) => table.set(r.order === 'random' ? [0, 1, randomOrderKey(r.image)] : [r.order, 0, 0], 3 * k));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const tableBuf = ctx.pool.acquire(table.byteLength, usage, 'perturbation rows');
    const scores = ctx.pool.acquire(4 * rows.length * patches, usage, 'patch scores');
    const ranks = ctx.pool.acquire(8 * rows.length * patches, usage, 'patch ranks');
    const release = () => {
      ctx.pool.release(tableBuf);
      ctx.pool.release(scores);
      ctx.pool.release(ranks);
    };
    try {
      ctx.writeBuffer(tableBuf, 0, table);
      await ctx.run(`patch scores and orders of ${rows.length} rows`, [{
        kernel: 'patch-scores', layer: 'region perturbation', pipeline: this.scoresPipeline,
        bindings: patchScores.bind({ p: this.scoresUniforms.get(rows.length), rel: relevance ?? tableBuf, table: tableBuf, scores }),
        workgroups: grid1d(rows.length * patches, 64),
      }, {
        kernel: 'patch-ranks', layer: 'region perturbation', pipeline: this.ranksPipeline,
        bindings: patchRanks.bind({ p: this.ranksUniforms.get(rows.length), scores, ranks }),
        workgroups: grid1d(rows.length * patches, 64),
      }]);
    } catch (e) {
      release();
      throw e;
    }
    return { scores, ranks, release };
  }

  /**
   * Perturbed inputs s0 .. s0 + n - 1 of the rows, numbered row-major over (row, order MoRF/LeRF,
   * k = 1..L), built on the GPU into a pool buffer the caller releases.
   */
  private async build(inputs: GPUBuffer, ranks: GPUBuffer, rows: readonly Pick<PerturbRow, 'input' | 'image'>[], s0: number, n: number): Promise<GPUBuffer> {
    const { ctx } = this;
    const L = this.settings.steps;
    const patches = this.grid.count;
    const per = numel(this.fm.graph.input.shape);
    const b = this.baseline;
    const t = new Uint32Array(4 * n);
    for (let j = 0; j < n; j++) {
      const s = s0 + j;
      const row = Math.floor(s / (2 * L));
      const order = Math.floor(s / L) % 2;
      t.set([rows[row].input, (2 * row + order) * patches, (s % L) + 1, b.kind === 'uniform' ? baselineKey(b.seed, rows[row].image) : 0], 4 * j);
    }
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const tableBuf = ctx.pool.acquire(t.byteLength, usage, 'perturbed inputs table');
    const x = ctx.pool.acquire(4 * n * per, usage, 'perturbed inputs');
    try {
      ctx.writeBuffer(tableBuf, 0, t);
      await ctx.run(`${n} perturbed inputs`, [{
        kernel: 'perturb', layer: 'region perturbation', pipeline: this.perturbPipeline,
        bindings: perturb.bind({ p: this.perturbUniforms.get(n), x: inputs, ranks, table: tableBuf, out: x }),
        workgroups: grid1d(n * per, 256),
        bytes: 4 * n * per * 2,
      }]);
    } catch (e) {
      ctx.pool.release(x);
      throw e;
    } finally {
      ctx.pool.release(tableBuf);
    }
    return x;
  }

  /**
   * @internal For tests: every row's patch scores (rows × patches), ranks (rows × 2 × patches:
   * MoRF then LeRF) and perturbed inputs (rows × 2 × L samples, row-major over row, order, k = 1..L),
   * read back.
   */
  async debugRows(inputs: GPUBuffer, relevance: GPUBuffer | null, rows: readonly Pick<PerturbRow, 'input' | 'image' | 'order'>[]): Promise<{ scores: Float32Array; ranks: Uint32Array; inputs: Float32Array }> {
    const { ctx } = this;
    this.checkRows(inputs, relevance, rows);
    const patches = this.grid.count;
    const per = numel(this.fm.graph.input.shape);
    const orders = await this.orders(relevance, rows);
    try {
      const total = rows.length * 2 * this.settings.steps;
      const x = await this.build(inputs, orders.ranks, rows, 0, total);
      try {
        return {
          scores: await ctx.readF32(orders.scores, 0, rows.length * patches, 'reading the patch scores'),
          ranks: new Uint32Array(await ctx.read(orders.ranks, 0, 8 * rows.length * patches, 'reading the patch ranks')),
          inputs: await ctx.readF32(x, 0, total * per, 'reading the perturbed inputs'),
        };
      } finally {
        ctx.pool.release(x);
      }
    } finally {
      orders.release();
    }
  }

  destroy(): void {
    this.scoresUniforms.destroy();
    this.ranksUniforms.destroy();
    this.perturbUniforms.destroy();
  }
}

/** One sample's region perturbation, as `lrp explain --aopc-out` writes it and `Explanation.aopc` returns it. */
export interface AopcSample {
  /** The class explained. */
  readonly target: number;
  /** f(x_k) for k = 0..L, patches removed most relevant first; morf[0] = f(x_0). */
  readonly morf: number[];
  /** The same, least relevant first. */
  readonly lerf: number[];
  readonly aopc_morf: number;
  readonly aopc_lerf: number;
}

/**
 * Region perturbation of a batch whose relevance is on the CPU (an explanation): inputs and
 * relevance (count × C × H × W each) are uploaded a GPU batch at a time, the perturbed inputs made
 * and run there. `f0` is each sample's clean target logit; the image index is the sample's position.
 */
export async function aopcOfBatch(
  fm: ForwardModel,
  batch: { readonly inputs: Float32Array; readonly relevance: Float32Array; readonly targets: readonly number[]; readonly f0: readonly number[] },
  settings: AopcSettings,
  opts: { batchSize?: number } = {},
): Promise<AopcSample[]> {
  const per = numel(fm.graph.input.shape);
  const count = batch.targets.length;
  if (batch.inputs.length !== count * per || batch.relevance.length !== count * per || batch.f0.length !== count) {
    throw new Error(`region perturbation: ${count} targets, but ${batch.inputs.length / per} inputs, ${batch.relevance.length / per} relevance maps and ${batch.f0.length} logits`);
  }
  const rp = await RegionPerturbation.create(fm, settings, { batch: opts.batchSize ?? PERTURB_BATCH });
  const { ctx } = fm;
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const out: AopcSample[] = [];
  try {
    const step = Math.max(1, fm.maxBatch);
    for (let n0 = 0; n0 < count; n0 += step) {
      const n = Math.min(step, count - n0);
      const x = ctx.pool.acquire(4 * n * per, usage, 'explained inputs');
      const r = ctx.pool.acquire(4 * n * per, usage, 'explained relevance');
      try {
        ctx.writeBuffer(x, 0, batch.inputs.subarray(n0 * per, (n0 + n) * per));
        ctx.writeBuffer(r, 0, batch.relevance.subarray(n0 * per, (n0 + n) * per));
        const curves = await rp.curves(x, r, Array.from({ length: n }, (_, k) => ({ input: k, classIndex: batch.targets[n0 + k], image: n0 + k, order: k })));
        curves.forEach((c, k) => {
          const f0 = Math.fround(batch.f0[n0 + k]);
          const morf = [f0, ...c.morf];
          const lerf = [f0, ...c.lerf];
          out.push({ target: batch.targets[n0 + k], morf, lerf, aopc_morf: aopc(morf), aopc_lerf: aopc(lerf) });
        });
      } finally {
        ctx.pool.release(x);
        ctx.pool.release(r);
      }
    }
  } finally {
    rp.destroy();
  }
  return out;
}
