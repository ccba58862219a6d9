/**
 * What `--conv auto` should pick per layer and pass (src/forward/winograd.ts, winogradChoice and
 * AUTO_RULE): for every distinct 3x3 stride-1 convolution shape of a model, the kernel time of its
 * three passes (the forward convolution, the relevance denominators, the relevance
 * redistribution) under direct convolution, Winograd F(2,3) and F(4,3), the three methods built
 * side by side and timed round-robin in this process, so a shared machine slows them alike.
 *
 *   npx tsx bench/winograd-choice.ts [--model vgg16:random,resnet50:random] [--batch 1,8]
 *                                    [--repeat 3] [--rule alpha-beta|z] [--layers features.2,...]
 *
 * The relevance op is the one a model builds (createConvRelevance, forced to each method through
 * its conv mode and tile) under alpha-beta 2/1 on inputs >= 0 (cmp-alpha2-flat's convolutions:
 * one W+ denominator segment, a transposed pass of two segments) or the z rule (lrp-z's). Its
 * dispatches are split by pass: a Winograd input transform counts for the pass whose GEMM follows
 * it; the direct op's divide and anything else shared is `other`, the same for every method, and
 * left out. Figures: the median over --repeat rounds of each pass's kernel time, and each
 * method's time over direct's (the ratios are what a loaded machine keeps). A pass whose batch
 * would pass a binding (alpha-beta's s on 224x224 planes at batch 8) is shown as '-'.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BufferLease } from '../src/gpu/buffer-pool.ts';
import type { Dispatch } from '../src/gpu/context.ts';
import { WeightStore } from '../src/gpu/weight-store.ts';
import { createConv } from '../src/forward/conv-op.ts';
import { winogradBlocker, type ConvMode, type WinogradTile } from '../src/forward/winograd.ts';
import type { ConvLayer } from '../src/graph/ir.ts';
import { numel, valueInfo } from '../src/graph/ir.ts';
import { builtinModel } from '../src/graph/zoo.ts';
import { createConvRelevance } from '../src/lrp/ops/winograd-relevance.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { median, table, filledBuffer } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16:random,resnet50:random' },
    batch: { type: 'string', default: '1,8' },
    repeat: { type: 'string', default: '3' },
    rule: { type: 'string', default: 'alpha-beta' },
    layers: { type: 'string' },
  },
});
if (!['alpha-beta', 'z'].includes(args.rule!)) throw new Error(`--rule must be alpha-beta or z, not '${args.rule}'`);
const rule = args.rule === 'z' ? { rule: 'z' as const, stabilizer: 1e-6 } : { rule: 'alpha-beta' as const, alpha: 2, beta: 1, stabilizer: 1e-6 };
const repeat = Number(args.repeat);
const batches = args.batch!.split(',').map(Number);
const only = args.layers ? new Set(args.layers.split(',')) : null;

type Pass = 'forward' | 'denominators' | 'redistribution';
const PASSES: readonly Pass[] = ['forward', 'denominators', 'redistribution'];
const METHODS: readonly { name: string; conv: ConvMode; tile?: WinogradTile }[] = [
  { name: 'direct', conv: 'direct' }, { name: 'F(2,3)', conv: 'winograd', tile: 2 }, { name: 'F(4,3)', conv: 'winograd', tile: 4 },
];

/** The pass a relevance dispatch belongs to (`other`: the same work whatever the method). */
function passesOf(dispatches: readonly Dispatch[]): (Pass | 'other')[] {
  const direct = (k: string): Pass | 'other' | null => {
    if (k.startsWith('conv_stab') || k.startsWith('winograd_stab')) return 'denominators';
    if (k.startsWith('conv_transpose') || k.startsWith('conv_col2im') || k.startsWith('winograd_transpose')) return 'redistribution';
    return k === 'winograd_rel_input' ? null : 'other';
  };
  return dispatches.map((d, i) => {
    for (let j = i; j < dispatches.length; j++) {
      const p = direct(dispatches[j].kernel);
      if (p !== null) return p;
    }
    throw new Error(`a Winograd input transform with no pass after it (${d.kernel})`);
  });
}

const gpu = await createNodeGpu();
const { ctx } = gpu;
if (!ctx.hasTimestamps) throw new Error('this bench compares kernel times and needs timestamp queries');
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
console.log(`adapter: ${gpu.adapterName}; kernels tuned for ${ctx.tuning}; rule ${args.rule}; median of ${repeat} rounds; load ${load()} (1, 5, 15 min) at the start\n`);
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const filled = (count: number, label: string, f: (i: number) => number) => filledBuffer(ctx, count, label, f);

try {
  for (const spec of args.model!.split(',')) {
    const graph = builtinModel(spec);
    // One row per distinct shape (channels in and out, plane, padding), naming its layers.
    const shapes = new Map<string, { layers: string[]; conv: ConvLayer }>();
    for (const l of graph.layers) {
      if (l.kind !== 'conv' || winogradBlocker(l as ConvLayer) || (only && !only.has(l.name))) continue;
      const conv = l as ConvLayer;
      const key = `${conv.inChannels} ${conv.outChannels} ${valueInfo(graph, conv.inputs[0]).shape.join('x')} ${conv.pads.join(',')}`;
      const e = shapes.get(key) ?? { layers: [], conv };
      e.layers.push(conv.name);
      shapes.set(key, e);
    }
    for (const batch of batches) {
      const rows: string[][] = [];
      for (const { layers, conv } of shapes.values()) {
        const inShape = valueInfo(graph, conv.inputs[0]).shape;
        const outShape = valueInfo(graph, conv.output).shape;
        const x = filled(batch * numel(inShape), 'x', (i) => Math.max(Math.sin(i), 0));
        const z = filled(batch * numel(outShape), 'z', (i) => Math.sin(0.7 * i));
        const relOut = filled(batch * numel(outShape), 'R out', (i) => Math.cos(i));
        const relIn = ctx.pool.acquire(4 * batch * numel(inShape), usage, 'R in');
        const weights = new WeightStore(ctx);
        const built: { method: string; forward: Dispatch[]; relevance: Dispatch[]; passes: (Pass | 'other')[]; note: string; release: () => void }[] = [];
        const ms = new Map<string, number[]>();
        try {
          for (const m of METHODS) {
            const scratch = new BufferLease(ctx.pool, usage);
            const options = { conv: m.conv, winogradTile: m.tile };
            const fwd = await createConv(ctx, conv, [{ shape: inShape, relu: false }], outShape, weights, options);
            const rel = await createConvRelevance({
              ctx, weights, accumulate: [false], layer: conv, rule, inputs: [{ shape: inShape, relu: false }], nonneg: [true],
              output: { shape: outShape, relu: false }, outShape, forwardOptions: options,
            });
            const release = () => { scratch.release(); fwd.destroy(); rel.destroy(); };
            try {
              const forward = fwd.dispatches(batch, [{ buffer: x, shape: inShape, relu: false }], z, (bytes, label) => scratch.acquire(bytes, label));
              const relevance = rel.dispatches(batch, {
                inputs: [{ buffer: x, shape: inShape, relu: false }], output: { buffer: z, shape: outShape, relu: false },
                relOut, relIn: [relIn], accumulate: [false], scratch: (bytes, label) => scratch.acquire(bytes, label),
              });
              built.push({ method: m.name, forward, relevance, passes: passesOf(relevance), note: `${fwd.method}; ${rel.passes}`, release });
            } catch (e) {
              release();
              throw e;
            }
          }
          // Round 0 compiles the pipelines and is not counted.
          for (let r = 0; r <= repeat; r++) {
            for (const b of built) {
              const f = await ctx.run(`${conv.name} ${b.method} forward`, b.forward, { profile: true });
              const t = await ctx.run(`${conv.name} ${b.method} relevance`, b.relevance, { profile: true });
              if (r === 0) continue;
              const sums = new Map<Pass, number>([['forward', f!.reduce((s, d) => s + d.ms, 0)]]);
              t!.forEach((d, k) => {
                const p = b.passes[k];
                if (p !== 'other') sums.set(p, (sums.get(p) ?? 0) + d.ms);
              });
              for (const [p, v] of sums) ms.set(`${b.method} ${p}`, [...(ms.get(`${b.method} ${p}`) ?? []), v]);
            }
          }
          for (const b of built) if (!/F\(/.test(b.note) && b.method !== 'direct') console.log(`  note: ${conv.name} ${b.method} ran ${b.note}`);
          const med = (k: string) => median(ms.get(k) ?? [NaN]);
          const cells = PASSES.flatMap((p) => {
            const d = med(`direct ${p}`);
            return [d.toFixed(1), (med(`F(2,3) ${p}`) / d).toFixed(2), (med(`F(4,3) ${p}`) / d).toFixed(2)];
          });
          rows.push([layers.join(' '), `${conv.inChannels}->${conv.outChannels}`, `${inShape[1]}x${inShape[2]}`, ...cells]);
        } catch (e) {
          if (!(e instanceof Error) || !/binding/.test(e.message)) throw e;
          rows.push([layers.join(' '), `${conv.inChannels}->${conv.outChannels}`, `${inShape[1]}x${inShape[2]}`, ...PASSES.flatMap(() => ['-', '-', '-'])]);
          console.log(`  ${conv.name} at batch ${batch}: ${e.message}`);
        } finally {
          built.forEach((b) => b.release());
          for (const b of [x, z, relOut, relIn]) ctx.pool.release(b);
        }
        console.log(`  ${spec} batch ${batch} ${layers[0]}: done (load ${load()})`);
      }
      console.log(`\n${spec}, batch ${batch}, rule ${args.rule}: direct's kernel ms, and F(2,3)'s and F(4,3)'s time over direct's, per pass`);
      console.log(table(
        ['layers', 'channels', 'plane', 'fwd direct', 'F2/d', 'F4/d', 'den direct', 'F2/d', 'F4/d', 'redist direct', 'F2/d', 'F4/d'],
        rows, [false, false, false, true, true, true, true, true, true, true, true, true],
      ));
      console.log('');
    }
  }
  console.log(`load: ${load()} (1, 5, 15 min) at the end`);
} finally {
  gpu.close();
}
