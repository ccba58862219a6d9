/**
 * fold-bias: an Add of a per-channel constant (a `bias` layer, as the importer converts
 * MatMul + Add or an exporter's split-off bias) joins the bias of the layer before it: a
 * convolution's or dense layer's bias, a BatchNorm's shift (beta), which fold-batchnorm may
 * then fold further, or along the last axis a LayerNorm's beta. Only where nothing else reads that layer's output, so the function is
 * unchanged. A bias that follows anything else stays, and `requireExecutable` refuses it.
 */
import { valueInfo } from '../ir.ts';
import { foldIntoProducers } from './edit.ts';
import { NOTHING, type CanonizerPass } from './types.ts';

function addBias(target: Float32Array, add: Float32Array): Float32Array {
  // The sum in float64, rounded once: what a float32 Add after the layer would give.
  return Float32Array.from(target, (b, c) => b + add[c]);
}

export const foldBias: CanonizerPass = {
  name: 'fold-bias',
  description: 'an Add of a per-channel constant joins the bias of the Conv, Gemm/MatMul or BatchNorm before it',
  run(graph) {
    const r = foldIntoProducers(graph, 'bias', (p, l, sole) => {
      if (!p || !sole) return 'stays';
      // The bias must run along the producer's output axis: a channel's (axis 0) for a BatchNorm
      // or convolution, the last axis for a dense layer (the same axis where its output is flat).
      const along = l.lastAxis ? 'last' : 'channel';
      if (p.kind === 'batchnorm' && along === 'channel') return { ...p, bias: addBias(p.bias, l.bias), output: l.output };
      if (p.kind === 'conv' && along === 'channel') return { ...p, bias: addBias(p.bias, l.bias), output: l.output, hasBias: true };
      // LayerNorm's beta runs along its last axis too (an Add the decomposed form left outside it).
      if (p.kind === 'layernorm' && along === 'last') return { ...p, bias: addBias(p.bias, l.bias), output: l.output };
      if (p.kind === 'dense' && (along === 'last' || valueInfo(graph, p.output).shape.length === 1)) {
        return { ...p, bias: addBias(p.bias, l.bias), output: l.output, hasBias: true };
      }
      return 'stays';
    });
    if (r.count === 0) return { graph, report: { pass: this.name, summary: NOTHING, changed: false } };
    const parts = [...r.folded].map(([kind, n]) => `${n} into ${kind} layers`);
    return { graph: r.graph, report: { pass: this.name, summary: `folded ${r.count} bias Add (${parts.join(', ')})`, changed: true } };
  },
};
