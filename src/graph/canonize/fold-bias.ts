/**
 * fold-bias: an Add of a per-channel constant (a `bias` layer, as the importer converts
 * MatMul + Add or an exporter's split-off bias) joins the bias of the layer before it: a
 * convolution's or dense layer's bias, or a BatchNorm's shift (beta), which fold-batchnorm may
 * then fold further. Only where nothing else reads that layer's output, so the function is
 * unchanged. A bias that follows anything else stays, and `requireExecutable` refuses it.
 */
import type { Graph, Layer } from '../ir.ts';
import { readers, rebuild, soleReader } from './edit.ts';
import { NOTHING, type CanonizerPass } from './types.ts';

function addBias(target: Float32Array, add: Float32Array): Float32Array {
  // The sum in float64, rounded once: what a float32 Add after the layer would give.
  return Float32Array.from(target, (b, c) => b + add[c]);
}

export const foldBias: CanonizerPass = {
  name: 'fold-bias',
  description: 'an Add of a per-channel constant joins the bias of the Conv, Gemm/MatMul or BatchNorm before it',
  run(graph) {
    const byValue = readers(graph);
    const producer = new Map<string, Layer>(graph.layers.map((l) => [l.output, l]));
    const replaced = new Map<Layer, Layer>();
    const dropped = new Set<Layer>();
    const into = new Map<string, number>();
    for (const l of graph.layers) {
      if (l.kind !== 'bias') continue;
      const p0 = producer.get(l.inputs[0]);
      const p = p0 && (replaced.get(p0) ?? p0);
      if (!p || (p.kind !== 'conv' && p.kind !== 'dense' && p.kind !== 'batchnorm') || soleReader(graph, byValue, l.inputs[0]) !== l) continue;
      const merged: Layer = p.kind === 'batchnorm'
        ? { ...p, bias: addBias(p.bias, l.bias), output: l.output }
        : { ...p, bias: addBias(p.bias, l.bias), output: l.output, hasBias: true };
      replaced.set(p0, merged);
      // A later bias reading this one's output now finds the merged layer as its producer.
      producer.set(l.output, p0);
      dropped.add(l);
      into.set(p.kind, (into.get(p.kind) ?? 0) + 1);
    }
    if (dropped.size === 0) return { graph, report: { pass: this.name, summary: NOTHING, changed: false } };
    const layers = graph.layers.filter((l) => !dropped.has(l)).map((l) => replaced.get(l) ?? l);
    const parts = [...into].map(([kind, n]) => `${n} into ${kind} layers`);
    return {
      graph: rebuild(graph, layers),
      report: { pass: this.name, summary: `folded ${dropped.size} bias Add (${parts.join(', ')})`, changed: true },
    };
  },
};
