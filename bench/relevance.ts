/**
 * Relevance-pass benchmark: per rule (composite), per layer, the time and GFLOP/s of its
 * relevance kernels (timestamp queries), the whole backward pass in images/s, and the FLOPs a
 * composite costs in forward-pass equivalents on top of the forward pass.
 *
 *   npx tsx bench/relevance.ts [--model vgg16:random] [--batch 1,8] [--composite cmp-alpha2-flat,lrp-z,...]
 *                              [--repeat 1] [--layers]
 *
 * FLOPs count 2 per multiply-add over the true reduction length. "Forward equivalents" divides a
 * composite's relevance FLOPs by the forward pass's: the target for cmp-alpha2-flat is <= 3
 * (one forward conv with W+ for the denominators, one transposed pass for both alpha-beta
 * terms). On lavapipe a VGG-16 pass takes minutes: start with --batch 1 and a few composites.
 */
import { parseArgs } from 'node:util';
import { ForwardModel } from '../src/forward/model.ts';
import { numel } from '../src/graph/ir.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { PRESET_NAMES } from '../src/lrp/presets.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { loadModel } from '../src/node/model-file.ts';
import { dawnArgs, median, table, warmUp } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16:random' },
    batch: { type: 'string', default: '1' },
    composite: { type: 'string', default: 'cmp-alpha2-flat,lrp-z,lrp-epsilon,lrp-alpha1beta0,lrp-alpha2beta1,cmp-alpha1,lrp-cam,epsilon-gamma-box,gradient,guided-backprop' },
    repeat: { type: 'string', default: '1' },
    layers: { type: 'boolean', default: false },
    dawn: { type: 'string', multiple: true, default: [] },
    tuning: { type: 'string' },
    'warmup-ms': { type: 'string', default: '3000' },
  },
});
const batches = args.batch!.split(',').map(Number);
const composites = args.composite === 'all' ? [...PRESET_NAMES] : args.composite!.split(',').map((s) => s.trim());
const repeat = Number(args.repeat);
const warmupMs = Number(args['warmup-ms']);

const gpu = await createNodeGpu(dawnArgs(args));
try {
  const model = loadModel(args.model!);
  const { graph } = model;
  const fm = await ForwardModel.create(gpu.ctx, graph);
  console.log(`adapter: ${gpu.adapterName}`);
  console.log(`model:   ${graph.name}, input ${graph.input.shape.join('x')}; composites: ${composites.join(', ')}`);
  console.log(`timing:  ${gpu.ctx.hasTimestamps ? 'kernel times from timestamp queries' : 'no timestamp-query: wall clock only'}; median of ${repeat} after a warm-up\n`);
  const summary: string[][] = [];
  for (const batch of batches) {
    const per = numel(graph.input.shape);
    const input = new Float32Array(batch * per);
    for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 12.9898) * 2;
    const fwdActs = await fm.forward(input, batch, { profile: true });
    const fwdFlops = (fwdActs.timings ?? []).reduce((s, t) => s + t.flops, 0);
    const fwdMs = (fwdActs.timings ?? []).reduce((s, t) => s + t.ms, 0);
    fwdActs.release();
    for (const name of composites) {
      const composite = resolveComposite(parseComposite(name, '--composite'), graph, { preprocess: model.preprocess });
      const ex = await Explainer.create(fm, composite);
      const acts = await fm.forward(input, batch);
      try {
        await warmUp(() => ex.explainActivations(acts, { targets: 'predicted', init: 'logit' }), warmupMs);
        const walls: number[] = [];
        let timings = null;
        for (let r = 0; r < repeat; r++) {
          const t0 = performance.now();
          await ex.explainActivations(acts, { targets: 'predicted', init: 'logit' });
          walls.push(performance.now() - t0);
          timings = (await ex.explainActivations(acts, { targets: 'predicted', init: 'logit', profile: true })).timings;
        }
        const flops = (timings ?? []).reduce((s, t) => s + t.flops, 0);
        const ms = (timings ?? []).reduce((s, t) => s + t.ms, 0);
        if (args.layers && timings) {
          const byLayer = new Map<string, { kernels: Set<string>; ms: number; flops: number }>();
          for (const t of timings) {
            const e = byLayer.get(t.layer) ?? { kernels: new Set(), ms: 0, flops: 0 };
            e.kernels.add(t.kernel);
            e.ms += t.ms;
            e.flops += t.flops;
            byLayer.set(t.layer, e);
          }
          console.log(`${name}, batch ${batch}: ${describeRules(ex)}`);
          console.log(table(['layer', 'kernels', 'ms', 'GFLOP/s'], [...byLayer].map(([l, e]) => [
            l, [...e.kernels].join('+'), e.ms.toFixed(2), e.flops ? (e.flops / e.ms / 1e6).toFixed(2) : '-',
          ]), [false, false, true, true]));
          console.log('');
        }
        const wall = median(walls);
        summary.push([
          name, String(batch), (fwdFlops ? flops / fwdFlops : 0).toFixed(2), ms ? ms.toFixed(1) : '-',
          ms && flops ? (flops / ms / 1e6).toFixed(2) : '-', wall.toFixed(1), (batch / (wall / 1000)).toFixed(3),
          fwdMs ? fwdMs.toFixed(1) : '-',
        ]);
      } finally {
        acts.release();
        ex.destroy();
      }
    }
  }
  console.log(table(
    ['composite', 'batch', 'fwd-equiv FLOPs', 'kernel ms', 'GFLOP/s', 'wall ms', 'images/s', 'forward ms'],
    summary, [false, true, true, true, true, true, true, true],
  ));
  console.log('\nfwd-equiv FLOPs: the relevance pass\'s FLOPs over the forward pass\'s (on top of the forward pass).');
  fm.destroy();
} finally {
  gpu.close();
}

function describeRules(ex: Explainer): string {
  const kinds = new Map<string, number>();
  for (const d of ex.describe()) if (d.rule !== '-' && d.rule !== 'pass') kinds.set(d.rule, (kinds.get(d.rule) ?? 0) + 1);
  return [...kinds].map(([r, n]) => `${n}× ${r}`).join(', ');
}
