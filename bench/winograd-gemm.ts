/**
 * The Winograd element-wise stage alone (src/forward/conv-winograd.ts createWinogradGemm): for
 * chosen VGG-16 layers, tiles F(m, 3) and batch sizes, the alpha^2 batched GEMMs [P x C_in] x
 * [C_in x C_out] run by each kernel variant, timed round-robin in one process (timestamp queries),
 * with the results of each variant checked against the first's. Variants:
 *   conv2d        the convolution GEMM kernel as a grouped 1x1 convolution (convTile's tile)
 *   wgemm-PQxTY   winograd_gemm.wgsl with PQ quads x 32 columns per thread, TY rows of 8 threads
 *                 (CPU adapters with row subgroups only; its vec4 A loads where P % 4 == 0, else
 *                 float loads: the `A` column says which)
 * GFLOP/s counts the GEMMs' own FLOPs (2 * alpha^2 * P * C_in * C_out). The first-run column is
 * the wall time of a variant's first dispatch: on lavapipe its LLVM compile (run with
 * MESA_SHADER_CACHE_DISABLE=true to see it cold; LP_NATIVE_VECTOR_WIDTH=128 for the test suite's).
 *
 *   npx tsx bench/winograd-gemm.ts [--layers features.10,features.17] [--winograd-tile 4] [--batch 1]
 *                                  [--variants conv2d,wgemm-1x1,wgemm-2x1] [--repeat 5] [--inner 2]
 */
import { parseArgs } from 'node:util';
import { createWinogradGemm, winogradTiles, type WgemmBlock } from '../src/forward/conv-winograd.ts';
import { winogradMatrices, type WinogradTile } from '../src/forward/winograd.ts';
import type { ConvLayer } from '../src/graph/ir.ts';
import { valueInfo } from '../src/graph/ir.ts';
import { builtinModel } from '../src/graph/zoo.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { dawnArgs, median, table, filledBuffer } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16:random' },
    layers: { type: 'string', default: 'features.2,features.7,features.10,features.17,features.24' },
    'winograd-tile': { type: 'string', default: '4' },
    batch: { type: 'string', default: '1' },
    variants: { type: 'string', default: 'conv2d,wgemm-1x1,wgemm-2x1' },
    repeat: { type: 'string', default: '5' },
    inner: { type: 'string', default: '2' },
    dawn: { type: 'string', multiple: true, default: [] },
    tuning: { type: 'string' },
  },
});

interface Spec { readonly name: string; readonly block?: WgemmBlock }
const specs: Spec[] = args.variants!.split(',').map((name) => {
  if (name === 'conv2d') return { name };
  const m = /^wgemm-([12])x(\d+)$/.exec(name);
  if (!m) throw new Error(`--variants: '${name}' is not conv2d or wgemm-PQxTY`);
  return { name, block: { PQ: Number(m[1]) as 1 | 2, TY: Number(m[2]) } };
});
const tiles = args['winograd-tile']!.split(',').map(Number) as WinogradTile[];
for (const m of tiles) if (m !== 2 && m !== 4) throw new Error(`--winograd-tile: '${m}' is not 2 or 4`);
const repeat = Number(args.repeat);
const inner = Number(args.inner);

const gpu = await createNodeGpu(dawnArgs(args));
const { ctx } = gpu;
if (!ctx.hasTimestamps) {
  console.error('winograd-gemm needs timestamp queries, which this adapter does not offer');
  process.exit(1);
}
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const filled = (count: number, label: string, f: (i: number) => number) => filledBuffer(ctx, count, label, f);

try {
  const graph = builtinModel(args.model!);
  console.log(`adapter: ${gpu.adapterName}; LP_NATIVE_VECTOR_WIDTH ${process.env.LP_NATIVE_VECTOR_WIDTH ?? '(default)'}; median of ${repeat} x ${inner}\n`);
  const rows: string[][] = [];
  for (const name of args.layers!.split(',')) {
    const layer = graph.layers.find((l) => l.name === name);
    if (!layer || layer.kind !== 'conv') throw new Error(`${graph.name} has no convolution '${name}'`);
    const conv = layer as ConvLayer;
    const [, outH, outW] = valueInfo(graph, conv.output).shape;
    const K = conv.inChannels;
    const N = conv.outChannels;
    for (const m of tiles) {
      const { alpha } = winogradMatrices(m);
      const A2 = alpha * alpha;
      const { tilesY, tilesX } = winogradTiles(outH, outW, m);
      for (const batch of args.batch!.split(',').map(Number)) {
        const P = batch * tilesY * tilesX;
        const v = filled(A2 * K * P, 'V', (i) => Math.sin(0.37 * i));
        const y = ctx.pool.acquire(4 * A2 * N * P, usage, 'M');
        const built = [];
        for (const spec of specs) {
          const gemm = await createWinogradGemm(ctx, name, A2, K, N, spec.block ? { wgemm: spec.block } : { kernel: 'conv2d' });
          // U in the layout of the variant's depth (zero rows past K, zero columns past N).
          const wData = new Float32Array(A2 * gemm.Kpad * gemm.Npad);
          for (let g = 0; g < A2; g++) for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) wData[(g * gemm.Kpad + k) * gemm.Npad + n] = Math.cos(0.11 * (g * K * N + k * N + n));
          const w = ctx.upload(wData, 'U');
          const dispatches = gemm.dispatches(P, v, w, y, () => { throw new Error('no split on this path'); }, 'winograd_gemm');
          // Each variant writes the products afresh: a variant that wrote nothing would show the last one's.
          ctx.writeBuffer(y, 0, new Float32Array(A2 * N * P).fill(Number.NaN));
          const t0 = performance.now();
          await ctx.run(`${name} ${spec.name}`, dispatches);
          const firstMs = performance.now() - t0;
          const out = new Float32Array(await ctx.read(y, 0, 4 * A2 * N * P, spec.name));
          const ran = !spec.block ? '' : P % 4 === 0 ? ' (vec4 A)' : ' (float A)';
          built.push({ spec, gemm, w, dispatches, firstMs, out, ran, ms: [] as number[] });
        }
        let maxDiff = 0;
        for (const b of built.slice(1)) for (let i = 0; i < b.out.length; i++) maxDiff = Math.max(maxDiff, Math.abs(b.out[i] - built[0].out[i]));
        for (let r = 0; r < repeat; r++) {
          for (const b of built) {
            const t = await ctx.run(`${name} ${b.spec.name}`, Array.from({ length: inner }, () => b.dispatches).flat(), { profile: true });
            for (let i = 0; i < inner; i++) b.ms.push(t![i].ms);
          }
        }
        const flops = 2 * A2 * P * K * N;
        const base = median(built[0].ms);
        for (const b of built) {
          const ms = median(b.ms);
          rows.push([name, `F(${m},3)`, String(batch), `${P}x${K}x${N}`, b.spec.name + b.ran, ms.toFixed(1), (flops / ms / 1e6).toFixed(1), (base / ms).toFixed(2), b.firstMs.toFixed(0)]);
          b.gemm.destroy();
          b.w.destroy();
        }
        rows.push(['', '', '', '', `max |diff| ${maxDiff.toExponential(1)}`, '', '', '', '']);
        ctx.pool.release(v);
        ctx.pool.release(y);
      }
    }
  }
  console.log(table(['layer', 'tile', 'batch', 'P x K x N', 'variant', 'ms', 'GFLOP/s', 'speed-up', 'first run ms'], rows,
    [false, false, true, false, false, true, true, true, true]));
} finally {
  gpu.close();
}
