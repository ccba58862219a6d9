/**
 * The built-in Vision Transformer (src/graph/zoo-vit.ts): vit_b_16's architecture on the CPU
 * (torchvision's parameter count and names), and a small ViT from the same builder on the GPU
 * against the float64 reference (logits, the gradient, LRP-z) with LRP-z's
 * conservation through every block (zero biases and additive constants: sum R = f_t).
 */
import { describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { numel } from '../src/graph/ir.ts';
import { summarizeGraph } from '../src/graph/summary.ts';
import { builtinModel, Rng } from '../src/graph/zoo.ts';
import { visionTransformer, type VitConfig } from '../src/graph/zoo-vit.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { againstOracle } from './helpers/oracle-relevance.ts';
import { randomArray, referenceForward } from './reference/forward.ts';

const gpu = useGpu();

describe('vit_b_16:random', () => {
  it("torchvision's 86,567,656 parameters, 197 tokens, its module names", () => {
    const g = builtinModel('vit_b_16:random');
    expect(summarizeGraph(g).totalParams).toBe(86_567_656);
    expect(g.values.get('encoder.pos_embedding')!.shape).toEqual([197, 768]);
    const names = new Set(g.layers.map((l) => l.name));
    for (const n of ['conv_proj', 'encoder.layers.encoder_layer_11.self_attention.in_proj', 'encoder.layers.encoder_layer_0.mlp.3', 'encoder.ln', 'heads.head']) {
      expect(names.has(n), n).toBe(true);
    }
    expect(g.values.get('logits')!.shape).toEqual([1000]);
  });

  it('refuses an input size that is not a multiple of 16', () => {
    expect(() => builtinModel('vit_b_16:random', { inputSize: 40 })).toThrow(/input size 40 is not a multiple of the patch size 16/);
  });
});

describe('a small ViT from the built-in builder on the GPU', () => {
  const cfg: VitConfig = { patch: 4, dim: 12, depth: 2, heads: 3, mlp: 20, classes: 5 };
  const graph = visionTransformer('vit-small', new Rng(3), 12, cfg, 'input', 'logits');
  const N = 2;
  const targets = [1, 4];
  const x = randomArray(N * numel(graph.input.shape), 5);

  it('logits, the gradient and LRP-z match the float64 reference; LRP-z conserves f_t', async () => {
    const fm = await ForwardModel.create(gpu.ctx, graph);
    const acts = await fm.forward(Float32Array.from(x), N);
    const lines: string[] = [];
    try {
      const ref = referenceForward(graph, x, N);
      const logits = ref.get('logits')!;
      const logitErr = relL2(await acts.read(), logits);
      lines.push(`logits ${logitErr.toExponential(2)}`);
      expect(logitErr).toBeLessThanOrEqual(1e-5);
      const cases: [string, unknown][] = [['gradient', 'gradient'], ['lrp-z', { stabilizer: 1e-9, rules: [{ layers: 'linear', rule: 'z' }] }]];
      for (const [name, spec] of cases) {
        const { err, relevance, want } = await againstOracle(fm, acts, graph, name, spec, x, N, targets);
        lines.push(`${name} ${err.toExponential(2)}`);
        expect(err, name).toBeLessThanOrEqual(1e-4);
        if (name === 'lrp-z') {
          const per = numel(graph.input.shape);
          targets.forEach((t, n) => {
            const f = logits[n * cfg.classes + t];
            const sumRef = want.subarray(n * per, (n + 1) * per).reduce((a, b) => a + b, 0);
            const sumGpu = relevance.subarray(n * per, (n + 1) * per).reduce((a, b) => a + b, 0);
            lines.push(`sum R ${sumGpu.toPrecision(6)} (float64 ${sumRef.toPrecision(8)}) vs f_t ${f.toPrecision(8)}`);
            expect(Math.abs(sumRef - f) / Math.abs(f), 'float64 conservation').toBeLessThan(1e-6);
            expect(Math.abs(sumGpu - f) / Math.abs(f), 'GPU conservation').toBeLessThan(1e-3);
          });
        }
      }
    } finally {
      acts.release();
      fm.destroy();
      console.log(`small ViT vs float64: ${lines.join(', ')}`);
    }
  });
});
