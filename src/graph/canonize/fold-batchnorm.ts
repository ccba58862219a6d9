/**
 * fold-batchnorm: a BatchNorm whose input is a convolution's or dense layer's output that nothing
 * else reads is merged into that layer (zennit's SequentialMergeBatchNorm):
 * `w' = w * g / sqrt(v + e)`, `b' = (b - m) * g / sqrt(v + e) + beta`, per output channel, computed
 * in float64 and rounded once. Any other BatchNorm stays a layer of its own: after an addition or a
 * concatenation, before a convolution (pre-activation), at the input, or after a convolution whose
 * output a skip connection also reads (folding would change what the skip carries).
 */
import type { BatchNormLayer, ConvLayer, DenseLayer, Graph, Layer } from '../ir.ts';
import { readers, rebuild, soleReader } from './edit.ts';
import { NOTHING, type CanonizerPass } from './types.ts';

/** The linear layer with the BatchNorm after it merged in; its output becomes the BatchNorm's. */
export function mergeBatchNorm<L extends ConvLayer | DenseLayer>(linear: L, bn: BatchNormLayer): L {
  const out = linear.kind === 'conv' ? linear.outChannels : linear.outFeatures;
  if (bn.channels !== out) throw new Error(`internal: ${bn.name} has ${bn.channels} channels, ${linear.name} ${out}`);
  const per = linear.weight.length / out;
  const weight = new Float32Array(linear.weight.length);
  const bias = new Float32Array(out);
  for (let c = 0; c < out; c++) {
    const s = bn.scale[c] / Math.sqrt(bn.variance[c] + bn.epsilon);
    for (let k = 0; k < per; k++) weight[c * per + k] = linear.weight[c * per + k] * s;
    bias[c] = (linear.bias[c] - bn.mean[c]) * s + bn.bias[c];
  }
  return { ...linear, weight, bias, output: bn.output, hasBias: true };
}

export const foldBatchNorm: CanonizerPass = {
  name: 'fold-batchnorm',
  description: 'a BatchNorm after a Conv or Gemm that nothing else reads merges into it; any other stays standalone',
  run(graph) {
    const byValue = readers(graph);
    const producer = new Map<string, Layer>(graph.layers.map((l) => [l.output, l]));
    const replaced = new Map<Layer, Layer>();
    const dropped = new Set<Layer>();
    const into = new Map<string, number>();
    const kept = new Map<string, number>();
    const keep = (why: string) => kept.set(why, (kept.get(why) ?? 0) + 1);
    for (const l of graph.layers) {
      if (l.kind !== 'batchnorm') continue;
      const p = producer.get(l.inputs[0]);
      if (!p) {
        keep('at the input');
      } else if (p.kind !== 'conv' && p.kind !== 'dense') {
        keep(`after ${p.kind}`);
      } else if (soleReader(graph, byValue, l.inputs[0]) !== l) {
        keep(`after ${p.kind} whose output is also read elsewhere`);
      } else {
        replaced.set(p, mergeBatchNorm((replaced.get(p) as typeof p | undefined) ?? p, l));
        // A BatchNorm right after this one finds the merged layer as its producer.
        producer.set(l.output, p);
        dropped.add(l);
        into.set(p.kind, (into.get(p.kind) ?? 0) + 1);
      }
    }
    const total = dropped.size + [...kept.values()].reduce((a, b) => a + b, 0);
    if (total === 0) return { graph, report: { pass: this.name, summary: NOTHING, changed: false } };
    const parts: string[] = [];
    if (dropped.size) {
      parts.push(into.size === 1
        ? `folded ${dropped.size} BatchNorm into ${[...into.keys()][0]} layers`
        : `folded ${dropped.size} BatchNorm (${[...into].map(([k, n]) => `${n} into ${k} layers`).join(', ')})`);
    }
    const keptN = total - dropped.size;
    if (keptN) parts.push(`kept ${keptN} BatchNorm standalone (${[...kept].map(([why, n]) => `${n} ${why}`).join(', ')})`);
    const layers = graph.layers.filter((l) => !dropped.has(l)).map((l) => replaced.get(l) ?? l);
    return {
      graph: dropped.size ? rebuild(graph, layers) : graph,
      report: { pass: this.name, summary: parts.join('; '), changed: dropped.size > 0 },
    };
  },
};
