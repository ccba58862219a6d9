/**
 * A model on the GPU in the public API: its graph, preprocessing and labels, with the weights
 * uploaded once; explainers and evaluators made from it share its forward pass.
 */
import { ForwardModel } from '../forward/model.ts';
import { predict, topK } from '../forward/predict.ts';
import { numel, valueInfo, type Graph } from '../graph/ir.ts';
import { formatSummary, summarizeGraph } from '../graph/summary.ts';
import { formatComposite } from '../lrp/composite.ts';
import { Explainer as Engine } from '../lrp/explainer.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import { Composite, type CompositeOptions, type CompositeSource } from './composite.ts';
import { Evaluator, type EvaluatorOptions } from './evaluator.ts';
import { Explainer } from './explainer.ts';
import { toBatch, type ModelInput, type Tensor } from './input.ts';

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
  readonly preprocess: PreprocessSpec | null;
  readonly labels: readonly string[] | null;
}

/** Things a model made and destroys with it. */
interface Owned {
  destroy(): void;
}

/**
 * A model loaded with `lrp.loadModel()`. Make explainers with `explainer()`; free the GPU memory
 * with `destroy()` (which also destroys its explainers and evaluators).
 */
export class Model {
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

  /** How images become its input; null when none was given (then only tensors are accepted). */
  get preprocess(): PreprocessSpec | null {
    return this.parts.preprocess;
  }

  /** Class names, when given to `loadModel`. */
  get labels(): readonly string[] | null {
    return this.parts.labels;
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
    const { data, count } = toBatch(input, this);
    const logits = await predict(this.forward, data, count);
    const classes = this.classes;
    return Array.from({ length: count }, (_, n) => {
      const row = logits.slice(n * classes, (n + 1) * classes);
      return {
        logits: row,
        top: topK(row, options.top ?? 5).map((r) => ({ ...r, label: this.labels?.[r.index] ?? null })),
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
    const resolved = parsed.resolve(this.graph, this.preprocess, options);
    const engine = await Engine.create(this.forward, resolved);
    const explainer = Explainer.of(this, engine, resolved.notes, formatComposite(resolved, this.graph), () => this.owned.delete(explainer));
    this.owned.add(explainer);
    return explainer;
  }

  /**
   * An evaluator of several analyzers at once (the paper's protocol: how much positive relevance
   * falls inside the object's box), e.g. `model.evaluator(['cmp-alpha2-flat', 'lrp-z'])`.
   */
  async evaluator(analyzers: readonly CompositeSource[] | Readonly<Record<string, CompositeSource>>, options: EvaluatorOptions = {}): Promise<Evaluator> {
    this.check();
    const entries = Array.isArray(analyzers)
      ? (analyzers as readonly CompositeSource[]).map((a) => [null, a] as const)
      : Object.entries(analyzers as Readonly<Record<string, CompositeSource>>);
    if (entries.length === 0) throw new Error('an evaluator needs at least one analyzer (a composite preset name or composite JSON)');
    const list = entries.map(([name, source]) => {
      const composite = Composite.parse(source);
      const resolved = composite.resolve(this.graph, this.preprocess, options);
      return { name: name ?? composite.name, composite: resolved };
    });
    const evaluator = await Evaluator.of(this.forward, list, options, () => this.owned.delete(evaluator));
    this.owned.add(evaluator);
    return evaluator;
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
}
