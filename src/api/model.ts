/**
 * A model on the GPU in the public API: its graph, preprocessing and labels, with the weights
 * uploaded once; explainers and evaluators made from it share its forward pass.
 */
import { ForwardModel } from '../forward/model.ts';
import { predict, topK } from '../forward/predict.ts';
import { numel, valueInfo, type Graph } from '../graph/ir.ts';
import { formatSummary, summarizeGraph } from '../graph/summary.ts';
import { importOnnx } from '../graph/onnx/import.ts';
import { formatComposite } from '../lrp/composite.ts';
import { Explainer as Engine } from '../lrp/explainer.ts';
import { parsePreprocessSpec, type PreprocessSpec } from '../preprocess/spec.ts';
import { Composite, type CompositeOptions, type CompositeSource } from './composite.ts';
import { Evaluator, type EvaluatorOptions } from './evaluator.ts';
import { explainEach, Explainer, type ExplainOptions, type Explanation } from './explainer.ts';
import { checkPreprocessFits, toBatch, type ModelInput, type Tensor } from './input.ts';
import { Patterns } from './patterns.ts';
import { PatternStatistics } from '../patterns/statistics.ts';
import { patternFromSums } from '../patterns/sums.ts';
import { patternsDigest } from '../patterns/pattern-set.ts';
import { argumentError, requireChoice, requireOptions, requireWhole } from '../io/arguments.ts';
import { untilDestroyed } from './lifetime.ts';
import { sanityCheck, type SanityResult } from '../eval/sanity.ts';
import type { SanityCheckOptions } from './sanity.ts';

/** One class of a prediction. */
export interface RankedClass {
  /** The class index in the model's output. */
  readonly index: number;
  /** Its name from the model's labels; null without labels. */
  readonly label: string | null;
  /** Its logit. */
  readonly logit: number;
  /** Softmax of the logits. */
  readonly probability: number;
}

/** One layer of a model, as `lrp inspect` lists it. */
export interface LayerInfo {
  /** The ONNX node name (what a composite's `name:NODE` selector names). */
  readonly name: string;
  /** conv, dense, relu, maxpool, avgpool, globalavgpool, lrn, flatten, identity, concat, ... */
  readonly kind: string;
  /** Per-sample shape of its (first) input. */
  readonly inputShape: readonly number[];
  /** Per-sample shape of its output. */
  readonly outputShape: readonly number[];
  /** Weights and biases. */
  readonly params: number;
  /** Multiply-accumulates per sample (linear layers only). */
  readonly macs: number;
}

/** What a model is: its layers and shapes. A `Model` is one; `inspectModel` gives one without a GPU. */
export interface ModelInfo {
  /** The name messages use (a file name, `model.onnx`, or a built-in's name). */
  readonly name: string;
  /** One sample's input shape, e.g. [3, 224, 224]. */
  readonly inputShape: readonly number[];
  /** Number of output classes. */
  readonly classes: number;
  /** The names of the model's outputs. */
  readonly outputs: readonly string[];
  /** The output it predicts and explains. */
  readonly output: string;
  /** The layers in forward order, with their shapes, parameters and multiply-adds. */
  readonly layers: readonly LayerInfo[];
  /** Layers, shapes, parameters and multiply-adds as a table, as `lrp inspect` prints them. */
  summary(): string;
}

/**
 * What an ONNX model is, without a GPU: imports it (every check `loadModel` makes on the file,
 * e.g. an unsupported operator, fails here the same way) and describes its layers. For showing a
 * model before it is loaded, or checking a file.
 */
export function inspectModel(bytes: Uint8Array | ArrayBuffer, options: { readonly name?: string; readonly output?: string } = {}): ModelInfo {
  const name = options.name ?? 'model.onnx';
  const graph = importOnnx(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), { source: name, output: options.output });
  return graphInfo(graph, name);
}

function graphInfo(graph: Graph, name: string): ModelInfo {
  return {
    name, inputShape: graph.input.shape, classes: numel(valueInfo(graph, graph.output).shape), outputs: graph.outputs, output: graph.output,
    layers: summarizeGraph(graph).rows, summary: () => formatSummary(summarizeGraph(graph)),
  };
}

/** The prediction for one sample. */
export interface Prediction {
  /** The model's output for the sample. */
  readonly logits: Float32Array;
  /** The highest classes, best first. */
  readonly top: readonly RankedClass[];
}

/** @internal What a model was made from (src/api/lrp.ts reads it). */
export interface ModelParts {
  readonly graph: Graph;
  readonly name: string;
  preprocess: PreprocessSpec | null;
  labels: readonly string[] | null;
}

/**
 * The `k` highest classes of one row of logits, best first, with softmax probabilities and, given
 * `labels`, their names.
 */
export function topClasses(logits: ArrayLike<number>, k = 5, labels: readonly string[] | null = null): RankedClass[] {
  k = requireWhole('topClasses', 'k', k, 1, 5);
  if (!(ArrayBuffer.isView(logits) || Array.isArray(logits))) throw argumentError('topClasses', 'logits', 'a list or typed array of numbers', logits);
  return topK(logits, k).map((r) => ({ ...r, label: labels?.[r.index] ?? null }));
}

/** Options of {@link Model.learnPatterns}. */
export interface LearnPatternsOptions {
  /** Samples per forward pass (default 16, at most `model.maxBatch`). */
  readonly batchSize?: number;
}

/** Whether `input` is one input rather than an iterable of them (a list of images is one input). */
const isSingleInput = (input: unknown): boolean =>
  input instanceof Float32Array || Array.isArray(input) || (typeof input === 'object' && input !== null && 'data' in input);

/** One input, or each input of an iterable or async iterable (a list of images is one input). */
async function* inputsOf(input: ModelInput | Iterable<ModelInput> | AsyncIterable<ModelInput>): AsyncGenerator<ModelInput> {
  if (isSingleInput(input)) {
    yield input as ModelInput;
    return;
  }
  yield* input as Iterable<ModelInput> | AsyncIterable<ModelInput>;
}

/** Whether `input` is something learnPatterns can read: an input, or an iterable or async iterable. */
function isInputOrStream(input: unknown): boolean {
  if (input instanceof Float32Array || Array.isArray(input)) return true;
  if (typeof input !== 'object' || input === null) return false;
  return 'data' in input || Symbol.iterator in input || Symbol.asyncIterator in input;
}

/** Things a model made and destroys with it. */
interface Owned {
  destroy(): void;
}

/**
 * A model loaded with `lrp.loadModel()`. Make explainers with `explainer()`; free the GPU memory
 * with `destroy()` (which also destroys its explainers and evaluators).
 */
export class Model implements ModelInfo {
  private readonly owned = new Set<Owned>();
  private destroyed = false;

  private constructor(
    private readonly parts: ModelParts,
    /** @internal */
    readonly forward: ForwardModel,
    private readonly onDestroy: () => void,
  ) {}

  /** @internal */
  static of(parts: ModelParts, forward: ForwardModel, onDestroy: () => void): Model {
    return new Model(parts, forward, onDestroy);
  }

  /** The file name or built-in name it was loaded from, used in messages. */
  get name(): string {
    return this.parts.name;
  }

  /** @internal The layer graph the GPU runs (after import and canonization). */
  get graph(): Graph {
    return this.parts.graph;
  }

  /**
   * How images become its input; null when none was given (then only tensors are accepted). May
   * be set later (checked against the model's input); explainers made after use the new one.
   */
  get preprocess(): PreprocessSpec | null {
    return this.parts.preprocess;
  }

  /** Sets the preprocessing (validated, and checked against the model's input shape). */
  set preprocess(spec: PreprocessSpec | null) {
    if (spec !== null) {
      spec = parsePreprocessSpec(spec, `the preprocessing of '${this.name}'`);
      checkPreprocessFits(this.graph, spec, this.name);
    }
    this.parts.preprocess = spec;
  }

  /** Class names, when given to `loadModel` or set later; null without. */
  get labels(): readonly string[] | null {
    return this.parts.labels;
  }

  /** Sets the class names (a list, or null for none). */
  set labels(labels: readonly string[] | null) {
    if (labels !== null && !(Array.isArray(labels) && labels.every((l) => typeof l === 'string'))) {
      throw new Error('labels must be a list of class names, or null');
    }
    this.parts.labels = labels === null ? null : [...labels];
  }

  /**
   * How each convolution runs, by layer name: `'winograd F(2,3)'`, `'winograd F(4,3)'`, or
   * `'direct (why)'` (see `LoadModelOptions.conv`).
   */
  get convMethods(): ReadonlyMap<string, string> {
    return this.forward.methods();
  }

  /** One sample's input shape, e.g. [3, 224, 224]. */
  get inputShape(): readonly number[] {
    return this.graph.input.shape;
  }

  /** Number of output classes. */
  get classes(): number {
    return numel(valueInfo(this.graph, this.graph.output).shape);
  }

  /** The most samples one GPU batch can hold on this device (larger inputs are split). */
  get maxBatch(): number {
    return this.forward.maxBatch;
  }

  /** The layers in forward order, with their shapes, parameters and multiply-adds. */
  get layers(): readonly LayerInfo[] {
    return summarizeGraph(this.graph).rows;
  }

  /** The names of the model's outputs (`LoadModelOptions.output` picks the one explained). */
  get outputs(): readonly string[] {
    return this.graph.outputs;
  }

  /** The output it predicts and explains (the first, unless `LoadModelOptions.output` chose another). */
  get output(): string {
    return this.graph.output;
  }

  /** Layers, shapes, parameters and multiply-adds as a table, as `lrp inspect` prints them. */
  summary(): string {
    return formatSummary(summarizeGraph(this.graph));
  }

  /** `input` as the model's N×(input shape) tensor: images are preprocessed, tensors checked. */
  toTensor(input: ModelInput): Tensor {
    const { data, count } = toBatch(input, this);
    return { data, shape: [count, ...this.inputShape] };
  }

  /** Runs the model: per sample, the logits and the `top` (default 5) classes. */
  async predict(input: ModelInput, options: { readonly top?: number } = {}): Promise<Prediction[]> {
    this.check();
    const top = requireWhole('predict', 'options.top', requireOptions('predict', options).top, 1, 5);
    const { data, count } = toBatch(input, this);
    const logits = await this.untilDestroyed('predict', () => predict(this.forward, data, count));
    const classes = this.classes;
    return Array.from({ length: count }, (_, n) => {
      const row = logits.slice(n * classes, (n + 1) * classes);
      return {
        logits: row,
        top: topClasses(row, top, this.labels),
      };
    });
  }

  /**
   * An explainer of this model under `composite` (default `'cmp-alpha2-flat'`, the paper's best):
   * a preset name (see `Composite.presets`), composite JSON (text or object), or a `Composite`.
   * Errors name the entry that does not fit the model.
   */
  async explainer(composite: CompositeSource = 'cmp-alpha2-flat', options: CompositeOptions = {}): Promise<Explainer> {
    this.check();
    const parsed = Composite.parse(composite);
    const resolved = parsed.resolve(this.graph, this.preprocess, requireOptions('explainer', options));
    const engine = await this.made(() => Engine.create(this.forward, resolved));
    const explainer = Explainer.of(this, engine, resolved.notes, formatComposite(resolved, this.graph), () => this.owned.delete(explainer));
    this.owned.add(explainer);
    return explainer;
  }

  /**
   * Learns PatternAttribution's patterns of this model from a statistics set (e.g. a few thousand
   * training images): `input` is one input (images, a tensor of N samples) or a stream of them
   * (an iterable or async iterable of inputs, for sets larger than memory). Every batch runs one
   * forward pass whose activations give every linear layer's statistics, summed on the GPU with
   * compensation; the patterns are computed in float64 at the end.
   */
  async learnPatterns(input: ModelInput | Iterable<ModelInput> | AsyncIterable<ModelInput>, options: LearnPatternsOptions = {}): Promise<Patterns> {
    this.check();
    if (!isInputOrStream(input)) throw argumentError('learnPatterns', 'input', 'images, a tensor, or an iterable or async iterable of them', input);
    const batch = requireOptions('learnPatterns', options).batchSize ?? Math.min(16, this.maxBatch);
    if (!(Number.isSafeInteger(batch) && batch >= 1 && batch <= this.maxBatch)) {
      throw argumentError('learnPatterns', 'options.batchSize', `a whole number from 1 to ${this.maxBatch} (what model '${this.name}' fits)`, batch);
    }
    const stats = await this.untilDestroyed('learnPatterns', () => PatternStatistics.create(this.forward));
    try {
      const per = numel(this.inputShape);
      const single = isSingleInput(input);
      let item = 0;
      for await (const one of inputsOf(input)) {
        // A non-finite value would make every pattern NaN: refused, naming the item of a stream.
        const { data, count } = toBatch(one, this, single ? 'learnPatterns: input' : `learnPatterns: input item ${item}`);
        item++;
        for (let n0 = 0; n0 < count; n0 += batch) {
          const n = Math.min(batch, count - n0);
          const acts = await this.untilDestroyed('learnPatterns', () => this.forward.forward(data.subarray(n0 * per, (n0 + n) * per), n));
          try {
            await this.untilDestroyed('learnPatterns', () => stats.accumulate(acts));
          } finally {
            acts.release();
          }
        }
      }
      if (stats.samples === 0) throw new Error('learnPatterns: the statistics set is empty');
      const byLayer = new Map<string, Float32Array>();
      const rows = new Map<string, number>();
      for (const layer of stats.linearLayers) {
        const sums = await this.untilDestroyed('learnPatterns', () => stats.readLayer(layer.name));
        byLayer.set(layer.name, patternFromSums(layer.weight, sums));
        rows.set(layer.name, sums.rows);
      }
      return Patterns.of({ graph: this.graph, source: `patterns learned for '${this.name}'`, byLayer, digest: patternsDigest(byLayer) }, { samples: stats.samples, rows });
    } finally {
      stats.destroy();
    }
  }

  /**
   * Explains `input` with each of `explainers` (made by this model), one forward pass shared by
   * all: e.g. several composites side by side. Returns one explanation per explainer, in order.
   */
  async explainEach(input: ModelInput, explainers: readonly Explainer[], options: ExplainOptions = {}): Promise<Explanation[]> {
    this.check();
    if (!Array.isArray(explainers)) throw argumentError('explainEach', 'explainers', 'a list of explainers (from model.explainer())', explainers);
    if (explainers.length === 0) throw new Error('explainEach needs at least one explainer (from model.explainer())');
    return explainEach(this, explainers, input, options);
  }

  /**
   * An evaluator of several analyzers at once (the paper's protocol: how much positive relevance
   * falls inside the object's box), e.g. `model.evaluator(['cmp-alpha2-flat', 'lrp-z'])`.
   */
  async evaluator(analyzers: readonly CompositeSource[] | Readonly<Record<string, CompositeSource>>, options: EvaluatorOptions = {}): Promise<Evaluator> {
    this.check();
    if (typeof analyzers !== 'object' || analyzers === null) {
      throw argumentError('evaluator', 'analyzers', 'a list of composites, or an object of them by name', analyzers);
    }
    options = requireOptions('evaluator', options);
    const entries = Array.isArray(analyzers)
      ? (analyzers as readonly CompositeSource[]).map((a) => [null, a] as const)
      : Object.entries(analyzers as Readonly<Record<string, CompositeSource>>);
    if (entries.length === 0) throw new Error('an evaluator needs at least one analyzer (a composite preset name or composite JSON)');
    const list = entries.map(([name, source]) => {
      const composite = Composite.parse(source);
      const resolved = composite.resolve(this.graph, this.preprocess, options);
      return { name: name ?? composite.name, composite: resolved };
    });
    const evaluator = await this.made(() => Evaluator.of(this.forward, list, options, () => this.owned.delete(evaluator)));
    this.owned.add(evaluator);
    return evaluator;
  }

  /**
   * The model-parameter randomization check (Adebayo et al. 2018): `input` (images or a tensor of
   * N samples) explained by each analyzer on this model and again with its linear layers
   * randomised from the output down, one more per step (normal weights of each layer's own
   * standard deviation, seeded; biases kept); per analyzer and step, the mean Spearman rank
   * correlation and mean SSIM between the original and the randomised maps (|R| summed over
   * channels, scaled to [0, 1]), computed on the GPU. This model's own weights are not touched:
   * each step runs on a randomised copy, uploaded and freed in turn.
   */
  async sanityCheck(
    input: ModelInput, analyzers: readonly CompositeSource[] | Readonly<Record<string, CompositeSource>>, options: SanityCheckOptions = {},
  ): Promise<SanityResult> {
    this.check();
    options = requireOptions('sanityCheck', options);
    const list = this.resolveAnalyzers(analyzers, options);
    const { data, count } = toBatch(input, this);
    const target = options.target ?? 'predicted';
    const targets = Array.isArray(target) ? [...target] : [target as number | 'predicted'];
    if (targets.length !== 1 && targets.length !== count) throw new Error(`sanityCheck: ${targets.length} targets for ${count} samples: give one target for all, or one per sample`);
    const batch = requireWhole('sanityCheck', 'options.batchSize', options.batchSize, 1, 16);
    const init = requireChoice('sanityCheck', 'options.init', options.init, ['logit', 'onehot'] as const, 'logit');
    const per = numel(this.inputShape);
    const pairs = Array.from({ length: count }, (_, i) => ({
      id: `sample ${i}`, input: data.subarray(i * per, (i + 1) * per), target: targets.length === 1 ? targets[0] : targets[i],
    }));
    return this.untilDestroyed('sanityCheck', () => sanityCheck(this.forward, list, pairs, { seed: options.seed, batch, init, onProgress: options.onProgress }));
  }

  /** Analyzers from composite sources, named by the record's keys or by the composites' names. */
  private resolveAnalyzers(analyzers: readonly CompositeSource[] | Readonly<Record<string, CompositeSource>>, options: CompositeOptions) {
    const entries = Array.isArray(analyzers)
      ? (analyzers as readonly CompositeSource[]).map((a) => [null, a] as const)
      : Object.entries(analyzers as Readonly<Record<string, CompositeSource>>);
    if (entries.length === 0) throw new Error('name at least one analyzer (a composite preset name or composite JSON)');
    return entries.map(([name, source]) => {
      const composite = Composite.parse(source);
      return { name: name ?? composite.name, composite: composite.resolve(this.graph, this.preprocess, options) };
    });
  }

  /** Frees the model's GPU memory, its explainers' and its evaluators'. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const o of [...this.owned]) o.destroy();
    this.forward.destroy();
    this.onDestroy();
  }

  private check(): void {
    if (this.destroyed) throw new Error(`model '${this.name}' was destroyed; load it again with lrp.loadModel()`);
  }

  /** Something made on the GPU for this model; destroyed again, with an error, when the model was destroyed meanwhile. */
  private async made<T extends Owned>(make: () => Promise<T>): Promise<T> {
    let made: T;
    try {
      made = await make();
    } catch (e) {
      this.check();
      throw e;
    }
    if (this.destroyed) made.destroy();
    this.check();
    return made;
  }

  /** One GPU step of `what`, failing with "destroyed" when the model (or the Lrp) was destroyed meanwhile. */
  private untilDestroyed<T>(what: string, step: () => Promise<T>): Promise<T> {
    return untilDestroyed(what, () => (this.destroyed ? `model '${this.name}' (or the Lrp)` : null), step);
  }
}
