/**
 * fold-batchnorm: a BatchNorm whose input is a convolution's or dense layer's output that nothing
 * else reads is merged into that layer (zennit's SequentialMergeBatchNorm):
 * `w' = w * g / sqrt(v + e)`, `b' = (b - m) * g / sqrt(v + e) + beta`, per output channel, computed
 * in float64 and rounded once. Any other BatchNorm stays a layer of its own: after an addition or a
 * concatenation, before a convolution (pre-activation), at the input, or after a convolution whose
 * output a skip connection also reads (folding would change what the skip carries).
 */
import type { BatchNormLayer, ConvLayer, DenseLayer } from '../ir.ts';
import { foldIntoProducers } from './edit.ts';
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
    const r = foldIntoProducers(graph, 'batchnorm', (p, l, sole) => {
      if (!p) return 'at the input';
      if (p.kind !== 'conv' && p.kind !== 'dense') return `after ${p.kind}`;
      if (!sole) return `after ${p.kind} whose output is also read elsewhere`;
      return mergeBatchNorm(p, l);
    });
    const keptN = [...r.kept.values()].reduce((a, b) => a + b, 0);
    if (r.count + keptN === 0) return { graph, report: { pass: this.name, summary: NOTHING, changed: false } };
    const parts: string[] = [];
    if (r.count) {
      parts.push(r.folded.size === 1
        ? `folded ${r.count} BatchNorm into ${[...r.folded.keys()][0]} layers`
        : `folded ${r.count} BatchNorm (${[...r.folded].map(([k, n]) => `${n} into ${k} layers`).join(', ')})`);
    }
    if (keptN) parts.push(`kept ${keptN} BatchNorm standalone (${[...r.kept].map(([why, n]) => `${n} ${why}`).join(', ')})`);
    return { graph: r.graph, report: { pass: this.name, summary: parts.join('; '), changed: r.count > 0 } };
  },
};
