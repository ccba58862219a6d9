/**
 * The subgroups variants of the GEMM kernels (src/gpu/subgroups.ts): the probe's verdict on a
 * layout, what it finds on this adapter, and the variants' results beside the plain kernels' and
 * a float64 reference, forward and relevance, on convolutions that reach every branch of the
 * variant's B broadcast (a row of 32 channels needs two reads per subgroup of 4, one per subgroup
 * of 8; a partial last column block; groups; stride phases; the transposed pass's wide tile).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { gemmVariant, rowLanesOf, rowSubgroupLanes } from '../src/gpu/subgroups.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import type { Graph } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { nodeShaderLoader } from '../src/node/gpu.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { randomArray, referenceForward } from './reference/forward.ts';
import { referenceRelevances } from './reference/relevance.ts';

/** What the probe kernel writes per invocation: (subgroup size, lane, local index of lane 0). */
function layout(invocations: number, sizeOf: (tid: number) => number, firstOf: (tid: number) => number, laneOf: (tid: number) => number): number[] {
  return Array.from({ length: invocations }, (_, tid) => [sizeOf(tid), laneOf(tid), firstOf(tid)]).flat();
}

describe('the subgroup probe\'s verdict', () => {
  it('accepts rows of 4 or 8 consecutive invocations', () => {
    for (const s of [4, 8]) expect(rowLanesOf(layout(32, () => s, (t) => t - (t % s), (t) => t % s))).toBe(s);
  });

  it('refuses other sizes and other layouts', () => {
    expect(rowLanesOf(layout(32, () => 16, (t) => t - (t % 16), (t) => t % 16)), '16 lanes span two rows').toBeNull();
    expect(rowLanesOf(layout(32, () => 32, () => 0, (t) => t)), '32 lanes').toBeNull();
    expect(rowLanesOf(layout(32, () => 1, (t) => t, () => 0)), 'one lane').toBeNull();
    // Column-major subgroups: lanes 0..3 are invocations 0, 8, 16, 24.
    const col = (t: number) => (t % 8) * 4 + Math.floor(t / 8);
    expect(rowLanesOf(layout(32, () => 4, (t) => col(t) - (col(t) % 4), (t) => col(t) % 4)), 'not consecutive').toBeNull();
    // Sizes that differ between subgroups.
    expect(rowLanesOf(layout(32, (t) => (t < 16 ? 8 : 4), (t) => t - (t % (t < 16 ? 8 : 4)), (t) => t % (t < 16 ? 8 : 4)))).toBeNull();
  });
});

const GEMMS = ['forward/conv2d.wgsl', 'relevance/conv_stab.wgsl', 'relevance/conv_transpose.wgsl'];

function wideGraph(): Graph {
  const rng = new Rng(5);
  const normal = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    rng.fillNormal(a, std);
    return a;
  };
  const conv = (name: string, input: string, inC: number, outC: number, o: { stride?: number; groups?: number } = {}) => {
    const groups = o.groups ?? 1;
    const k = (inC / groups) * 9;
    return {
      kind: 'conv' as const, name, inputs: [input], output: name, inChannels: inC, outChannels: outC, kernel: [3, 3] as [number, number],
      stride: [o.stride ?? 1, o.stride ?? 1] as [number, number], pads: [1, 1, 1, 1] as [number, number, number, number],
      dilation: [1, 1] as [number, number], groups, weight: normal(outC * k, Math.sqrt(2 / k)), bias: normal(outC, 0.1),
    };
  };
  // Two convolutions only (each shape is an LLVM compile per kernel and family on lavapipe).
  const b = new GraphBuilder('wide', 'input', [40, 13, 11]);
  // 36 channels per group: one block of 32 and a partial one.
  b.add(conv('conv2', 'input', 40, 72, { groups: 2 }));
  b.add({ kind: 'relu', name: 'relu2', inputs: ['conv2'], output: 'relu2' });
  // 72 input channels: the transposed pass takes its wide tile; stride 2: four phases.
  b.add(conv('conv3', 'relu2', 72, 100, { stride: 2 }));
  b.add({ kind: 'relu', name: 'relu3', inputs: ['conv3'], output: 'relu3' });
  b.add({ kind: 'flatten', name: 'flatten', inputs: ['relu3'], output: 'flatten' });
  const inF = numel(b.shapeOf('flatten'));
  b.add({
    kind: 'dense', name: 'fc', inputs: ['flatten'], output: 'logits', inFeatures: inF, outFeatures: 10,
    weight: normal(10 * inF, Math.sqrt(2 / inF)), bias: normal(10, 0.1),
  });
  return b.build('logits');
}

describe('subgroups variants on this adapter', () => {
  const gpu = useGpu();
  let plain: GpuContext | undefined;
  afterAll(() => plain?.destroy());

  it('the probe finds rows of 4 or 8 lanes on lavapipe, and the CPU family runs the variants', async () => {
    const { ctx } = gpu;
    if (!ctx.device.features.has('subgroups')) {
      console.log(`SKIPPED: ${gpu.gpu.adapterName} offers no subgroups, so the plain kernels run everywhere`);
      return;
    }
    const lanes = await rowSubgroupLanes(ctx);
    console.log(`${gpu.gpu.adapterName} (LP_NATIVE_VECTOR_WIDTH ${process.env.LP_NATIVE_VECTOR_WIDTH ?? 'unset'}): ${lanes === null ? 'its subgroups are not rows of 4 or 8 lanes, so the plain kernels run' : `subgroups of ${lanes} lanes in rows`}`);
    if (/llvmpipe|lavapipe/i.test(gpu.gpu.adapterName)) {
      // A subgroup is one SIMD vector of 32-bit lanes: 4 at width 128 (the suite's), 8 at 256;
      // 16 at 512, which spans two 8-wide rows, so the plain kernels run there.
      const width = process.env.LP_NATIVE_VECTOR_WIDTH;
      const expected = width === undefined ? lanes : ({ 128: 4, 256: 8 } as Record<string, number>)[width] ?? null;
      expect(lanes, `lavapipe's lanes at width ${width ?? 'default'}`).toBe(expected);
      expect([4, 8, null]).toContain(lanes);
      expect(await gemmVariant(ctx)).toEqual(ctx.tuning === 'cpu' && lanes !== null ? { variant: 'subgroups', constants: { SG: lanes } } : { constants: {} });
    }
    const off = new GpuContext(ctx.device, { shaders: nodeShaderLoader, tuning: 'cpu', subgroups: false });
    try {
      expect(await rowSubgroupLanes(off)).toBeNull();
      expect(await gemmVariant(off)).toEqual({ constants: {} });
    } finally {
      off.destroy();
    }
  });

  const graph = wideGraph();
  const batch = 2;
  const targets = [4, 9];
  const input = Float32Array.from(randomArray(batch * numel(graph.input.shape), 21));
  const input64 = Float64Array.from(input);

  // cmp-alpha2-flat's rules reach every GEMM kernel: denominators (alpha-beta's two segments), the
  // transposed pass (two segments; one segment is the same pipeline with other uniforms), flat.
  for (const preset of ['epsilon-alpha2-beta1-flat']) {
    it(`${preset}: the variants and the plain CPU kernels both match the float64 reference`, async () => {
      plain ??= new GpuContext(gpu.ctx.device, { shaders: nodeShaderLoader, tuning: 'cpu', subgroups: false });
      const composite = resolveComposite(parseComposite(preset, preset), graph);
      const logits64 = referenceForward(graph, input64, batch).get(graph.output)!;
      const rel64 = referenceRelevances(graph, composite.rules, composite.method, input64, batch, targets, 'logit').get(graph.input.name)!;
      const results: Float32Array[] = [];
      for (const ctx of [new GpuContext(gpu.ctx.device, { shaders: nodeShaderLoader, tuning: 'cpu' }), plain]) {
        const fm = await ForwardModel.create(ctx, graph);
        const explainer = await Explainer.create(fm, composite);
        try {
          const acts = await fm.forward(input, batch);
          try {
            const logitErr = relL2(await acts.read(), logits64);
            const ex = await explainer.explainActivations(acts, { targets, init: 'logit' });
            const err = relL2(ex.relevance, rel64);
            const which = ctx === plain ? 'plain kernels' : `variant ${JSON.stringify(await gemmVariant(ctx))}`;
            console.log(`${preset}, ${which}: logits rel L2 ${logitErr.toExponential(2)}, relevance rel L2 ${err.toExponential(2)}`);
            expect(logitErr, which).toBeLessThanOrEqual(1e-5);
            expect(err, which).toBeLessThanOrEqual(1e-4);
            results.push(ex.relevance);
            const files = ctx.pipelines.shaderFiles;
            const variants = files.filter((f) => f.endsWith('.subgroups.wgsl'));
            if (ctx === plain || !(await gemmVariant(ctx)).variant) expect(variants, which).toEqual([]);
            else {
              expect(variants, which).toEqual(expect.arrayContaining(['forward/conv2d.subgroups.wgsl', 'relevance/conv_transpose.subgroups.wgsl']));
              expect(files.filter((f) => GEMMS.includes(f)), `${which}: a plain GEMM kernel ran`).toEqual([]);
            }
          } finally {
            acts.release();
          }
        } finally {
          explainer.destroy();
          fm.destroy();
          if (ctx !== plain) ctx.destroy();
        }
      }
      const apart = relL2(results[0], results[1]);
      console.log(`${preset}: variant against plain rel L2 ${apart.toExponential(2)}`);
      // Each output sums its k in the same order whatever the tile: the same bits.
      expect(apart, 'variant against plain').toBe(0);
    });
  }
});
