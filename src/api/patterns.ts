/**
 * PatternAttribution's patterns in the public API: learned with `model.learnPatterns()` (or read
 * with `loadPatterns()` in Node), then given to `model.explainer('pattern-attribution', { patterns })`.
 * A thin layer over src/patterns/, whose statistics, arithmetic and checks do the work.
 */
import type { Graph } from '../graph/ir.ts';
import { isLinear, type LinearLayer } from '../graph/ir.ts';
import { bindPatterns, sourceWeightShape, toSourceLayout, type PatternSet } from '../patterns/pattern-set.ts';
import type { Tensor } from './input.ts';
import { argumentError, requireTensor } from '../io/arguments.ts';

/** What learning saw, when the patterns were learned here. */
export interface PatternsProvenance {
  /** Samples of the statistics set. */
  readonly samples: number;
  /** Rows per node: samples times the node's output positions. */
  readonly rows: ReadonlyMap<string, number>;
}

/**
 * The learned patterns of one model, one per Conv, Gemm and MatMul node (Kindermans et al.,
 * iNNvestigate's `relu` estimator; shared/docs/lrp-rules.md, "PatternAttribution"), checked
 * against that model.
 *
 * @example
 * ```ts
 * const patterns = await model.learnPatterns(statisticsImages, { batchSize: 32 });
 * const explainer = await model.explainer('pattern-attribution', { patterns });
 * ```
 */
export class Patterns {
  private constructor(
    /** @internal */
    readonly set: PatternSet,
    /** @internal */
    readonly provenance: PatternsProvenance | null,
  ) {}

  /** @internal */
  static of(set: PatternSet, provenance: PatternsProvenance | null): Patterns {
    return new Patterns(set, provenance);
  }

  /**
   * Patterns given as tensors, by node name, each in the shape of the node's weight as the ONNX
   * file stores it (`[outC, inC/groups, kh, kw]`, `[out, in]` for a Gemm, `[in, out]` for a
   * MatMul), checked against `model`: every Conv, Gemm and MatMul needs one, of its shape.
   */
  static fromTensors(model: { readonly graph: Graph; readonly name: string }, patterns: Readonly<Record<string, Tensor>>): Patterns {
    if (typeof model !== 'object' || model === null || !('graph' in model)) throw argumentError('Patterns.fromTensors', 'model', 'a Model from lrp.loadModel()', model);
    if (typeof patterns !== 'object' || patterns === null || Array.isArray(patterns)) {
      throw argumentError('Patterns.fromTensors', 'patterns', 'an object of tensors by node name', patterns);
    }
    for (const [node, t] of Object.entries(patterns)) requireTensor('Patterns.fromTensors', `patterns['${node}']`, t);
    const entries = Object.entries(patterns).map(([node, t]) => ({ node, shape: t.shape, data: t.data, file: `pattern '${node}'` }));
    return new Patterns(bindPatterns(model.graph, entries, { source: `the patterns given for '${model.name}'`, digest: null }), null);
  }

  /** The nodes that have a pattern (every Conv, Gemm and MatMul), in forward order. */
  get nodes(): readonly string[] {
    return this.linear().map((l) => l.name);
  }

  /** A 64-bit digest of every pattern's values (what evaluation runs record). */
  get digest(): string {
    return this.set.digest;
  }

  /** Samples of the statistics set they were learned from; null for patterns read or given as tensors. */
  get samples(): number | null {
    return this.provenance?.samples ?? null;
  }

  /** A node's pattern, in the shape of its weight as the ONNX file stores it. */
  pattern(node: string): Tensor {
    const layer = this.linear().find((l) => l.name === node);
    const a = this.set.byLayer.get(node);
    if (!layer || !a) throw new Error(`no pattern for node '${node}' (nodes: ${this.nodes.join(', ')})`);
    return { data: toSourceLayout(layer, a.slice()), shape: sourceWeightShape(layer) };
  }

  private linear(): LinearLayer[] {
    return this.set.graph.layers.filter(isLinear);
  }
}
