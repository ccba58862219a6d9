/**
 * Relevance-pass benchmark: per composite, the relevance kernels' time against the forward
 * kernels' time, both from timestamp queries in the same process, interleaved run by run so that
 * a loaded machine slows both alike; and per layer (--layers) where the time goes, kernel by
 * kernel.
 *
 *   npx tsx bench/relevance.ts [--model vgg16:random] [--batch 1,8] [--composite cmp-alpha2-flat,lrp-z,...]
 *                              [--repeat 3] [--layers] [--warmup-ms 3000] [--conv auto|direct,winograd,auto]
 *
 * FLOPs count 2 per multiply-add over the true reduction length. "FLOP ratio" divides a
 * composite's relevance FLOPs by the forward pass's (cmp-alpha2-flat: 2.98, one forward conv with
 * W+ for the denominators and one transposed pass for both alpha-beta terms). "Efficiency" is the
 * relevance time over the forward time, divided by the FLOP ratio: 1.00 means the relevance
 * kernels run at the forward kernels' rate. Issue 10's target is <= 1.25 for cmp-alpha2-flat and
 * lrp-z on VGG-16 at batch 1 and 8. On lavapipe a VGG-16 relevance pass takes tens of seconds:
 * start with --batch 1 and a few composites.
 *
 * --conv with several modes (src/forward/winograd.ts: direct, winograd, auto) builds one model per
 * mode and alternates them run by run in this process, forward and relevance passes alike; --layers
 * then prints one table with each mode's per-layer times side by side. A Winograd pass's FLOPs are
 * its GEMM's own multiply-adds (fewer than direct convolution's), so compare modes by time.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { KernelTiming } from '../src/gpu/profiler.ts';
import { ForwardModel, type Activations } from '../src/forward/model.ts';
import { CONV_MODES, type ConvMode } from '../src/forward/winograd.ts';
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
    repeat: { type: 'string', default: '3' },
    layers: { type: 'boolean', default: false },
    dawn: { type: 'string', multiple: true, default: [] },
    tuning: { type: 'string' },
    'warmup-ms': { type: 'string', default: '3000' },
    conv: { type: 'string', default: 'auto' },
  },
});
const batches = args.batch!.split(',').map(Number);
const composites = args.composite === 'all' ? [...PRESET_NAMES] : args.composite!.split(',').map((s) => s.trim());
const repeat = Number(args.repeat);
const warmupMs = Number(args['warmup-ms']);
const TARGET = 1.25;
const convModes = args.conv!.split(',').map((c) => c.trim()) as ConvMode[];
for (const c of convModes) if (!CONV_MODES.includes(c)) throw new Error(`--conv: '${c}' is not one of ${CONV_MODES.join(', ')}`);

const sum = (ts: readonly KernelTiming[], f: (t: KernelTiming) => number) => ts.reduce((s, t) => s + f(t), 0);
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

/** Per layer: kernel -> ms, and FLOPs. */
function byLayer(ts: readonly KernelTiming[]): Map<string, { kernels: Map<string, number>; ms: number; flops: number }> {
  const m = new Map<string, { kernels: Map<string, number>; ms: number; flops: number }>();
  for (const t of ts) {
    const e = m.get(t.layer) ?? { kernels: new Map(), ms: 0, flops: 0 };
    e.kernels.set(t.kernel, (e.kernels.get(t.kernel) ?? 0) + t.ms);
    e.ms += t.ms;
    e.flops += t.flops;
    m.set(t.layer, e);
  }
  return m;
}

const gpu = await createNodeGpu(dawnArgs(args));
try {
  if (!gpu.ctx.hasTimestamps) throw new Error('this bench compares kernel times and needs timestamp queries, which the adapter does not offer');
  const model = loadModel(args.model!);
  const { graph } = model;
  const fms = new Map<ConvMode, ForwardModel>();
  for (const conv of convModes) fms.set(conv, await ForwardModel.create(gpu.ctx, graph, { conv }));
  console.log(`adapter: ${gpu.adapterName}; kernels tuned for ${gpu.ctx.tuning}; LP_NATIVE_VECTOR_WIDTH=${process.env.LP_NATIVE_VECTOR_WIDTH ?? '(default)'}, LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? '(default)'}`);
  console.log(`model:   ${graph.name}, input ${graph.input.shape.join('x')}; composites: ${composites.join(', ')}; conv: ${convModes.join(', ')}`);
  console.log(`timing:  timestamp queries; forward and relevance passes (and conv modes) alternate, median of ${repeat} after a ${warmupMs} ms warm-up`);
  console.log(`load:    ${load()} (1, 5, 15 min) at the start\n`);
  const summary: string[][] = [];
  for (const batch of batches) {
    const per = numel(graph.input.shape);
    const input = new Float32Array(batch * per);
    for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 12.9898) * 2;
    for (const fm of fms.values()) await warmUp(async () => (await fm.forward(input, batch)).release(), warmupMs);
    for (const name of composites) {
      const composite = resolveComposite(parseComposite(name, '--composite'), graph, { preprocess: model.preprocess });
      const runs: { conv: ConvMode; fm: ForwardModel; ex: Explainer; acts: Activations; fwd: KernelTiming[][]; rel: KernelTiming[][]; walls: number[] }[] = [];
      try {
        for (const [conv, fm] of fms) {
          const ex = await Explainer.create(fm, composite);
          if (batch > ex.maxBatch) {
            console.log(`${name}: batch ${batch} exceeds ${ex.maxBatch}, the largest its relevance pass fits in this adapter's bindings: skipped (try --batch ${ex.maxBatch})`);
            ex.destroy();
            continue;
          }
          runs.push({ conv, fm, ex, acts: await fm.forward(input, batch), fwd: [], rel: [], walls: [] });
        }
        const explain = (r: (typeof runs)[number], profile: boolean) => r.ex.explainActivations(r.acts, { targets: 'predicted', init: 'logit', profile });
        for (const r of runs) await warmUp(() => explain(r, false), warmupMs);
        for (let k = 0; k < repeat; k++) {
          for (const r of runs) {
            const f = await r.fm.forward(input, batch, { profile: true });
            r.fwd.push(f.timings ?? []);
            f.release();
            r.rel.push((await explain(r, true)).timings ?? []);
            const t0 = performance.now();
            await explain(r, false);
            r.walls.push(performance.now() - t0);
          }
        }
        const perLayer: { conv: ConvMode; fl: ReturnType<typeof byLayer>; rl: ReturnType<typeof byLayer> }[] = [];
        for (const { conv, ex, fwd, rel, walls } of runs) {
          const fwdMs = median(fwd.map((ts) => sum(ts, (t) => t.ms)));
          const relMs = median(rel.map((ts) => sum(ts, (t) => t.ms)));
          const fwdFlops = sum(fwd[0], (t) => t.flops);
          const relFlops = sum(rel[0], (t) => t.flops);
          const flopRatio = relFlops / fwdFlops;
          const eff = relMs / fwdMs / flopRatio;
          // The run whose total is the median, layer by layer (medians per layer need not add up).
          const pick = (rs: KernelTiming[][], ms: number) => rs.find((ts) => sum(ts, (t) => t.ms) === ms) ?? rs[0];
          const fl = byLayer(pick(fwd, fwdMs));
          const rl = byLayer(pick(rel, relMs));
          perLayer.push({ conv, fl, rl });
          if (args.layers && runs.length === 1) {
            console.log(`${name}, batch ${batch}: ${describeRules(ex)}`);
            console.log(table(['layer', 'fwd ms', 'fwd GFLOP/s', 'relevance kernels (ms)', 'rel ms', 'rel GFLOP/s', 'FLOP ratio', 'efficiency'],
              [...rl].map(([l, e]) => {
                const f = fl.get(l);
                const ratio = f && f.flops ? e.flops / f.flops : 0;
                return [
                  l, f ? f.ms.toFixed(1) : '-', f && f.flops ? (f.flops / f.ms / 1e6).toFixed(2) : '-',
                  [...e.kernels].map(([kk, ms]) => `${kk} ${ms.toFixed(1)}`).join(' + '),
                  e.ms.toFixed(1), e.flops ? (e.flops / e.ms / 1e6).toFixed(2) : '-',
                  ratio ? ratio.toFixed(2) : '-', ratio && f ? (e.ms / f.ms / ratio).toFixed(2) : '-',
                ];
              }), [false, true, true, false, true, true, true, true]));
            console.log('');
          }
          const wall = median(walls);
          summary.push([
            name, String(batch), conv, fwdMs.toFixed(1), relMs.toFixed(1), flopRatio.toFixed(2), (relMs / fwdMs).toFixed(2),
            eff.toFixed(2), eff <= TARGET ? 'yes' : 'no', (relFlops / relMs / 1e6).toFixed(2), (fwdFlops / fwdMs / 1e6).toFixed(2),
            (batch / (wall / 1000)).toFixed(3),
          ]);
        }
        if (args.layers && runs.length > 1) {
          // One row per layer: each mode's relevance and forward kernel time, and how it ran.
          const methods = new Map(runs.map((r) => [r.conv, new Map(r.ex.describe().map((d) => [d.layer, d.passes]))]));
          console.log(`${name}, batch ${batch}: per-layer kernel times (ms), modes side by side`);
          const layers = [...perLayer[0].rl.keys()];
          console.log(table(
            ['layer', ...perLayer.map((p) => `rel ${p.conv}`), ...perLayer.map((p) => `fwd ${p.conv}`), ...perLayer.map((p) => `rel/fwd ${p.conv}`), 'winograd passes (auto)'],
            layers.map((l) => [
              l,
              ...perLayer.map((p) => p.rl.get(l)?.ms.toFixed(1) ?? '-'),
              ...perLayer.map((p) => p.fl.get(l)?.ms.toFixed(1) ?? '-'),
              ...perLayer.map((p) => (p.rl.get(l) && p.fl.get(l) ? (p.rl.get(l)!.ms / p.fl.get(l)!.ms).toFixed(2) : '-')),
              /\(Winograd (.*)\)$/.exec(methods.get('auto')?.get(l) ?? '')?.[1] ?? '-',
            ]),
            [false, ...perLayer.map(() => true), ...perLayer.map(() => true), ...perLayer.map(() => true), false],
          ));
          console.log('');
        }
      } finally {
        for (const r of runs) {
          r.acts.release();
          r.ex.destroy();
        }
      }
    }
  }
  console.log(table(
    ['composite', 'batch', 'conv', 'fwd ms', 'rel ms', 'FLOP ratio', 'time ratio', 'efficiency', `<= ${TARGET}`, 'rel GFLOP/s', 'fwd GFLOP/s', 'rel images/s'],
    summary, [false, true, false, true, true, true, true, true, false, true, true, true],
  ));
  console.log(`\nfwd/rel ms: kernel time of the forward / relevance pass. FLOP ratio: relevance FLOPs over forward FLOPs.
efficiency: (rel ms / fwd ms) / FLOP ratio, 1.00 = the relevance kernels at the forward kernels' rate (target <= ${TARGET}).
rel images/s: wall clock of the relevance pass alone (the forward pass ran once before).
load: ${load()} (1, 5, 15 min) at the end`);
  for (const fm of fms.values()) fm.destroy();
} finally {
  gpu.close();
}

function describeRules(ex: Explainer): string {
  const kinds = new Map<string, number>();
  for (const d of ex.describe()) if (d.rule !== '-' && d.rule !== 'pass') kinds.set(d.rule, (kinds.get(d.rule) ?? 0) + 1);
  return [...kinds].map(([r, n]) => `${n}× ${r}`).join(', ');
}
