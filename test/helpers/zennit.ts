/** The layout of ../shared/testvectors/zennit/: an index of models, and a cases.json per model. */
import { GraphBuilder } from '../../src/graph/builder.ts';
import type { Graph } from '../../src/graph/ir.ts';
import type { Init } from '../../src/lrp/explainer.ts';

export const ZENNIT_INDEX = 'testvectors/zennit/index.json';
/** The same layout for networks with skip connections and BatchNorm (lrp-rules.md, "Residual networks"). */
export const ZENNIT_RESIDUAL_INDEX = 'testvectors/zennit-residual/index.json';

/** One reference relevance: a composite (zennit's JSON), the targets, and the expected .npy. */
export interface ZennitCase {
  name: string;
  composite: unknown;
  target: number[];
  init: Init;
  expected: string;
  tolerance: number;
}

/** A model's cases.json: its ONNX file, the input and logits .npy, and its cases. */
export interface ZennitCaseFile { model: string; input: string; logits: string; cases: ZennitCase[] }

/**
 * zennit 0.5.1's SequentialMergeBatchNorm merges a BatchNorm into the convolution before it and
 * then leaves the BatchNorm in place with mean 0, variance 1, scale 1 and shift 0, which computes
 * x / sqrt(1 + eps), not x: every merged BatchNorm scales by 1 - 5e-6 (eps 1e-5), and its rule is
 * `pass`. zennit-residual's LRP and guided-backprop references carry that factor (its gradient
 * references were computed without a canonizer and do not). This project folds exactly, as
 * lrp-rules.md asks, so the tests rebuild zennit's function for the cases computed with it: a
 * unit BatchNorm after every convolution (every convolution of both reference models had one).
 */
export function withZennitMergedBatchNorm(graph: Graph): Graph {
  const b = new GraphBuilder(graph.name, graph.input.name, graph.input.shape);
  const renamed = new Map<string, string>();
  for (const l of graph.layers) {
    b.add({ ...l, inputs: l.inputs.map((i) => renamed.get(i) ?? i) });
    if (l.kind !== 'conv') continue;
    const c = l.outChannels;
    const output = `${l.output}#zennit-bn`;
    b.add({
      kind: 'batchnorm', name: `${l.name}#zennit-bn`, inputs: [l.output], output, channels: c,
      scale: new Float32Array(c).fill(1), bias: new Float32Array(c), mean: new Float32Array(c), variance: new Float32Array(c).fill(1),
      epsilon: 1e-5,
    });
    renamed.set(l.output, output);
  }
  return b.build(renamed.get(graph.output) ?? graph.output);
}

/** Whether zennit computed a case through its canonizer: every composite but the plain-gradient methods. */
export function zennitCanonized(c: ZennitCase): boolean {
  const m = (c.composite as { method?: string }).method;
  return m !== 'gradient' && m !== 'gradient-x-input';
}
