/**
 * Tile sweep for the convolution GEMMs: for chosen VGG-16 layers and batch sizes, the kernel time
 * of every thread-block shape the kernels accept, under each split target of --fills, against the
 * shape the op picks (convTile; transposedTile for the redistribution). Three kernels share the
 * tile scheme (src/forward/conv.ts): the forward convolution, the relevance denominators
 * (conv_stab: the forward GEMM with modified operands) and the relevance redistribution
 * (conv_transpose: per stride phase a convolution over s whose columns are the layer's input
 * channels). This is how those choices were made; rerun it on a new kind of device before
 * changing them. (The first layer's transposed redistribution, 3 columns, stays at 1.5 to 1.7
 * GFLOP/s on lavapipe whatever the thin tile: --tiles 8x1x4x4,16x1x4x4,32x1x4x4,... all within
 * 14%; such a layer now redistributes by columns, a 1x1 GEMM of inC * KH * KW columns and a col2im
 * sum, both timed as `transpose`: --redistribution transposed,columns compares the two.)
 *
 *   npx tsx bench/conv-tiles.ts [--kernel forward,stab,transpose] [--layers features.0,features.24]
 *                               [--batch 8] [--top 5] [--family gpu|cpu|cpu-subgroups] [--subgroups on|off]
 *                               [--inner 10] [--repeat 5] [--chosen-only] [--redistribution auto,transposed,columns]
 *                               [--rule alpha-beta|z]
 *                               [--tiles TXxTYxPQxTN,...]   (these shapes instead of the family's)
 *                               [--dawn disable-dawn-features=timestamp_quantization] [--json rows.jsonl]
 *                               [--conv direct,winograd] [--winograd-tile 2,4]
 *
 * --conv winograd (forward only) adds a Winograd variant per --winograd-tile (src/forward/conv-winograd.ts:
 * input transform, GEMM with convTile's tile for K = C_in, N = C_out (on lavapipe winograd_gemm.wgsl,
 * whose block is fixed: bench/winograd-gemm.ts compares it with conv2d), output transform; all three
 * timed) to the round-robin, so direct and Winograd alternate in one process; --conv winograd alone
 * times only Winograd. GFLOP/s is always the direct convolution's FLOPs over the time (an
 * effective rate), so rows compare by it.
 *
 * The relevance kernels run under alpha-beta (alpha 2, beta 1; --rule z: the z rule) on inputs >= 0, the rule of
 * cmp-alpha2-flat's convolutions: one denominator segment (x W+) and a transposed pass of two
 * segments (alpha W+ s_p, -beta W- s_n). Needs timestamp queries. Each figure is the median over
 * --repeat runs (after a warm-up) of --inner back-to-back submissions of the variant.
 * --family cpu sweeps the wide blocks of CPU adapters (lavapipe: each variant is an LLVM compile
 * of seconds, each VGG-16 layer a tenth of a second or more: use --inner 1 --repeat 2).
 */
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BufferLease } from '../src/gpu/buffer-pool.ts';
import type { Dispatch } from '../src/gpu/context.ts';
import { WeightStore } from '../src/gpu/weight-store.ts';
import { createWinogradConv } from '../src/forward/conv-winograd.ts';
import { winogradBlocker, type WinogradTile } from '../src/forward/winograd.ts';
import { convTile, createConvWith, tileFamily, tileFits, withDepth, type ConvTile, type TileFamily } from '../src/forward/conv.ts';
import { gemmVariant } from '../src/gpu/subgroups.ts';
import type { ConvLayer, Shape } from '../src/graph/ir.ts';
import { numel, valueInfo } from '../src/graph/ir.ts';
import { builtinModel } from '../src/graph/zoo.ts';
import { columnChunk, createConvBackward, transposedTile, usesColumns } from '../src/lrp/ops/conv-backward.ts';
import { axisPhases } from '../src/lrp/ops/conv-phases.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { dawnArgs, median, table, warmUp, filledBuffer } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16:random' },
    kernel: { type: 'string', default: 'forward' },
    layers: { type: 'string', default: 'features.0,features.2,features.5,features.10,features.17,features.24' },
    batch: { type: 'string', default: '8' },
    repeat: { type: 'string', default: '5' },
    inner: { type: 'string', default: '10' },
    top: { type: 'string', default: '5' },
    family: { type: 'string' },
    // off: the plain kernels even where the subgroups variants could run (src/gpu/subgroups.ts).
    subgroups: { type: 'string', default: 'on' },
    // Time only the tile the op picks (a quick comparison of the three kernels per layer).
    'chosen-only': { type: 'boolean', default: false },
    // Explicit thread-block shapes, e.g. 16x1x4x4 (TX x TY threads of PQ quads x TN channels).
    tiles: { type: 'string' },
    dawn: { type: 'string', multiple: true, default: [] },
    tuning: { type: 'string' },
    json: { type: 'string' },
    // Split targets to try (output tiles below which K is split; 0: never).
    fills: { type: 'string' },
    conv: { type: 'string', default: 'direct' },
    'winograd-tile': { type: 'string', default: '2,4' },
    // How the transpose kernel redistributes (src/lrp/ops/conv-backward.ts): each one given is swept.
    redistribution: { type: 'string', default: 'auto' },
    // The relevance kernels' rule: alpha-beta 2/1 (cmp-alpha2-flat's) or z (one slice of s: the
    // first layer's s at batch 8 exceeds a 128 MiB binding under alpha-beta).
    rule: { type: 'string', default: 'alpha-beta' },
  },
});
type Redistribution = 'auto' | 'transposed' | 'columns';
const redistributions = args.redistribution!.split(',') as Redistribution[];
for (const r of redistributions) if (!['auto', 'transposed', 'columns'].includes(r)) throw new Error(`--redistribution: ${r} is not auto, transposed or columns`);
if (!['alpha-beta', 'z'].includes(args.rule!)) throw new Error(`--rule must be alpha-beta or z, not '${args.rule}'`);
const relevanceRule = args.rule === 'z' ? { rule: 'z' as const, stabilizer: 1e-6 } : { rule: 'alpha-beta' as const, alpha: 2, beta: 1, stabilizer: 1e-6 };
const convModes = args.conv!.split(',').map((c) => c.trim());
for (const c of convModes) if (c !== 'direct' && c !== 'winograd') throw new Error(`--conv: '${c}' is not direct or winograd`);
const winogradTiles = convModes.includes('winograd') ? args['winograd-tile']!.split(',').map(Number) : [];
for (const m of winogradTiles) if (m !== 2 && m !== 4) throw new Error(`--winograd-tile: '${m}' is not 2 or 4`);
type KernelName = 'forward' | 'stab' | 'transpose';
const kernels = args.kernel!.split(',') as KernelName[];
for (const k of kernels) if (!['forward', 'stab', 'transpose'].includes(k)) throw new Error(`--kernel: ${k} is not forward, stab or transpose`);
if (winogradTiles.length && (kernels.length !== 1 || kernels[0] !== 'forward')) throw new Error('--conv winograd: only with --kernel forward');
const repeat = Number(args.repeat);
const inner = Number(args.inner);
const top = Number(args.top);

/** GPU blocks: within a GPU's register budget (at most 128 accumulators). */
function gpuCandidates(K: number): ConvTile[] {
  const out: ConvTile[] = [];
  for (const TX of [8, 16, 32]) for (const TY of [2, 4, 8, 16]) for (const PQ of [1, 2, 4]) for (const TN of [4, 8, 16]) {
    if (TX * TY < 64 || TX * TY > 256 || PQ * TN > 32 || PQ * TN < 4) continue;
    const t = withDepth(K, { TX, TY, PQ, TN });
    if (tileFits(t)) out.push(t);
  }
  return out;
}

/** CPU blocks: one or two SIMD vectors of threads along m, wide register blocks. */
function cpuCandidates(K: number): ConvTile[] {
  const out: ConvTile[] = [];
  for (const TX of [8]) for (const TY of [2, 4, 8]) for (const PQ of [2, 4]) for (const TN of [8, 16, 32]) {
    if (PQ * TN > 64 || PQ * TN < 16) continue;
    const t = withDepth(K, { TX, TY, PQ, TN });
    if (tileFits(t)) out.push(t);
  }
  return out;
}

/** --tiles: each TXxTYxPQxTN completed with its deepest reduction step. */
function explicitTiles(K: number): ConvTile[] {
  return args.tiles!.split(',').map((spec) => {
    const m = /^(\d+)x(\d+)x(\d+)x(\d+)$/.exec(spec.trim());
    if (!m) throw new Error(`--tiles: '${spec}' is not TXxTYxPQxTN (e.g. 16x1x4x4)`);
    const [TX, TY, PQ, TN] = m.slice(1).map(Number);
    const t = withDepth(K, { TX, TY, PQ, TN });
    if (!tileFits(t)) throw new Error(`--tiles: ${spec} does not fit the kernels' limits`);
    return t;
  });
}

if (!['on', 'off'].includes(args.subgroups!)) throw new Error(`--subgroups must be on or off, not '${args.subgroups}'`);
const gpu = await createNodeGpu({ ...dawnArgs(args), subgroups: args.subgroups === 'on' });
const { ctx } = gpu;
if (!ctx.hasTimestamps) {
  console.error('conv-tiles needs timestamp queries, which this adapter does not offer');
  process.exit(2);
}
// The ops run the subgroups variants where the context allows them (--subgroups off: never).
const gemm = await gemmVariant(ctx);
const family = (args.family ?? tileFamily(ctx, gemm)) as TileFamily;
if (!['cpu', 'gpu', 'cpu-subgroups'].includes(family)) throw new Error(`--family must be cpu, cpu-subgroups or gpu, not '${family}'`);
const fills = (args.fills ?? (family === 'gpu' ? '0,264' : '0')).split(',').map(Number);

interface Variant {
  /** 'direct', or the Winograd tile's 'F(m,3)'. */
  conv: string;
  tile: ConvTile;
  fill: number;
  dispatches: Dispatch[];
  release: () => void;
  ms: number[];
  /** Per kernel name, the time of its dispatches per inner run (several where a pass has two kernels). */
  byKernel: Map<string, number[]>;
  /** Wall time of the op's first run: its pipelines' compilation on a CPU driver, and one run. */
  firstMs: number;
}

try {
  const graph = builtinModel(args.model!);
  console.log(`adapter: ${gpu.adapterName}; kernels tuned for ${ctx.tuning}${gemm.variant ? ` (${gemm.variant} variant, SG ${gemm.constants.SG})` : ''}, sweeping the ${family} family; median of ${repeat} x ${inner}\n`);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  // Each variant takes its own layout (depth BK) from one store; released with the variant.
  const weights = new WeightStore(ctx);
  const filled = (count: number, label: string, f: (i: number) => number) => filledBuffer(ctx, count, label, f);
  for (const kernel of kernels) {
    for (const redistribution of kernel === 'transpose' ? redistributions : ['auto' as const]) {
      for (const name of args.layers!.split(',')) {
        const layer = graph.layers.find((l) => l.name === name);
        if (!layer || layer.kind !== 'conv') throw new Error(`${graph.name} has no convolution '${name}'`);
        const conv = layer as ConvLayer;
        const inShape = valueInfo(graph, conv.inputs[0]).shape;
        const outShape = valueInfo(graph, conv.output).shape;
        const cinPG = conv.inChannels / conv.groups;
        const coutPG = conv.outChannels / conv.groups;
        // The GEMM's K and N: the transposed pass reduces over output channels x the taps of its
        // largest phase and has the input channels as columns.
        const axis = (a: 0 | 1) => axisPhases(inShape[1 + a], conv.kernel[a], conv.stride[a], conv.pads[a], conv.dilation[a]);
        const maxTaps = (a: 0 | 1) => Math.max(...axis(a).map((p) => p.taps));
        // Rows per sample, which cap the redistribution's block (transposedTile).
        const rowsPerSample = Math.max(...axis(0).map((p) => p.count)) * Math.max(...axis(1).map((p) => p.count));
        // By columns: 1x1 GEMMs reducing over the output channels into chunk * KH * KW columns each.
        const columns = kernel === 'transpose' && (redistribution === 'columns' || (redistribution === 'auto' && usesColumns(conv)));
        const [K, N] = columns ? [coutPG, columnChunk(conv) * conv.kernel[0] * conv.kernel[1]]
          : kernel === 'transpose' ? [coutPG * maxTaps(0) * maxTaps(1), cinPG] : [cinPG * conv.kernel[0] * conv.kernel[1], coutPG];
        const prefixes = kernel === 'forward' ? ['conv2d'] : kernel === 'stab' ? ['conv_stab'] : ['conv_transpose', 'conv_col2im'];
        const timed = (d: Dispatch) => prefixes.some((p) => d.kernel.startsWith(p));
        for (const batch of args.batch!.split(',').map(Number)) {
          const x = filled(batch * numel(inShape), 'x', (i) => Math.max(Math.sin(i), 0));
          const z = filled(batch * numel(outShape), 'z', (i) => Math.sin(0.7 * i));
          const relOut = filled(batch * numel(outShape), 'R out', (i) => Math.cos(i));
          const relIn = ctx.pool.acquire(4 * batch * numel(inShape), usage, 'R in');
          const picked = kernel === 'transpose' ? transposedTile(K, N, family, columns ? outShape[1] * outShape[2] : rowsPerSample) : convTile(K, N, family);
          const variants: Variant[] = [];
          // Every variant is built first, then timed round-robin: a drifting clock (boost, heat, a
          // neighbour on the device) then shifts all of them alike instead of favouring the first.
          const tiles = args['chosen-only'] ? [picked] : args.tiles ? explicitTiles(K) : (family === 'gpu' ? gpuCandidates : cpuCandidates)(K);
          if (!tiles.some((t) => JSON.stringify(t) === JSON.stringify(picked))) tiles.push(picked);
          const runs: { conv: string; tile: ConvTile; fill: number; winograd?: WinogradTile }[] = [];
          if (convModes.includes('direct')) for (const tile of tiles) for (const fill of fills) runs.push({ conv: 'direct', tile, fill });
          if (winogradTiles.length && winogradBlocker(conv)) throw new Error(`--conv winograd: ${name} is not a Winograd layer (${winogradBlocker(conv)})`);
          for (const m of winogradTiles) runs.push({ conv: `F(${m},3)`, tile: convTile(cinPG, coutPG, family), fill: fills[0], winograd: m as WinogradTile });
          for (const { conv: method, tile, fill, winograd } of runs) {
            {
              const v = await build(kernel, conv, inShape, outShape, batch, tile, fill, { x, z, relOut, relIn }, redistribution, winograd);
              // A split that the heuristic declines is the unsplit run again: not worth a row.
              if (fill > 0 && !v.dispatches.some((d) => timed(d) && d.kernel.endsWith('_sum'))) {
                v.release();
                continue;
              }
              // The whole op once (the transposed pass reads what the denominators wrote), then only
              // the swept kernel (and its split sum) is timed.
              // On lavapipe a pipeline is compiled on its first dispatch: this run's wall time less a
              // run's kernel time is about the compile time.
              const t0 = performance.now();
              await ctx.run(`${name} ${JSON.stringify(tile)} (first run)`, v.dispatches);
              const firstMs = performance.now() - t0;
              variants.push({ ...v, dispatches: winograd ? v.dispatches : v.dispatches.filter(timed), conv: method, tile, fill, ms: [], byKernel: new Map(), firstMs });
            }
          }
          await warmUp(() => ctx.run('warm-up', variants[0].dispatches), family === 'gpu' ? 2000 : 0);
          for (let r = 0; r <= repeat; r++) {
            for (const v of variants) {
              const t = await ctx.run(`${name} ${JSON.stringify(v.tile)}`, Array.from({ length: inner }, () => v.dispatches).flat(), { profile: true });
              if (r === 0) continue;
              const per = v.dispatches.length;
              for (let i = 0; i < inner; i++) {
                const run = t!.slice(i * per, (i + 1) * per);
                v.ms.push(run.reduce((s, d) => s + d.ms, 0));
                const sums = new Map<string, number>();
                run.forEach((d, k) => sums.set(v.dispatches[k].kernel, (sums.get(v.dispatches[k].kernel) ?? 0) + d.ms));
                for (const [kn, ms] of sums) v.byKernel.set(kn, [...(v.byKernel.get(kn) ?? []), ms]);
              }
            }
          }
          const flops = kernel === 'forward' ? 2 * batch * numel(outShape) * K : variants[0].dispatches.reduce((s, d) => s + (d.flops ?? 0), 0);
          const rows = variants.map((v) => {
            v.release();
            const parts = v.byKernel.size > 1 ? [...v.byKernel].map(([kn, ms]) => `${kn} ${median(ms).toFixed(1)}`).join(', ') : '';
            return { conv: v.conv, tile: v.tile, fill: v.fill, ms: median(v.ms), firstMs: v.firstMs, parts, chosen: v.conv === 'direct' && JSON.stringify(v.tile) === JSON.stringify(picked) };
          });
          if (args.json) {
            appendFileSync(args.json, `${JSON.stringify({ kernel, redistribution: columns ? 'columns' : 'transposed', layer: name, K, N, out: outShape, batch, family, rows: rows.map((r) => ({ conv: r.conv, ...r.tile, fill: r.fill, ms: r.ms, firstMs: r.firstMs })) })}\n`);
          }
          for (const b of [x, z, relOut, relIn]) ctx.pool.release(b);
          rows.sort((a, b) => a.ms - b.ms);
          const shown = rows.filter((r, i) => i < top || r.chosen || r.conv !== 'direct');
          console.log(`${kernel}${kernel === 'transpose' ? ` (${columns ? 'columns' : 'transposed'})` : ''} ${name}: K ${K}, N ${N}, output ${outShape.join('x')}, batch ${batch}; ${rows.length} runs`);
          console.log(table(['conv', 'TX', 'TY', 'PQ', 'TN', 'BK', 'fill', 'ms', 'GFLOP/s', 'x best', 'first run ms', ''],
            shown.map((r) => [r.conv, ...[r.tile.TX, r.tile.TY, r.tile.PQ, r.tile.TN, r.tile.BK].map(String)]
              .concat([String(r.fill), r.ms.toFixed(3), (flops / r.ms / 1e6).toFixed(1), (r.ms / rows[0].ms).toFixed(2), r.firstMs.toFixed(0), `${r.chosen ? '<- chosen' : ''}${r.parts ? ` (${r.parts} ms)` : ''}`])),
            [false, true, true, true, true, true, false, true, true, true, true, false]));
          console.log();
        }
      }
    }
  }

  /** One variant's dispatches over fixed buffers, and what releases its op. */
  async function build(
    kernel: KernelName, conv: ConvLayer, inShape: Shape, outShape: Shape, batch: number, tile: ConvTile, fill: number,
    b: { x: GPUBuffer; z: GPUBuffer; relOut: GPUBuffer; relIn: GPUBuffer }, redistribution: Redistribution = 'auto', winograd?: WinogradTile,
  ): Promise<{ dispatches: Dispatch[]; release: () => void }> {
    // Held until the variant is done: its recorded dispatches are replayed many times.
    const scratch = new BufferLease(ctx.pool, usage);
    if (winograd) {
      const op = await createWinogradConv(ctx, conv, { shape: inShape, relu: false }, outShape, { m: winograd, tile, fillWorkgroups: fill, weights });
      const dispatches = op.dispatches(batch, [{ buffer: b.x, shape: inShape, relu: false }], b.z, (bytes, label) => scratch.acquire(bytes, label));
      return { dispatches, release: () => { scratch.release(); op.destroy(); } };
    }
    if (kernel === 'forward') {
      const op = await createConvWith(ctx, conv, { shape: inShape, relu: false }, outShape, { tile, fillWorkgroups: fill, weights });
      const dispatches = op.dispatches(batch, [{ buffer: b.x, shape: inShape, relu: false }], b.z, (bytes, label) => scratch.acquire(bytes, label));
      return { dispatches, release: () => { scratch.release(); op.destroy(); } };
    }
    const op = await createConvBackward({
      ctx, weights, accumulate: [false], layer: conv, rule: relevanceRule,
      inputs: [{ shape: inShape, relu: false }], nonneg: [true], output: { shape: outShape, relu: false }, outShape,
    }, { [kernel === 'stab' ? 'stabTile' : 'transposeTile']: tile, fillWorkgroups: fill, redistribution });
    const dispatches = op.dispatches(batch, {
      inputs: [{ buffer: b.x, shape: inShape, relu: false }], output: { buffer: b.z, shape: outShape, relu: false },
      relOut: b.relOut, relIn: [b.relIn], accumulate: [false], scratch: (bytes, label) => scratch.acquire(bytes, label),
    });
    return { dispatches, release: () => { scratch.release(); op.destroy(); } };
  }
} finally {
  gpu.close();
}
