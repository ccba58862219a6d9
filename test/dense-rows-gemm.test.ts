/**
 * Dense layers over many rows run as the convolution GEMM (src/forward/dense-gemm.ts): on the CPU
 * the choice (rows per sample, the binding limit) and the layer as a 1x1 convolution; on the GPU a
 * token graph whose two dense layers take 37 rows per sample (batch 2: 74 rows, not a multiple of
 * any row tile) at odd feature counts (13 → 15 → 13), forward and every linear rule, sign and
 * input-layer rule against the float64 reference (test/reference), and the gradient. The head
 * (one row per sample) keeps the few-row kernels in the same graph.
 */
import { describe, expect, it } from 'vitest';
import { convShapes, denseAsConv, ROW_GEMM_MIN_ROWS, usesRowGemm } from '../src/forward/dense-gemm.ts';
import { createDense } from '../src/forward/dense.ts';
import { ForwardModel } from '../src/forward/model.ts';
import { WeightStore } from '../src/gpu/weight-store.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import type { DenseLayer, Graph } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { againstOracle } from './helpers/oracle-relevance.ts';
import { randomArray, referenceForward } from './reference/forward.ts';

const dense = (inF: number, outF: number): DenseLayer => ({
  kind: 'dense', name: 'd', inputs: ['x'], output: 'y', inFeatures: inF, outFeatures: outF,
  weight: Float32Array.from({ length: inF * outF }, (_, i) => i), bias: Float32Array.from({ length: outF }, (_, i) => -i),
});

describe('which dense layers run as the GEMM', () => {
  it('from ROW_GEMM_MIN_ROWS rows per sample, while both GEMM layouts of the weight fit a binding', () => {
    const l = dense(768, 3072);
    expect(usesRowGemm(l, 1, 2 ** 27)).toBe(false);
    expect(usesRowGemm(l, ROW_GEMM_MIN_ROWS - 1, 2 ** 27)).toBe(false);
    expect(usesRowGemm(l, ROW_GEMM_MIN_ROWS, 2 ** 27)).toBe(true);
    expect(usesRowGemm(l, 197, 2 ** 27)).toBe(true);
    // 768 x 3072 floats: 9,437,184 bytes, padded the same (768 a multiple of 16, 3072 of 4).
    expect(usesRowGemm(l, 197, 9_437_184)).toBe(true);
    expect(usesRowGemm(l, 197, 9_437_183)).toBe(false);
    // 13 → 15: k-major 16 x 16, transposed 16 x 16 padded floats.
    expect(usesRowGemm(dense(13, 15), 37, 4 * 256)).toBe(true);
    expect(usesRowGemm(dense(13, 15), 37, 4 * 256 - 1)).toBe(false);
  });

  it('as a 1x1 convolution over [inF, 1, 1] rows, the weight and bias as they lie', () => {
    const l = dense(3, 5);
    const c = denseAsConv(l);
    expect(c).toMatchObject({ kind: 'conv', name: 'd', inChannels: 3, outChannels: 5, kernel: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1], groups: 1 });
    expect(c.weight).toBe(l.weight);
    expect(c.bias).toBe(l.bias);
    expect(convShapes(l)).toEqual({ inShape: [3, 1, 1], outShape: [5, 1, 1] });
  });
});

const gpu = useGpu();

/** x [37, 13] tokens → d1 (dense 13→15) → r1 (ReLU) → d2 (dense 15→13) → flatten [481] → fc (481→4, the few-row kernels). */
function tokenGraph(seed: number): Graph {
  const rng = new Rng(seed);
  const normal = (n: number, std: number) => {
    const a = new Float32Array(n);
    rng.fillNormal(a, std);
    return a;
  };
  const b = new GraphBuilder('token-gemm', 'x', [37, 13]);
  b.add({ kind: 'dense', name: 'd1', inputs: ['x'], output: 'd1', inFeatures: 13, outFeatures: 15, weight: normal(195, 0.5), bias: normal(15, 0.2) });
  b.add({ kind: 'relu', name: 'r1', inputs: ['d1'], output: 'r1' });
  b.add({ kind: 'dense', name: 'd2', inputs: ['r1'], output: 'd2', inFeatures: 15, outFeatures: 13, weight: normal(195, 0.4), bias: normal(13, 0.2) });
  b.add({ kind: 'flatten', name: 'flat', inputs: ['d2'], output: 'flat' });
  b.add({ kind: 'dense', name: 'fc', inputs: ['flat'], output: 'logits', inFeatures: 481, outFeatures: 4, weight: normal(1924, 0.1), bias: normal(4, 0.2) });
  return b.build('logits');
}

describe('dense layers over 37 rows per sample, as the GEMM, against the float64 reference', () => {
  it('forward, the z, epsilon, alpha-beta (signed and ReLU inputs), z+, gamma rules, flat, wsquare and zbox on #0, and the gradient', async () => {
    const graph = tokenGraph(3);
    const N = 2;
    const targets = [1, 3];
    const x = randomArray(N * numel(graph.input.shape), 11);
    const ref = referenceForward(graph, x, N);
    const fm = await ForwardModel.create(gpu.ctx, graph);
    // createDense and createDenseBackward take the GEMM exactly where usesRowGemm says.
    const rowGemm = (name: string, rows: number) => usesRowGemm(graph.layers.find((l) => l.name === name) as DenseLayer, rows, gpu.ctx.maxBinding);
    expect([rowGemm('d1', 37), rowGemm('d2', 37), rowGemm('fc', 1)]).toEqual([true, true, false]);
    expect(fm.methods().size).toBe(0);
    // And the ops those layers get dispatch the GEMM (the pipelines are the model's, cached).
    const weights = new WeightStore(gpu.ctx);
    const buf = gpu.ctx.pool.acquire(4 * 2 * 37 * 16, GPUBufferUsage.STORAGE, 'dispatch check');
    try {
      for (const [name, shape, kernel] of [['d1', [37, 13], 'conv2d'], ['fc', [481], 'dense']] as const) {
        const layer = graph.layers.find((l) => l.name === name) as DenseLayer;
        const op = await createDense(gpu.ctx, layer, [{ shape: [...shape], relu: false }], [layer.outFeatures], weights, {});
        expect(op.dispatches(2, [{ buffer: buf, shape: [...shape], relu: false }], buf, () => buf).map((d) => d.kernel), name).toEqual([kernel]);
        op.destroy();
      }
    } finally {
      gpu.ctx.pool.release(buf);
    }
    const acts = await fm.forward(Float32Array.from(x), N);
    const eps = { layers: 'linear', rule: 'epsilon', epsilon: 0.1 };
    const composites: [string, unknown][] = [
      ['lrp-z', 'lrp-z'],
      ['lrp-epsilon', { rules: [{ layers: 'linear', rule: 'epsilon', epsilon: 0.25 }] }],
      ['lrp-alpha2beta1', 'lrp-alpha2beta1'],
      ['zplus', { rules: [{ layers: 'linear', rule: 'zplus' }] }],
      ['gamma', { rules: [{ layers: 'dense', rule: 'gamma', gamma: 0.25 }] }],
      ['flat #0', { rules: [eps, { layers: '#0', rule: 'flat' }] }],
      ['wsquare #0', { rules: [eps, { layers: '#0', rule: 'wsquare' }] }],
      ['zbox #0', { rules: [eps, { layers: '#0', rule: 'zbox', low: Array.from({ length: 13 }, (_, i) => -1 - (i % 3)), high: Array.from({ length: 13 }, (_, i) => 1 + (i % 2)) }] }],
      ['gradient', 'gradient'],
    ];
    const lines: string[] = [];
    try {
      for (const l of graph.layers) expect(relL2(await acts.read(l.output), ref.get(l.output)!), `forward ${l.name}`).toBeLessThanOrEqual(1e-6);
      for (const [name, spec] of composites) {
        const { err } = await againstOracle(fm, acts, graph, name, spec, x, N, targets);
        lines.push(`${name} ${err.toExponential(2)}`);
        expect(err, name).toBeLessThanOrEqual(1e-5);
      }
    } finally {
      acts.release();
      fm.destroy();
    }
    console.log(`token GEMM graph, relative L2 vs float64: ${lines.join(', ')}`);
  });
});
