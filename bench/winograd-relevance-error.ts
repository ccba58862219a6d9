/**
 * Float32 error of the relevance passes of each convolution method against float64, on
 * VGG-16-sized 3x3 layers under alpha-beta 2/1 on inputs >= 0 (cmp-alpha2-flat's rule for VGG-16's
 * convolutions after the first): direct kernels, and Winograd F(2,3) and F(4,3) in both passes
 * (src/lrp/ops/winograd-relevance.ts), each run as the layer's relevance op on the GPU, against a
 * float64 alpha-beta computed here at a random sample of input positions (every input channel of
 * each; the full float64 relevance of a VGG layer is billions of multiply-adds in JS).
 *
 *   npx tsx bench/winograd-relevance-error.ts [--layers 64x224,128x112,256x56,512x28,512x14]
 *                                             [--positions 24] [--shift=-0.5] [--seed 1]
 *
 * Each layer is C -> C channels at H x H, padding 1, batch 1, He-initialised weights, bias
 * 0.1 * N(0, 1), inputs max(N(0, 1) + shift, 0) (shift -0.5: 69% zeros, sparse as VGG-16's
 * post-ReLU activations are, so some denominators come near zero), upper relevance N(0, 1), z from
 * the GPU's direct forward pass (as the explainer stores it). Printed per layer and method: the
 * relative L2 error over the sampled inputs, and the largest absolute error over their RMS.
 */
import { parseArgs } from 'node:util';
import { ForwardModel } from '../src/forward/model.ts';
import type { ConvMode, WinogradTile } from '../src/forward/winograd.ts';
import { WeightStore } from '../src/gpu/weight-store.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import type { ConvLayer, Shape } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import type { BackwardIO } from '../src/lrp/backward-op.ts';
import { createConvRelevance } from '../src/lrp/ops/winograd-relevance.ts';
import type { LinearRule } from '../src/lrp/rule-spec.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { table } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    layers: { type: 'string', default: '64x224,128x112,256x56,512x28,512x14' },
    positions: { type: 'string', default: '24' },
    shift: { type: 'string', default: '-0.5' },
    seed: { type: 'string', default: '1' },
  },
});
const shapes = args.layers!.split(',').map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`--layers: '${s}' is not CxH (channels x side)`);
  return [Number(m[1]), Number(m[2])] as const;
});
const positions = Number(args.positions);
if (!Number.isInteger(positions) || positions < 1) throw new Error(`--positions: '${args.positions}' is not a positive whole number`);
const shift = Number(args.shift);
if (!Number.isFinite(shift)) throw new Error(`--shift: '${args.shift}' is not a number`);
const rng = new Rng(Number(args.seed));

const METHODS: { label: string; conv: ConvMode; tile?: WinogradTile }[] = [
  { label: 'direct', conv: 'direct' },
  { label: 'F(2,3)', conv: 'winograd', tile: 2 },
  { label: 'F(4,3)', conv: 'winograd', tile: 4 },
];
const rule: LinearRule = { rule: 'alpha-beta', alpha: 2, beta: 1, stabilizer: 1e-6 };
const { alpha, beta, stabilizer: eps } = rule as Extract<LinearRule, { rule: 'alpha-beta' }>;

const gpu = await createNodeGpu();
const { ctx } = gpu;
const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
try {
  const rows: string[][] = [];
  for (const [C, H] of shapes) {
    const W = H;
    const plane = H * W;
    const weight = new Float32Array(C * C * 9);
    rng.fillNormal(weight, Math.sqrt(2 / (9 * C)));
    const bias = new Float32Array(C);
    rng.fillNormal(bias, 0.1);
    const layer: ConvLayer = {
      kind: 'conv', name: `conv ${C}x${H}`, inputs: ['x'], output: 'y', inChannels: C, outChannels: C, kernel: [3, 3], stride: [1, 1],
      pads: [1, 1, 1, 1], dilation: [1, 1], groups: 1, weight, bias,
    };
    const shape: Shape = [C, H, W];
    const x = new Float32Array(C * plane);
    rng.fillNormal(x, 1);
    for (let i = 0; i < x.length; i++) x[i] = Math.max(x[i] + shift, 0);
    const R = new Float32Array(C * plane);
    rng.fillNormal(R, 1);
    // z as the explainer stores it: the direct forward kernel's.
    const b = new GraphBuilder('one layer', 'x', shape);
    b.add(layer);
    const fm = await ForwardModel.create(ctx, b.build('y'), { conv: 'direct' });
    const acts = await fm.forward(x, 1);
    const z = await acts.read('y');
    acts.release();
    fm.destroy();

    // The float64 reference at sampled positions, all input channels.
    const sampled = Array.from({ length: positions }, () => [Math.floor(rng.uniform() * H), Math.floor(rng.uniform() * W)] as const);
    const want: number[] = [];
    for (const [py, px] of sampled) {
      const r = new Float64Array(C);
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        // Output j = (o, py - dy + ..): input (py, px) reaches output (oy, ox) by tap (py - oy + 1, px - ox + 1).
        const oy = py + dy;
        const ox = px + dx;
        if (oy < 0 || oy >= H || ox < 0 || ox >= W) continue;
        const ky = py - oy + 1;
        const kx = px - ox + 1;
        for (let o = 0; o < C; o++) {
          let p = Math.max(bias[o], 0);
          let n = Math.min(bias[o], 0);
          for (let c = 0; c < C; c++) {
            for (let ty = 0; ty < 3; ty++) {
              const iy = oy + ty - 1;
              if (iy < 0 || iy >= H) continue;
              for (let tx = 0; tx < 3; tx++) {
                const ix = ox + tx - 1;
                if (ix < 0 || ix >= W) continue;
                const v = x[(c * H + iy) * W + ix] * weight[((o * C + c) * 3 + ty) * 3 + tx];
                if (v > 0) p += v; else n += v;
              }
            }
          }
          const Rj = R[(o * H + oy) * W + ox];
          const sp = Rj / (p + eps);
          const sn = Rj / (n - eps);
          for (let c = 0; c < C; c++) {
            const w = weight[((o * C + c) * 3 + ky) * 3 + kx];
            r[c] += alpha * Math.max(w, 0) * sp - beta * Math.min(w, 0) * sn;
          }
        }
      }
      for (let c = 0; c < C; c++) want.push(x[(c * H + py) * W + px] * r[c]);
    }
    const rms = Math.sqrt(want.reduce((a, v) => a + v * v, 0) / want.length);

    const row = [`${C} -> ${C}, ${H}x${W}`];
    for (const m of METHODS) {
      const weights = new WeightStore(ctx);
      const op = await createConvRelevance({
        ctx, weights, layer, rule, accumulate: [false], inputs: [{ shape, relu: false }], nonneg: [true],
        output: { shape, relu: false }, outShape: shape, forwardOptions: { conv: m.conv, winogradTile: m.tile },
      });
      const buffers: GPUBuffer[] = [];
      const up = (d: Float32Array, label: string) => {
        const buf = ctx.upload(d, label, storage);
        buffers.push(buf);
        return buf;
      };
      try {
        const relIn = up(new Float32Array(x.length), 'relIn');
        const io: BackwardIO = {
          inputs: [{ buffer: up(x, 'x'), shape, relu: false }], output: { buffer: up(z, 'z'), shape, relu: false },
          relOut: up(R, 'relOut'), relIn: [relIn], accumulate: [false],
          scratch: (bytes, label) => {
            const buf = ctx.device.createBuffer({ size: Math.ceil(bytes / 16) * 16, usage: storage, label });
            buffers.push(buf);
            return buf;
          },
        };
        await ctx.run(`${layer.name} ${m.label}`, op.dispatches(1, io));
        const got = await ctx.readF32(relIn, 0, x.length, 'relIn');
        let num = 0;
        let den = 0;
        let worst = 0;
        let k = 0;
        for (const [py, px] of sampled) {
          for (let c = 0; c < C; c++) {
            const d = got[(c * H + py) * W + px] - want[k];
            num += d * d;
            den += want[k] * want[k];
            worst = Math.max(worst, Math.abs(d));
            k++;
          }
        }
        row.push(`${Math.sqrt(num / den).toExponential(2)} / ${(worst / rms).toExponential(2)}`);
      } finally {
        buffers.forEach((buf) => buf.destroy());
        op.destroy();
      }
    }
    rows.push(row);
    console.log(row.join('  '));
  }
  console.log(`\nalpha-beta 2/1 relevance at the input vs float64, ${positions} sampled positions x every input channel; inputs max(N(0,1) ${shift}, 0)`);
  console.log('relative L2 error / largest absolute error over the RMS of the sampled values:');
  console.log(table(['layer', ...METHODS.map((m) => m.label)], rows, [false, true, true, true]));
} finally {
  gpu.close();
}
