/**
 * Dense layers over many rows: the few-row kernels (dense.wgsl, dense_stab, dense_transpose)
 * against the convolution GEMM they run as from ROW_GEMM_MIN_ROWS rows per sample
 * (src/forward/dense-gemm.ts), per pass: the forward, the relevance denominator and the
 * redistribution, in GFLOP/s. Shapes: ViT-B/16's linear layers (197 tokens x batch; 768 -> 2304
 * qkv, 768 -> 3072 and 3072 -> 768 MLP) and a classifier head (4096 -> 1000 over batch 1 to 8).
 *
 * The relevance ops run under alpha-beta (alpha 2, beta 1) on inputs >= 0 (--rule z: the z
 * rule): one denominator segment (x W+) and a redistribution of two. Each figure is the median
 * over --repeat runs (after a first, compiling run) of --inner back-to-back submissions. Needs
 * timestamp queries. --tokens sets the rows per sample of the ViT shapes (16 and 32: around
 * ROW_GEMM_MIN_ROWS); --transpose-tile wide runs the GEMM's redistribution with the wide block
 * that convolutions take (transposedTile) instead of the op's choice.
 *
 *   npx tsx bench/dense-rows.ts [--shapes vit,head] [--batch 1] [--tokens 197,49] [--head-batch 1,8]
 *                               [--paths rows,gemm] [--transpose-tile forward|wide] [--inner 2] [--repeat 3] [--rule alpha-beta|z]
 */
import { parseArgs } from 'node:util';
import { BufferLease } from '../src/gpu/buffer-pool.ts';
import type { Dispatch } from '../src/gpu/context.ts';
import { WeightStore } from '../src/gpu/weight-store.ts';
import { createDenseRowKernels } from '../src/forward/dense.ts';
import { createDenseGemm } from '../src/forward/dense-gemm.ts';
import { tileFamily } from '../src/forward/conv.ts';
import { transposedTile } from '../src/lrp/ops/conv-backward.ts';
import { gemmVariant } from '../src/gpu/subgroups.ts';
import type { DenseLayer } from '../src/graph/ir.ts';
import { createDenseGemmBackward, createDenseRowKernelsBackward } from '../src/lrp/ops/dense-backward.ts';
import type { BackwardOpContext } from '../src/lrp/backward-op.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { dawnArgs, median, table, filledBuffer } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'vit,head' },
    batch: { type: 'string', default: '1' },
    tokens: { type: 'string', default: '197' },
    'transpose-tile': { type: 'string', default: 'forward' },
    'head-batch': { type: 'string', default: '1,8' },
    paths: { type: 'string', default: 'rows,gemm' },
    kernels: { type: 'string', default: 'forward,stab,transpose' },
    repeat: { type: 'string', default: '3' },
    inner: { type: 'string', default: '2' },
    rule: { type: 'string', default: 'alpha-beta' },
    dawn: { type: 'string', multiple: true },
    tuning: { type: 'string' },
  },
});

const relevanceRule = args.rule === 'z' ? { rule: 'z' as const, stabilizer: 1e-6 } : { rule: 'alpha-beta' as const, alpha: 2, beta: 1, stabilizer: 1e-6 };
const repeat = Number(args.repeat);
const inner = Number(args.inner);
const paths = args.paths!.split(',');
for (const p of paths) if (p !== 'rows' && p !== 'gemm') throw new Error(`--paths takes rows and gemm, not '${p}'`);
const kernels = args.kernels!.split(',');

interface Case { label: string; tokens: number; batch: number; inF: number; outF: number }
const cases: Case[] = [];
for (const s of args.shapes!.split(',')) {
  if (s === 'vit') {
    for (const tokens of args.tokens!.split(',').map(Number)) {
      for (const batch of args.batch!.split(',').map(Number)) {
        for (const [name, inF, outF] of [['qkv', 768, 2304], ['mlp.fc1', 768, 3072], ['mlp.fc2', 3072, 768]] as const) {
          cases.push({ label: `vit ${name}`, tokens, batch, inF, outF });
        }
      }
    }
  } else if (s === 'head') {
    for (const batch of args['head-batch']!.split(',').map(Number)) cases.push({ label: 'head', tokens: 1, batch, inF: 4096, outF: 1000 });
  } else {
    throw new Error(`--shapes takes vit and head, not '${s}'`);
  }
}

const gpu = await createNodeGpu(dawnArgs(args));
const { ctx } = gpu;
const family = tileFamily(ctx, await gemmVariant(ctx));
// The redistribution's tile: the op's choice (forward: convTile's) or, with --transpose-tile wide,
// transposedTile's wider block, which conv layers take.
if (!['forward', 'wide'].includes(args['transpose-tile']!)) throw new Error(`--transpose-tile takes forward or wide, not '${args['transpose-tile']}'`);
const transposeOpts = (cs: Case) => (args['transpose-tile'] === 'wide' ? { transposeTile: transposedTile(cs.outF, cs.inF, family) } : undefined);
if (!ctx.hasTimestamps) {
  console.error('dense-rows needs timestamp queries, which this adapter does not offer');
  process.exit(2);
}
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const filled = (count: number, label: string, f: (i: number) => number) => filledBuffer(ctx, count, label, f);
const kernelOf = (d: Dispatch): string => (d.kernel.startsWith('conv2d') || d.kernel === 'dense' ? 'forward'
  : d.kernel.includes('stab') && d.kernel !== 'stab_divide' ? 'stab' : d.kernel.includes('transpose') || d.kernel.includes('col2im') ? 'transpose' : 'other');

console.log(`adapter: ${gpu.adapterName}; kernels tuned for ${ctx.tuning}; rule ${relevanceRule.rule}; median of ${repeat} x ${inner}\n`);
const rowsOut: string[][] = [];
try {
  for (const cs of cases) {
    const rows = cs.tokens * cs.batch;
    const inShape = cs.tokens === 1 ? [cs.inF] : [cs.tokens, cs.inF];
    const outShape = cs.tokens === 1 ? [cs.outF] : [cs.tokens, cs.outF];
    const layer: DenseLayer = {
      kind: 'dense', name: `${cs.label}`, inputs: ['x'], output: 'y', inFeatures: cs.inF, outFeatures: cs.outF,
      weight: Float32Array.from({ length: cs.inF * cs.outF }, (_, i) => Math.sin(1.3 * i) / Math.sqrt(cs.inF)),
      bias: Float32Array.from({ length: cs.outF }, (_, i) => 0.1 * Math.cos(i)),
    };
    const x = filled(rows * cs.inF, 'x', (i) => Math.max(Math.sin(i), 0));
    const z = filled(rows * cs.outF, 'z', (i) => Math.sin(0.7 * i));
    const relOut = filled(rows * cs.outF, 'R out', (i) => Math.cos(i));
    const relIn = ctx.pool.acquire(4 * rows * cs.inF, usage, 'R in');
    for (const path of paths) {
      const weights = new WeightStore(ctx);
      const scratch = new BufferLease(ctx.pool, usage);
      const input = { shape: inShape, relu: false };
      const fwd = path === 'gemm' ? await createDenseGemm(ctx, layer, input, cs.tokens, weights) : await createDenseRowKernels(ctx, layer, input, cs.tokens, weights);
      const bc: BackwardOpContext = {
        ctx, weights, accumulate: [false], layer, rule: relevanceRule, inputs: [input], nonneg: [true], output: { shape: outShape, relu: false }, outShape,
      };
      const bwd = path === 'gemm' ? await createDenseGemmBackward(bc, cs.tokens, transposeOpts(cs)) : await createDenseRowKernelsBackward(bc, cs.tokens);
      const acquire = (bytes: number, label: string) => scratch.acquire(bytes, label);
      const all = [
        ...fwd.dispatches(cs.batch, [{ buffer: x, shape: inShape, relu: false }], z, acquire),
        ...bwd.dispatches(cs.batch, {
          inputs: [{ buffer: x, shape: inShape, relu: false }], output: { buffer: z, shape: outShape, relu: false },
          relOut, relIn: [relIn], accumulate: [false], scratch: acquire,
        }),
      ];
      const t0 = performance.now();
      await ctx.run(`${cs.label} ${path} (first run)`, all);
      const firstMs = performance.now() - t0;
      const ms = new Map<string, number[]>();
      for (let r = 0; r < repeat; r++) {
        const t = await ctx.run(`${cs.label} ${path}`, Array.from({ length: inner }, () => all).flat(), { profile: true });
        for (let i = 0; i < inner; i++) {
          const sums = new Map<string, number>();
          all.forEach((d, k) => sums.set(kernelOf(d), (sums.get(kernelOf(d)) ?? 0) + t![i * all.length + k].ms));
          for (const [kn, v] of sums) ms.set(kn, [...(ms.get(kn) ?? []), v]);
        }
      }
      const flops = new Map<string, number>();
      for (const d of all) flops.set(kernelOf(d), (flops.get(kernelOf(d)) ?? 0) + (d.flops ?? 0));
      const gemmUsed = all.some((d) => d.kernel.startsWith('conv'));
      for (const kn of kernels) {
        const m = median(ms.get(kn) ?? [NaN]);
        rowsOut.push([cs.label, String(rows), `${cs.inF}->${cs.outF}`, kn, gemmUsed ? 'gemm' : 'rows', m.toFixed(1), (flops.get(kn)! / m / 1e6).toFixed(2), firstMs.toFixed(0)]);
      }
      console.log(table(['layer', 'rows', 'features', 'pass', 'path', 'ms', 'GFLOP/s', 'first run ms'], rowsOut.slice(-kernels.length), [false, true, false, false, false, true, true, true]));
      scratch.release();
      fwd.destroy();
      bwd.destroy();
    }
    for (const b of [x, z, relOut, relIn]) ctx.pool.release(b);
  }
  console.log(`\nall:\n${table(['layer', 'rows', 'features', 'pass', 'path', 'ms', 'GFLOP/s', 'first run ms'], rowsOut, [false, true, false, false, false, true, true, true])}`);
} finally {
  gpu.close();
}
