/**
 * Winograd convolution (src/forward/winograd.ts, src/forward/conv-winograd.ts) against a float64
 * direct convolution written here: the transforms' algebra on the CPU, then the GPU op on odd
 * sizes (H, W not multiples of the tile, padding 0 and 1, batch > 1, channel counts that are not
 * multiples of the GEMM tile), a ReLU view in front, and a batch split into chunks under a capped
 * binding. Few, small layers: each distinct channel count is a GEMM pipeline to compile.
 */
import { describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { winogradChunk } from '../src/forward/conv-winograd.ts';
import {
  AUTO_F2_MIN_PIXELS, AUTO_F2_MIN_PIXELS_REDISTRIBUTION, AUTO_F4_MIN_PIXELS, AUTO_MIN_CHANNELS, winogradBlocker, winogradChoice, winogradSkips, winogradMatrices, winogradWeights, type ConvMode, type ConvPass, type WinogradTile,
} from '../src/forward/winograd.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { GraphBuilder, type LayerSpec } from '../src/graph/builder.ts';
import type { ConvLayer, Graph, Pads4, Shape } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import { nodeShaderLoader } from '../src/node/gpu.ts';
import { relL2, useGpu } from './helpers/gpu.ts';

const shared = useGpu();
const rng = new Rng(20261207);

function rand(n: number, std = 1): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  return a;
}

function conv3x3(inC: number, outC: number, pads: Pads4, o: Partial<ConvLayer> = {}): ConvLayer {
  return {
    kind: 'conv', name: 'c', inputs: ['x'], output: 'y', inChannels: inC, outChannels: outC, kernel: [3, 3],
    stride: [1, 1], pads, dilation: [1, 1], groups: 1,
    weight: rand(outC * inC * 9, Math.sqrt(2 / (9 * inC))), bias: rand(outC, 0.1), ...o,
  };
}

/** The float64 oracle: direct cross-correlation, NCHW, with the layer's padding, optionally on max(x, 0). */
function directConv(l: ConvLayer, x: ArrayLike<number>, batch: number, H: number, W: number, relu = false): Float64Array {
  const [pt, pl, pb, pr] = l.pads;
  const OH = H + pt + pb - 2;
  const OW = W + pl + pr - 2;
  const C = l.inChannels;
  const y = new Float64Array(batch * l.outChannels * OH * OW);
  for (let n = 0; n < batch; n++) {
    for (let o = 0; o < l.outChannels; o++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let s = l.bias[o];
          for (let c = 0; c < C; c++) {
            for (let ky = 0; ky < 3; ky++) {
              const iy = oy + ky - pt;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < 3; kx++) {
                const ix = ox + kx - pl;
                if (ix < 0 || ix >= W) continue;
                const v = x[((n * C + c) * H + iy) * W + ix];
                s += (relu ? Math.max(v, 0) : v) * l.weight[((o * C + c) * 3 + ky) * 3 + kx];
              }
            }
          }
          y[((n * l.outChannels + o) * OH + oy) * OW + ox] = s;
        }
      }
    }
  }
  return y;
}

/**
 * Winograd in float64 from the module's matrices and transformed weights: Y = A^T [U . (B^T d B)] A
 * per tile, summed over channels. Checks the algebra (and winogradWeights' layout) exactly.
 */
function winogradF64(l: ConvLayer, m: WinogradTile, x: ArrayLike<number>, H: number, W: number): Float64Array {
  const { alpha, BT, AT } = winogradMatrices(m);
  const U = winogradWeights(l, m);
  const [pt, pl, pb, pr] = l.pads;
  const OH = H + pt + pb - 2;
  const OW = W + pl + pr - 2;
  const C = l.inChannels;
  const O = l.outChannels;
  const y = new Float64Array(O * OH * OW);
  const mat = (a: readonly number[], ar: number, ac: number, b: ArrayLike<number>, bc: number) => {
    const out = new Float64Array(ar * bc);
    for (let i = 0; i < ar; i++) for (let j = 0; j < bc; j++) {
      let s = 0;
      for (let k = 0; k < ac; k++) s += a[i * ac + k] * b[k * bc + j];
      out[i * bc + j] = s;
    }
    return out;
  };
  const transpose = (a: ArrayLike<number>, r: number, c: number) => Array.from({ length: r * c }, (_, i) => a[(i % r) * c + Math.floor(i / r)]);
  const B = transpose(BT, alpha, alpha);
  const A = transpose(AT, m, alpha);
  for (let ty = 0; ty < Math.ceil(OH / m); ty++) {
    for (let tx = 0; tx < Math.ceil(OW / m); tx++) {
      const V: Float64Array[] = [];
      for (let c = 0; c < C; c++) {
        const d = new Float64Array(alpha * alpha);
        for (let a = 0; a < alpha; a++) for (let b = 0; b < alpha; b++) {
          const iy = ty * m + a - pt;
          const ix = tx * m + b - pl;
          d[a * alpha + b] = iy >= 0 && iy < H && ix >= 0 && ix < W ? x[(c * H + iy) * W + ix] : 0;
        }
        V.push(mat(mat(BT, alpha, alpha, d, alpha) as unknown as number[], alpha, alpha, B, alpha));
      }
      for (let o = 0; o < O; o++) {
        const M = new Float64Array(alpha * alpha);
        for (let xi = 0; xi < alpha * alpha; xi++) {
          for (let c = 0; c < C; c++) M[xi] += U[(xi * O + o) * C + c] * V[c][xi];
        }
        const Y = mat(mat(AT, m, alpha, M, alpha) as unknown as number[], m, alpha, A, m);
        for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) {
          const oy = ty * m + a;
          const ox = tx * m + b;
          if (oy < OH && ox < OW) y[(o * OH + oy) * OW + ox] = Y[a * m + b] + l.bias[o];
        }
      }
    }
  }
  return y;
}

function graphOf(shape: Shape, layer: ConvLayer, relu: boolean): Graph {
  const b = new GraphBuilder('winograd case', 'x', shape);
  if (relu) b.add({ kind: 'relu', name: 'r', inputs: ['x'], output: 'rx' } as LayerSpec);
  b.add({ ...layer, inputs: [relu ? 'rx' : 'x'] } as LayerSpec);
  return b.build('y');
}

async function runConv(
  ctx: GpuContext, graph: Graph, x: Float32Array, batch: number, conv: ConvMode, winogradTile?: WinogradTile,
): Promise<{ y: Float32Array; methods: Map<string, string> }> {
  const fm = await ForwardModel.create(ctx, graph, { conv, winogradTile });
  try {
    const acts = await fm.forward(x, batch);
    try {
      return { y: await acts.read('y'), methods: fm.methods() };
    } finally {
      acts.release();
    }
  } finally {
    fm.destroy();
  }
}

describe('Winograd algebra (CPU, float64)', () => {
  for (const m of [2, 4] as const) {
    it(`F(${m},3) equals direct convolution on a 7x10 input, padding [1, 0, 2, 1]`, () => {
      const l = conv3x3(3, 4, [1, 0, 2, 1]);
      const x = Float64Array.from(rand(3 * 7 * 10));
      const err = relL2(winogradF64(l, m, x, 7, 10), directConv(l, x, 1, 7, 10));
      expect(err).toBeLessThan(1e-6);
    });
  }

  it('applies to 3x3 stride-1 undilated ungrouped convolutions only, and says why not', () => {
    expect(winogradBlocker(conv3x3(4, 4, [1, 1, 1, 1]))).toBeNull();
    expect(winogradBlocker(conv3x3(4, 4, [1, 1, 1, 1], { stride: [2, 2] }))).toMatch(/stride 2x2/);
    expect(winogradBlocker(conv3x3(4, 4, [1, 1, 1, 1], { kernel: [1, 1] }))).toMatch(/kernel 1x1/);
    expect(winogradBlocker(conv3x3(4, 4, [1, 1, 1, 1], { dilation: [2, 2] }))).toMatch(/dilation/);
    expect(winogradBlocker(conv3x3(4, 4, [1, 1, 1, 1], { groups: 2 }))).toMatch(/2 groups/);
  });

  it('auto: F(4,3) on large planes, F(2,3) on 14x14 (7x7 in the redistribution), small layers and GPUs direct; winograd forces F(4,3)', () => {
    const big = conv3x3(AUTO_MIN_CHANNELS, AUTO_MIN_CHANNELS, [1, 1, 1, 1], { weight: new Float32Array(0) });
    const auto = (pixels: number, pass?: ConvPass, layer = big) => winogradChoice(layer, pixels, 'auto', 'cpu', undefined, pass).m;
    // VGG-16's and ResNet-50's planes, as measured (bench/winograd-choice.ts).
    expect([224, 112, 56, 28, 14, 7].map((s) => auto(s * s))).toEqual([4, 4, 4, 4, 2, null]);
    expect([224, 112, 56, 28, 14, 7].map((s) => auto(s * s, 'denominators'))).toEqual([4, 4, 4, 4, 2, null]);
    expect([224, 112, 56, 28, 14, 7].map((s) => auto(s * s, 'redistribution'))).toEqual([4, 4, 4, 4, 2, 2]);
    expect(auto(AUTO_F4_MIN_PIXELS - 1)).toBe(2);
    expect(auto(AUTO_F2_MIN_PIXELS - 1)).toBeNull();
    expect(auto(AUTO_F2_MIN_PIXELS - 1, 'redistribution')).toBe(2);
    expect(auto(AUTO_F2_MIN_PIXELS_REDISTRIBUTION - 1, 'redistribution')).toBeNull();
    expect(winogradChoice(big, 56 * 56, 'auto', 'cpu', 2).m).toBe(2);
    expect(winogradChoice(big, AUTO_F4_MIN_PIXELS, 'auto', 'gpu').m).toBeNull();
    expect(auto(224 * 224, 'forward', { ...big, inChannels: 3 })).toBeNull();
    expect(auto(224 * 224, 'forward', { ...big, outChannels: AUTO_MIN_CHANNELS / 2 })).toBeNull();
    expect(winogradChoice(big, 4, 'winograd', 'gpu').m).toBe(4);
    expect(winogradChoice(big, 4, 'winograd', 'cpu', 2).m).toBe(2);
    expect(winogradChoice(big, AUTO_F4_MIN_PIXELS, 'direct', 'cpu').m).toBeNull();
    expect(winogradChoice({ ...big, stride: [2, 2] }, AUTO_F4_MIN_PIXELS, 'winograd', 'cpu')).toEqual({ m: null, why: 'stride 2x2, not 1' });
  });

  it('names the convolutions that forced Winograd could not take', () => {
    expect(winogradSkips(new Map([['a', 'winograd F(4,3)'], ['b', 'winograd F(4,3)']]))).toBeNull();
    expect(winogradSkips(new Map([['a', 'winograd F(4,3)'], ['b', 'direct (stride 2x2, not 1)']])))
      .toBe('--conv winograd: 1 of 2 convolutions run direct: b direct (stride 2x2, not 1)');
  });
});

// [label, C_in, C_out, H, W, pads, batch, ReLU view in front]
const GPU_CASES: [string, number, number, number, number, Pads4, number, boolean][] = [
  ['3 → 5 channels, 7x9, padding 1, batch 2', 3, 5, 7, 9, [1, 1, 1, 1], 2, false],
  ['19 → 21 channels, 11x6, padding 0, batch 3, after a ReLU view', 19, 21, 11, 6, [0, 0, 0, 0], 3, true],
  // On lavapipe the stage is winograd_gemm.wgsl: the cases above have tile counts P that are not
  // whole quads (its float loads), this one whole quads (64 and 16 tiles: its vec4 loads), three
  // 32-column blocks with the last one ragged, K not a multiple of its 4-deep step.
  ['37 → 70 channels, 16x16, padding 1, batch 1', 37, 70, 16, 16, [1, 1, 1, 1], 1, false],
];

describe('Winograd convolution on the GPU against float64 direct convolution', () => {
  for (const [label, C, O, H, W, pads, batch, relu] of GPU_CASES) {
    const layer = conv3x3(C, O, pads);
    const graph = graphOf([C, H, W], layer, relu);
    const x = rand(batch * C * H * W);
    const expected = directConv(layer, x, batch, H, W, relu);
    for (const m of [2, 4] as const) {
      it(`F(${m},3): ${label}`, async () => {
        const { y, methods } = await runConv(shared.ctx, graph, x, batch, 'winograd', m);
        expect(methods.get('c')).toBe(`winograd F(${m},3)`);
        const err = relL2(y, expected);
        console.log(`winograd F(${m},3) ${label}: relative L2 error ${err.toExponential(2)}`);
        expect(err, `relative L2 error ${err}`).toBeLessThanOrEqual(m === 2 ? 2e-6 : 1e-5);
      });
    }
  }

  it('a batch split into chunks of samples under a capped binding, through the model', async () => {
    const capped = new GpuContext(shared.gpu.device, { shaders: nodeShaderLoader, bindingLimit: 18432 });
    try {
      // The first case's channels (the same pipelines) on a 13x13 plane: one sample per chunk.
      const [, C, O, , , pads] = GPU_CASES[0];
      const [H, W, batch] = [13, 13, 3];
      const layer = conv3x3(C, O, pads);
      expect(winogradChunk(layer, H, W, 4, capped.maxBinding)).toBe(1);
      const x = rand(batch * C * H * W);
      const { y, methods } = await runConv(capped, graphOf([C, H, W], layer, false), x, batch, 'winograd');
      expect(methods.get('c')).toBe('winograd F(4,3)');
      const err = relL2(y, directConv(layer, x, batch, H, W));
      expect(err, `relative L2 error ${err}`).toBeLessThanOrEqual(1e-5);
    } finally {
      capped.destroy();
    }
  });
});

