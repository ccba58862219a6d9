/**
 * Depthwise convolutions (groups == input channels) of EfficientNet-B0, MobileNetV2 and ConvNeXt
 * shapes, one layer at a time: the forward convolution, a relevance pass's denominators (conv_stab
 * or its depthwise kernel) and its redistribution (the transposed pass), under alpha-beta 2/1 on
 * signed inputs (two segments each: cmp-alpha2-flat's rule where the input is not known >= 0, the
 * dearest case) or --rule z, and the gradient's transposed pass. Each implementation given in
 * --impl runs the same layer on the same buffers, round-robin, median of --repeat x --inner.
 *
 *   npx tsx bench/depthwise.ts [--impl gemm,depthwise] [--layers all|NAME,...] [--batch 1]
 *                              [--kernel forward,stab,transpose,gradient] [--rule alpha-beta|z]
 *                              [--repeat 5] [--inner 3]
 *
 * `gemm` is the grouped-convolution GEMM path (src/forward/conv.ts, src/lrp/ops/conv-backward.ts),
 * `depthwise` the direct kernels (src/forward/depthwise.ts, src/lrp/ops/depthwise-backward.ts).
 * GFLOP/s counts 2 per multiply-add of the layer (times the segments for the relevance passes),
 * GB/s the compulsory traffic: the input, the weights, the output once (and for the relevance
 * passes the upper relevance, z and s as each kernel reads them), so it is a lower bound.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BufferLease } from '../src/gpu/buffer-pool.ts';
import type { Dispatch } from '../src/gpu/context.ts';
import { WeightStore } from '../src/gpu/weight-store.ts';
import { createConvWith } from '../src/forward/conv.ts';
import { createDepthwiseConv } from '../src/forward/depthwise.ts';
import type { ConvLayer, Shape } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { inferShape } from '../src/graph/builder.ts';
import { Rng } from '../src/graph/zoo.ts';
import { createConvBackward } from '../src/lrp/ops/conv-backward.ts';
import { createDepthwiseBackward } from '../src/lrp/ops/depthwise-backward.ts';
import type { LinearRule } from '../src/lrp/rule-spec.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { dawnArgs, median, table, filledBuffer } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    impl: { type: 'string', default: 'gemm,depthwise' },
    layers: { type: 'string', default: 'all' },
    batch: { type: 'string', default: '1' },
    kernel: { type: 'string', default: 'forward,stab,transpose,gradient' },
    rule: { type: 'string', default: 'alpha-beta' },
    repeat: { type: 'string', default: '5' },
    inner: { type: 'string', default: '3' },
    dawn: { type: 'string', multiple: true, default: [] },
    tuning: { type: 'string' },
  },
});

/** name: channels, input size, kernel, stride (pads (k - 1) / 2, as torchvision's). */
const SHAPES: readonly [string, number, number, number, number][] = [
  ['effb0.1 32@112 k3', 32, 112, 3, 1],
  ['effb0.2 96@112 k3 s2', 96, 112, 3, 2],
  ['effb0.2 144@56 k3', 144, 56, 3, 1],
  ['effb0.3 144@56 k5 s2', 144, 56, 5, 2],
  ['effb0.3 240@28 k5', 240, 28, 5, 1],
  ['effb0.4 240@28 k3 s2', 240, 28, 3, 2],
  ['effb0.4 480@14 k3', 480, 14, 3, 1],
  ['effb0.5 672@14 k5', 672, 14, 5, 1],
  ['effb0.6 672@14 k5 s2', 672, 14, 5, 2],
  ['effb0.6 1152@7 k5', 1152, 7, 5, 1],
  ['mnv2 384@14 k3', 384, 14, 3, 1],
  ['mnv2 960@7 k3', 960, 7, 3, 1],
  ['convnext 96@56 k7', 96, 56, 7, 1],
];

type Impl = 'gemm' | 'depthwise';
type KernelName = 'forward' | 'stab' | 'transpose' | 'gradient';
const impls = args.impl!.split(',') as Impl[];
for (const i of impls) if (i !== 'gemm' && i !== 'depthwise') throw new Error(`--impl: '${i}' is not gemm or depthwise`);
const kernels = args.kernel!.split(',') as KernelName[];
for (const k of kernels) if (!['forward', 'stab', 'transpose', 'gradient'].includes(k)) throw new Error(`--kernel: '${k}' is not forward, stab, transpose or gradient`);
if (args.rule !== 'alpha-beta' && args.rule !== 'z') throw new Error(`--rule must be alpha-beta or z, not '${args.rule}'`);
const shapes = args.layers === 'all' ? SHAPES : args.layers!.split(',').map((n) => {
  const s = SHAPES.find((x) => x[0].startsWith(n.trim()));
  if (!s) throw new Error(`--layers: no shape starts with '${n}' (${SHAPES.map((x) => x[0]).join('; ')})`);
  return s;
});
const batches = args.batch!.split(',').map(Number);
const repeat = Number(args.repeat);
const inner = Number(args.inner);
for (const [v, what] of [...batches.map((b) => [b, '--batch'] as const), [repeat, '--repeat'] as const, [inner, '--inner'] as const]) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what}: expected whole numbers >= 1`);
}
const ruleOf = (k: KernelName): LinearRule => (k === 'gradient' ? { rule: 'gradient' }
  : args.rule === 'z' ? { rule: 'z', stabilizer: 1e-6 } : { rule: 'alpha-beta', alpha: 2, beta: 1, stabilizer: 1e-6 });
const load = () => loadavg().map((l) => l.toFixed(2)).join(', ');

const gpu = await createNodeGpu(dawnArgs(args));
const { ctx } = gpu;
if (!ctx.hasTimestamps) {
  console.error('bench/depthwise.ts needs timestamp queries, which this adapter does not offer');
  process.exit(2);
}
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const weights = new WeightStore(ctx);
const filled = (count: number, label: string, f: (i: number) => number) => filledBuffer(ctx, count, label, f);

function layerOf(name: string, C: number, k: number, s: number): ConvLayer {
  const rng = new Rng(7);
  const weight = new Float32Array(C * k * k);
  rng.fillNormal(weight, Math.sqrt(2 / (k * k)));
  const bias = new Float32Array(C);
  rng.fillNormal(bias, 0.1);
  const p = (k - 1) >> 1;
  return {
    kind: 'conv', name, inputs: ['x'], output: 'y', inChannels: C, outChannels: C, kernel: [k, k], stride: [s, s],
    pads: [p, p, p, p], dilation: [1, 1], groups: C, weight, bias,
  };
}

interface Variant { impl: Impl; dispatches: Dispatch[]; release: () => void; ms: number[]; flops: number; bytes: number }

async function build(
  impl: Impl, kernel: KernelName, layer: ConvLayer, inShape: Shape, outShape: Shape, batch: number,
  b: { x: GPUBuffer; z: GPUBuffer; relOut: GPUBuffer; relIn: GPUBuffer },
): Promise<{ dispatches: Dispatch[]; timed: Dispatch[]; release: () => void }> {
  const scratch = new BufferLease(ctx.pool, usage);
  const lease = (bytes: number, label: string) => scratch.acquire(bytes, label);
  const x = { buffer: b.x, shape: inShape, relu: false };
  if (kernel === 'forward') {
    const op = impl === 'gemm'
      ? await createConvWith(ctx, layer, { shape: inShape, relu: false }, outShape, { weights })
      : await createDepthwiseConv(ctx, layer, { shape: inShape, relu: false }, outShape, { weights });
    const dispatches = op.dispatches(batch, [x], b.z, lease);
    return { dispatches, timed: dispatches, release: () => { scratch.release(); op.destroy(); } };
  }
  const c = {
    ctx, weights, accumulate: [false], layer, rule: ruleOf(kernel),
    inputs: [{ shape: inShape, relu: false }], nonneg: [false], output: { shape: outShape, relu: false }, outShape,
  };
  const op = impl === 'gemm' ? await createConvBackward(c) : await createDepthwiseBackward(c);
  const dispatches = op.dispatches(batch, {
    inputs: [x], output: { buffer: b.z, shape: outShape, relu: false }, relOut: b.relOut, relIn: [b.relIn], accumulate: [false], scratch: lease,
  });
  const stab = (d: Dispatch) => /stab/.test(d.kernel);
  const timed = kernel === 'stab' ? dispatches.filter(stab) : kernel === 'transpose' ? dispatches.filter((d) => !stab(d)) : dispatches;
  return { dispatches, timed, release: () => { scratch.release(); op.destroy(); } };
}

try {
  console.log(`adapter: ${gpu.adapterName}; kernels tuned for ${ctx.tuning}; LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? '(default)'}`);
  console.log(`relevance rule: ${args.rule} on signed inputs; median of ${repeat} x ${inner}; load ${load()} (1, 5, 15 min) at the start\n`);
  const header = ['layer', 'batch', 'pass', 'impl', 'ms', 'GFLOP/s', 'GB/s', `speed-up vs ${impls[0]}`];
  const numeric = [false, true, false, false, true, true, true, true];
  const rows: string[][] = [];
  for (const [name, C, size, k, s] of shapes) {
    const first = rows.length;
    const layer = layerOf(name, C, k, s);
    const inShape: Shape = [C, size, size];
    const outShape = inferShape(layer, [inShape]);
    for (const batch of batches) {
      const nIn = batch * numel(inShape);
      const nOut = batch * numel(outShape);
      const buf = {
        x: filled(nIn, 'x', (i) => Math.sin(i * 0.37)),
        z: filled(nOut, 'z', (i) => Math.sin(0.7 * i)),
        relOut: filled(nOut, 'R out', (i) => Math.cos(i)),
        relIn: ctx.pool.acquire(4 * nIn, usage, 'R in'),
      };
      for (const kernel of kernels) {
        const variants: Variant[] = [];
        const segs = kernel === 'forward' || kernel === 'gradient' || args.rule === 'z' ? 1 : 2;
        const macs = nOut * k * k;
        // Compulsory traffic: forward x, w, y; denominators x, w, R, z and the s slices; the
        // transposed pass s (its slices), w, x and R in.
        const slices = args.rule === 'z' || kernel === 'gradient' ? 1 : 2;
        const bytes = 4 * (kernel === 'forward' ? nIn + C * k * k + nOut
          : kernel === 'stab' ? nIn + C * k * k + 2 * nOut + slices * nOut
            : slices * nOut + C * k * k + 2 * nIn);
        for (const impl of impls) {
          const v = await build(impl, kernel, layer, inShape, outShape, batch, buf);
          await ctx.run(`${name} ${impl} (first run)`, v.dispatches);
          variants.push({ impl, dispatches: v.timed, release: v.release, ms: [], flops: 2 * macs * segs, bytes });
        }
        for (let r = 0; r <= repeat; r++) {
          for (const v of variants) {
            const t = await ctx.run(`${name} ${v.impl}`, Array.from({ length: inner }, () => v.dispatches).flat(), { profile: true });
            if (r === 0) continue;
            const per = v.dispatches.length;
            for (let i = 0; i < inner; i++) v.ms.push(t!.slice(i * per, (i + 1) * per).reduce((a, d) => a + d.ms, 0));
          }
        }
        const base = median(variants[0].ms);
        for (const v of variants) {
          const ms = median(v.ms);
          rows.push([name, String(batch), kernel, v.impl, ms.toFixed(3), (v.flops / ms / 1e6).toFixed(2), (v.bytes / ms / 1e6).toFixed(2), (base / ms).toFixed(2)]);
          v.release();
        }
      }
      for (const bf of Object.values(buf)) ctx.pool.release(bf);
    }
    // Each layer as it finishes (a loaded machine takes minutes per layer), then all of them.
    console.log(`${table(header, rows.slice(first), numeric)}\n(load ${load()})\n`);
  }
  console.log(table(header, rows, numeric));
  console.log(`\nload ${load()} (1, 5, 15 min) at the end`);
} finally {
  gpu.close();
}
