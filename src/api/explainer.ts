/**
 * The public explainer: a model bound to a composite, explaining batches of any size (split into
 * GPU batches the model fits) into logits, targets and input relevance, on the CPU or left on the
 * GPU. It drives src/lrp/explainer.ts, the relevance pass `lrp explain` runs, and adds nothing to
 * its arithmetic: the same input gives the same relevance, bit for bit.
 */
import { numel, valueInfo, type Graph } from '../graph/ir.ts';
import type { ForwardModel } from '../forward/model.ts';
import type { RgbaImage } from '../preprocess/image.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import * as lrp from '../lrp/explainer.ts';
import { aopcOfBatch, checkAopcSettings, DEFAULT_AOPC, type AopcSample } from '../eval/region-perturbation.ts';

export type { AopcSample };
import { relevanceHeatmap, type PictureOptions } from './heatmap.ts';
import { toBatch, type ModelInput, type Tensor } from './input.ts';
import { describeValue, requireChoice, requireOptions, requireWhole } from '../io/arguments.ts';
import { untilDestroyed } from './lifetime.ts';

/** A class to explain: its index in the model's output, or `'predicted'` (each sample's highest logit). */
export type Target = number | 'predicted';

/** Options of {@link Explainer.explain}. */
export interface ExplainOptions {
  /**
   * The class whose relevance is propagated: one for every sample, or one per sample.
   * Default `'predicted'`.
   */
  readonly target?: Target | readonly Target[];
  /**
   * The relevance the target starts with: its logit (`'logit'`, the LRP papers' choice and
   * zennit's `output * one_hot`) or 1 (`'onehot'`, Captum's gradient convention). Default `'logit'`.
   */
  readonly init?: 'logit' | 'onehot';
  /** Samples per GPU batch (default 16, at most what the model and this composite fit: {@link Explainer.maxBatch}). */
  readonly batchSize?: number;
  /** Told after each GPU batch: the samples explained so far, of all. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Options of {@link Explanation.aopc}: region perturbation as `lrp eval --metrics mu,aopc` runs it. */
export interface AopcOptions {
  /** L, the patches removed one per step (default 100, at most the patches). */
  readonly steps?: number;
  /** Side of the square patches in input pixels (default 8; the last row and column of patches are cut short by the edge). */
  readonly patch?: number;
  /** What replaces a patch in every channel: `'zero'` (the default) or `'uniform:SEED'` (uniform in [-1, 1), seeded by SEED and the sample's position). */
  readonly baseline?: string;
  /** Perturbed inputs per forward pass (default 32, at most what the model fits). */
  readonly batchSize?: number;
}

/** What {@link Explanation.aopc} returns, and `lrp explain --aopc-out` writes as JSON. */
export interface AopcResult {
  /** Per sample: its target, the logit curves f(x_0), ..., f(x_L) most and least relevant first, and their AOPC. */
  readonly samples: readonly AopcSample[];
}

/** The explanation of a batch, on the CPU. */
export class Explanation {
  private constructor(
    /** N×classes: the model's output for every sample. */
    readonly logits: Tensor,
    /** The class explained for every sample. */
    readonly targets: readonly number[],
    /** The logit of each sample's target. */
    readonly targetLogits: readonly number[],
    /** N×(model input shape), e.g. N×3×224×224: the relevance of every input value. */
    readonly relevance: Tensor,
    /**
     * Per sample: the sum of the input relevance. With `init: 'logit'` and conservative rules it
     * is close to the target's logit (LRP's conservation); a quick check that nothing leaked.
     */
    readonly relevanceSums: readonly number[],
    /** The images explained (null for a tensor input), for heatmaps over them or at their size. */
    private readonly images: readonly RgbaImage[] | null,
    private readonly spec: PreprocessSpec | null,
    /** The model and the input explained, for region perturbation. */
    private readonly source: { readonly forward: ForwardModel; readonly input: Float32Array } | null,
  ) {}

  /** @internal */
  static of(
    logits: Tensor, targets: readonly number[], targetLogits: readonly number[], relevance: Tensor, relevanceSums: readonly number[],
    images: readonly RgbaImage[] | null, spec: PreprocessSpec | null, source: { readonly forward: ForwardModel; readonly input: Float32Array } | null = null,
  ): Explanation {
    return new Explanation(logits, targets, targetLogits, relevance, relevanceSums, images, spec, source);
  }

  /**
   * Region perturbation (Samek et al. 2017) of every sample, on the GPU of the model that explained
   * it: the target's logit as the input's `patch`×`patch` patches are replaced by the baseline, one
   * per step for `steps` steps, in the order of this explanation's relevance (summed per patch over
   * pixels and channels), most relevant first (MoRF) and least relevant first (LeRF), ties in
   * row-major order; and `AOPC = 1/(L+1) sum_k (f(x_0) - f(x_k))`, k = 0..L, of each curve. The
   * same computation as `lrp eval --metrics mu,aopc` (shared/docs/evaluation-protocol.md); the
   * seed of `uniform:SEED` takes the sample's position in this batch as the image index. The model
   * must still be open.
   *
   * @example
   * ```ts
   * const e = await explainer.explain(images, { target: 'predicted' });
   * const { samples } = await e.aopc({ steps: 50, patch: 16 });
   * console.log(samples[0].aopc_morf, samples[0].aopc_lerf);
   * ```
   */
  async aopc(options: AopcOptions = {}): Promise<AopcResult> {
    if (!this.source) throw new Error('this explanation has no model to perturb its input with (made from a tensor outside an explainer)');
    options = requireOptions('aopc', options);
    const settings = { steps: options.steps ?? DEFAULT_AOPC.steps, patch: options.patch ?? DEFAULT_AOPC.patch, baseline: options.baseline ?? DEFAULT_AOPC.baseline };
    checkAopcSettings(settings, this.source.forward.graph.input.shape, (setting) => `aopc: options.${setting}`);
    const samples = await aopcOfBatch(this.source.forward, {
      inputs: this.source.input, relevance: this.relevance.data, targets: this.targets, f0: this.targetLogits,
    }, settings, { batchSize: options.batchSize });
    return { samples };
  }

  /** Samples in the batch. */
  get count(): number {
    return this.targets.length;
  }

  /**
   * Sample `sample`'s relevance as a heatmap image, drawn as `lrp explain --heatmap` draws it
   * (summed over channels, clipped at the 99.5th percentile, zennit's `bwr`: red positive, blue
   * negative); `options` choose the colour map, mode, clipping, and, for an image input, an
   * overlay on the image (`overlay: true`) or the image's own size (`size: 'original'`). Encode
   * it with `writePng` (Node) or draw it with
   * `new ImageData(new Uint8ClampedArray(image.data), image.width)` (browser).
   */
  heatmap(sample = 0, options: PictureOptions = {}): RgbaImage {
    return relevanceHeatmap(this.relevance, sample, { image: this.images?.[sample] ?? null, spec: this.spec, ...options });
  }
}

/** A float32 tensor in a GPU buffer. */
export interface GpuTensor {
  /** Holds the values in its first `4 × numel(shape)` bytes (the buffer may be larger); usage STORAGE | COPY_SRC | COPY_DST. */
  readonly buffer: GPUBuffer;
  /** The tensor's shape, e.g. [N, 3, 224, 224]. */
  readonly shape: readonly number[];
}

/**
 * The explanation of a batch with the relevance left on the GPU in one buffer, for kernels of
 * your own on the same device. Call `release()` when done: until then the buffers stay taken.
 */
export interface GpuExplanation {
  /** N×classes, on the CPU. */
  readonly logits: Tensor;
  /** The class explained for every sample. */
  readonly targets: readonly number[];
  /** The logit of each sample's target. */
  readonly targetLogits: readonly number[];
  /** N×(model input shape) float32, NCHW. */
  readonly relevance: GpuTensor;
  /** Gives the buffers back to the library's pool; the relevance buffer must not be used after. */
  release(): void;
}

/** What the explainer runs on every layer. */
export interface LayerPlan {
  /** The layer's name. */
  readonly layer: string;
  /** Its kind: conv, dense, relu, maxpool, ... */
  readonly kind: string;
  /** The rule with its parameters, e.g. `alpha-beta(alpha=2, beta=1, stabilizer=0.000001)`; `-` where relevance passes through. */
  readonly rule: string;
  /** The GPU passes the rule costs on this layer. */
  readonly passes: string;
}

/** The model as an explainer needs it. */
interface ExplainedModel {
  readonly name: string;
  readonly graph: Graph;
  readonly forward: ForwardModel;
  readonly preprocess: PreprocessSpec | null;
}

/**
 * A model with a composite: create one with `model.explainer(composite)`, then explain any number
 * of batches with it (the kernels and re-laid-out weights are made once, here).
 *
 * @example
 * ```ts
 * const explainer = await model.explainer('cmp-alpha2-flat');
 * const { relevance, targets } = await explainer.explain(images, { target: 'predicted' });
 * ```
 */
export class Explainer {
  private destroyed = false;

  private constructor(
    private readonly model: ExplainedModel,
    private readonly engine: lrp.Explainer,
    /** What resolving the composite on this model decided that is worth saying once (defaults taken, ...). */
    readonly notes: readonly string[],
    private readonly table: string,
    private readonly onDestroy: () => void,
  ) {}

  /** @internal */
  static of(model: ExplainedModel, engine: lrp.Explainer, notes: readonly string[], table: string, onDestroy: () => void): Explainer {
    return new Explainer(model, engine, notes, table, onDestroy);
  }

  /** The composite's name: the preset, the JSON's `name`, the method, or "custom". */
  get composite(): string {
    return this.engine.composite.name;
  }

  /**
   * The most samples one GPU batch of this explainer takes on this device: the model's
   * {@link Model.maxBatch}, or fewer where a rule's scratch buffers outgrow one binding
   * (alpha-beta on VGG-16 in a 128 MiB binding: 5). `explain` splits larger inputs by it, and
   * so does `explainOnGpu` up to the samples whose relevance one binding holds.
   */
  get maxBatch(): number {
    return this.engine.maxBatch;
  }

  /** The rule of every layer as a table, with the notes. */
  describe(): string {
    return [this.table, ...this.notes.map((n) => `note: ${n}`)].join('\n');
  }

  /** What runs on every layer, in forward order. */
  plan(): LayerPlan[] {
    return this.engine.describe();
  }

  /**
   * Explains `input` (a tensor, or images the model's preprocessing turns into one): runs the
   * forward pass, then the relevance pass from each sample's target back to the input.
   */
  async explain(input: ModelInput, options: ExplainOptions = {}): Promise<Explanation> {
    return (await explainEach(this.model, [this], input, options))[0];
  }

  /** @internal The relevance engine, for explainEach. */
  get relevancePass(): lrp.Explainer {
    this.check();
    return this.engine;
  }

  /**
   * Like `explain`, but leaves the relevance on the GPU, for further kernels on the same device;
   * `release()` the result when done. An input over `maxBatch` runs in GPU batches whose relevance
   * is copied into one buffer; that buffer must fit one binding of the device (so that a kernel
   * can bind it whole: 128 MiB holds 222 samples of 3×224×224), and a larger input is refused with
   * an error saying how many samples fit: explain it in parts, or use `explain()`.
   */
  async explainOnGpu(input: ModelInput, options: Omit<ExplainOptions, 'batchSize'> = {}): Promise<GpuExplanation> {
    this.check();
    options = requireOptions('explainOnGpu', options);
    const init = initOf('explainOnGpu', options.init);
    const { forward } = this.model;
    const { data, count } = toBatch(input, this.model);
    const r = await untilDestroyed('explainOnGpu', destroyedOf([this]), () => this.engine.relevanceOfInput(data, count, {
      targets: targetList(options.target, count), init, onProgress: options.onProgress,
    }));
    const classes = r.logits.length / count;
    let released = false;
    return {
      logits: { data: r.logits, shape: [count, classes] }, targets: r.targets, targetLogits: r.targetLogits,
      relevance: { buffer: r.buffer, shape: [count, ...forward.graph.input.shape] },
      release: () => {
        if (released) return;
        released = true;
        r.release();
      },
    };
  }

  /** Frees the explainer's kernels and weight layouts (the model stays). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.engine.destroy();
    this.onDestroy();
  }

  /** @internal Whether destroy() ran (itself, or through its model's or the Lrp's). */
  get isDestroyed(): boolean {
    return this.destroyed;
  }

  private check(): void {
    if (this.destroyed) throw new Error(`explainer ${this.composite} of model '${this.model.name}' was destroyed; make a new one with model.explainer()`);
  }
}

/**
 * Explains `input` with each of `explainers` (all of `model`), one forward pass per GPU batch
 * shared by all: what `Explainer.explain` and `Model.explainEach` run.
 */
export async function explainEach(model: ExplainedModel, explainers: readonly Explainer[], input: ModelInput, options: ExplainOptions): Promise<Explanation[]> {
  options = requireOptions('explain', options);
  const init = initOf('explain', options.init);
  const engines = explainers.map((e) => e.relevancePass);
  for (const e of engines) {
    if (e.forward !== model.forward) throw new Error(`explainer ${e.composite.name} belongs to another model than '${model.name}'`);
  }
  const { forward } = model;
  const { data, count, images } = toBatch(input, model);
  const targets = targetList(options.target, count);
  // Forward batches that every explainer takes whole: the relevance passes then need no copies of
  // the activations (each explainer would split a larger one itself).
  const batch = batchSize(options.batchSize, lrp.Explainer.maxBatchOf(forward, engines));
  const per = numel(forward.graph.input.shape);
  const classes = numel(valueInfo(forward.graph, forward.graph.output).shape);
  const out = engines.map(() => ({
    logits: new Float32Array(count * classes), relevance: new Float32Array(count * per),
    targets: [] as number[], targetLogits: [] as number[], sums: [] as number[],
  }));
  for (let n0 = 0; n0 < count; n0 += batch) {
    const n = Math.min(batch, count - n0);
    const acts = await untilDestroyed('explain', destroyedOf(explainers), () => forward.forward(data.subarray(n0 * per, (n0 + n) * per), n));
    try {
      for (const [k, engine] of engines.entries()) {
        const ex = await untilDestroyed('explain', destroyedOf(explainers), () => engine.explainActivations(acts, {
          targets: targets.length === 1 ? targets : targets.slice(n0, n0 + n), init,
        }));
        const o = out[k];
        o.logits.set(ex.logits, n0 * classes);
        o.relevance.set(ex.relevance, n0 * per);
        o.targets.push(...ex.targets);
        o.targetLogits.push(...ex.targetLogits);
        o.sums.push(...ex.relevanceSums);
      }
    } finally {
      acts.release();
    }
    options.onProgress?.(n0 + n, count);
  }
  return out.map((o) => Explanation.of(
    { data: o.logits, shape: [count, classes] }, o.targets, o.targetLogits,
    { data: o.relevance, shape: [count, ...forward.graph.input.shape] }, o.sums, images, model.preprocess, { forward, input: data },
  ));
}

/** What of `explainers` was destroyed (itself, or through its model or the Lrp), for untilDestroyed. */
function destroyedOf(explainers: readonly Explainer[]): () => string | null {
  return () => {
    const e = explainers.find((x) => x.isDestroyed);
    return e ? `explainer ${e.composite} (or its model, or the Lrp)` : null;
  };
}

function initOf(where: string, init: unknown): 'logit' | 'onehot' {
  return requireChoice(where, 'options.init', init, ['logit', 'onehot'] as const, 'logit');
}

function targetList(target: ExplainOptions['target'], count: number): lrp.Target[] {
  const list = target === undefined ? ['predicted' as const] : Array.isArray(target) ? [...target] : [target as Target];
  if (list.length !== 1 && list.length !== count) {
    throw new Error(`${list.length} targets for ${count} samples: give one target for all, or one per sample`);
  }
  for (const t of list) {
    if (t !== 'predicted' && !(Number.isInteger(t) && (t as number) >= 0)) {
      throw new Error(`target ${describeValue(t)} is neither a class index (0, 1, ...) nor 'predicted'`);
    }
  }
  return list;
}

function batchSize(asked: number | undefined, max: number): number {
  return Math.max(1, Math.min(requireWhole('explain', 'options.batchSize', asked, 1, 16), max));
}
