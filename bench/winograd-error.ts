/**
 * Float32 error of each convolution method against float64, on VGG-16-sized 3x3 layers: direct
 * convolution, Winograd F(2,3) and F(4,3) (src/forward/winograd.ts), each run on the GPU as a
 * one-layer model, compared with a float64 direct convolution computed here on a random sample of
 * output values (the full float64 convolution of a VGG layer is billions of multiply-adds in JS).
 *
 *   npx tsx bench/winograd-error.ts [--layers 64x224,128x112,256x56,512x28,512x14] [--samples 4000] [--seed 1]
 *
 * Each layer is C -> C channels at H x H, padding 1, batch 1, He-initialised weights (std
 * sqrt(2 / 9C)), bias 0.1 * N(0, 1), and inputs |N(0, 1)| (post-ReLU activations, as a VGG
 * layer's inputs are). Printed per layer and method: the relative L2 error over the sampled
 * outputs, and the largest absolute error over the sample divided by the outputs' RMS.
 */
import { parseArgs } from 'node:util';
import { ForwardModel } from '../src/forward/model.ts';
import type { ConvMode, WinogradTile } from '../src/forward/winograd.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import type { ConvLayer } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { table } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    layers: { type: 'string', default: '64x224,128x112,256x56,512x28,512x14' },
    samples: { type: 'string', default: '4000' },
    seed: { type: 'string', default: '1' },
  },
});
const shapes = args.layers!.split(',').map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`--layers: '${s}' is not CxH (channels x side)`);
  return [Number(m[1]), Number(m[2])] as const;
});
const samples = Number(args.samples);
if (!Number.isInteger(samples) || samples < 1) throw new Error(`--samples: '${args.samples}' is not a positive whole number`);
const rng = new Rng(Number(args.seed));

const METHODS: { label: string; conv: ConvMode; tile?: WinogradTile }[] = [
  { label: 'direct', conv: 'direct' },
  { label: 'F(2,3)', conv: 'winograd', tile: 2 },
  { label: 'F(4,3)', conv: 'winograd', tile: 4 },
];

const gpu = await createNodeGpu({ compileProgress: false });
try {
  const rows: string[][] = [];
  for (const [C, H] of shapes) {
    const weight = new Float32Array(C * C * 9);
    rng.fillNormal(weight, Math.sqrt(2 / (9 * C)));
    const bias = new Float32Array(C);
    rng.fillNormal(bias, 0.1);
    const layer: ConvLayer = {
      kind: 'conv', name: 'conv', inputs: ['x'], output: 'y', inChannels: C, outChannels: C, kernel: [3, 3],
      stride: [1, 1], pads: [1, 1, 1, 1], dilation: [1, 1], groups: 1, weight, bias,
    };
    const b = new GraphBuilder(`${C}x${H}`, 'x', [C, H, H]);
    b.add(layer);
    const graph = b.build('y');
    const x = new Float32Array(C * H * H);
    rng.fillNormal(x, 1);
    for (let i = 0; i < x.length; i++) x[i] = Math.abs(x[i]);

    // The float64 oracle on sampled outputs.
    const idx = Array.from({ length: samples }, () => rng.nextU32() % (C * H * H));
    const ref = idx.map((i) => {
      const o = Math.floor(i / (H * H));
      const oy = Math.floor(i / H) % H;
      const ox = i % H;
      let s = bias[o];
      for (let c = 0; c < C; c++) {
        for (let ky = 0; ky < 3; ky++) {
          const iy = oy + ky - 1;
          if (iy < 0 || iy >= H) continue;
          for (let kx = 0; kx < 3; kx++) {
            const ix = ox + kx - 1;
            if (ix < 0 || ix >= H) continue;
            s += x[(c * H + iy) * H + ix] * weight[((o * C + c) * 3 + ky) * 3 + kx];
          }
        }
      }
      return s;
    });
    const rms = Math.sqrt(ref.reduce((s, v) => s + v * v, 0) / ref.length);
    const row = [`${C} -> ${C}, ${H}x${H}`];
    for (const m of METHODS) {
      const fm = await ForwardModel.create(gpu.ctx, graph, { conv: m.conv, winogradTile: m.tile });
      try {
        const acts = await fm.forward(x, 1);
        const y = await acts.read('y');
        acts.release();
        let num = 0;
        let maxAbs = 0;
        idx.forEach((i, k) => {
          const d = y[i] - ref[k];
          num += d * d;
          maxAbs = Math.max(maxAbs, Math.abs(d));
        });
        row.push(`${(Math.sqrt(num / ref.length) / rms).toExponential(2)} / ${(maxAbs / rms).toExponential(2)}`);
      } finally {
        fm.destroy();
      }
    }
    rows.push(row);
    console.error(`done ${C}x${H}`);
  }
  console.log(`relative L2 error / largest absolute error over output RMS, ${samples} sampled outputs per layer, against float64`);
  console.log(table(['layer', ...METHODS.map((m) => m.label)], rows, [false, ...METHODS.map(() => true)]));
} finally {
  gpu.close();
}
