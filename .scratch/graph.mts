import { GraphBuilder, type LayerSpec } from '../src/graph/builder.ts';
import type { Graph } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
export function residualGraph(seed: number, zeroBias: boolean): Graph {
  const rng = new Rng(seed);
  const normal = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    if (std > 0) rng.fillNormal(a, std);
    return a;
  };
  const bstd = zeroBias ? 0 : 0.2;
  const conv = (name: string, input: string, inC: number, outC: number, pad: number, groups = 1): LayerSpec => ({
    kind: 'conv', name, inputs: [input], output: name, inChannels: inC, outChannels: outC, kernel: [3, 3],
    stride: [1, 1], pads: [pad, pad, pad, pad], dilation: [1, 1], groups,
    weight: normal(outC * (inC / groups) * 9, Math.sqrt(2 / ((inC / groups) * 9))), bias: normal(outC, bstd),
  });
  const C = 6;
  const b = new GraphBuilder('residual', 'x', [3, 9, 8]);
  b.add(conv('c1', 'x', 3, C, 1));
  b.add({ kind: 'relu', name: 'r1', inputs: ['c1'], output: 'r1' });
  b.add(conv('c2', 'r1', C, C, 1, 2));
  const variance = Float32Array.from(normal(C, 1), (v) => 0.5 + v * v);
  b.add({
    kind: 'batchnorm', name: 'bn', inputs: ['c2'], output: 'bn', channels: C, scale: Float32Array.from(normal(C, 0.3), (v) => 1 + v),
    bias: normal(C, bstd), mean: normal(C, bstd), variance, epsilon: 1e-5,
  });
  b.add({ kind: 'add', name: 'add1', inputs: ['bn', 'r1'], output: 'add1' });
  b.add({ kind: 'leakyrelu', name: 'leaky', inputs: ['add1'], output: 'leaky', alpha: 0.1 });
  b.add({ kind: 'pad', name: 'pad', inputs: ['leaky'], output: 'pad', pads: [1, 2, 1, 0] });
  b.add(conv('c3', 'pad', C, C, 0));
  b.add({ kind: 'clip', name: 'relu6', inputs: ['c3'], output: 'relu6', min: 0, max: 6 });
  b.add({ kind: 'add', name: 'add2', inputs: ['relu6', 'c2'], output: 'add2' });
  b.add({ kind: 'relu', name: 'r2', inputs: ['add2'], output: 'r2' });
  b.add({ kind: 'globalavgpool', name: 'gap', inputs: ['r2'], output: 'gap' });
  b.add({ kind: 'flatten', name: 'flat', inputs: ['gap'], output: 'flat' });
  b.add({ kind: 'dense', name: 'fc', inputs: ['flat'], output: 'logits', inFeatures: C, outFeatures: 5, weight: normal(5 * C, Math.sqrt(2 / C)), bias: normal(5, bstd) });
  return b.build('logits');
}

