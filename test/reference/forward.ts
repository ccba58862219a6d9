/**
 * Float64 CPU reference of the forward pass: the oracle the GPU kernels are tested against.
 * Written as plain loops that mirror the ONNX/PyTorch definitions one to one, so it can be
 * checked by reading; speed is irrelevant beyond finishing small models in seconds.
 *
 * Data is batched NCHW (or [N, F]), batch first, then the IR's per-sample shape.
 */
import type {
  AvgPoolLayer, BatchNormLayer, ConvLayer, DenseLayer, Graph, Layer, LrnLayer, MaxPoolLayer, PadLayer, Shape,
} from '../../src/graph/ir.ts';
import { numel, valueInfo } from '../../src/graph/ir.ts';
import { inferShape } from '../../src/graph/builder.ts';
import { windowOutput } from '../../src/graph/shape.ts';
import { Rng } from '../../src/graph/zoo.ts';
import { referenceAttentionForward } from './attention.ts';

export function referenceLayer(
  layer: Layer, inputs: readonly Float64Array[], inputShapes: readonly Shape[], batch: number,
): Float64Array {
  inputs.forEach((x, i) => {
    if (x.length !== batch * numel(inputShapes[i])) {
      throw new Error(`${layer.name}: input ${i} has ${x.length} values, expected ${batch}×[${inputShapes[i].join(', ')}]`);
    }
  });
  const x = inputs[0];
  const s = inputShapes[0];
  switch (layer.kind) {
    case 'conv': return conv(layer, x, s, batch);
    case 'dense': return dense(layer, x, x.length / layer.inFeatures);
    case 'relu': return x.map((v) => Math.max(v, 0));
    case 'maxpool': return maxpool(layer, x, s, batch);
    case 'avgpool': return avgpool(layer, x, s, batch);
    case 'globalavgpool': return globalAvgPool(x, s, batch);
    case 'lrn': return lrn(layer, x, s, batch);
    case 'flatten':
    case 'identity': return Float64Array.from(x);
    case 'concat': return concat(inputs, inputShapes, batch);
    case 'add': return x.map((v, i) => v + inputs[1][i]);
    case 'batchnorm': return batchNorm(layer, x, s, batch);
    case 'bias': return layer.lastAxis ? x.map((v, i) => v + layer.bias[i % layer.bias.length]) : perChannel(x, s, batch, (v, c) => v + layer.bias[c]);
    case 'clip': return x.map((v) => Math.min(Math.max(v, layer.min), layer.max));
    case 'leakyrelu': return x.map((v) => (v > 0 ? v : layer.alpha * v));
    case 'pad': return pad(layer, x, s, batch);
    case 'sigmoid': return x.map(sigmoid64);
    case 'tanh': return x.map(Math.tanh);
    case 'silu': return x.map((v) => v * sigmoid64(v));
    case 'hardsigmoid': return x.map((v) => hardSigmoid64(v, layer.alpha, layer.beta));
    case 'hardswish': return x.map((v) => v * hardSigmoid64(v, layer.alpha, layer.beta));
    case 'gate': {
      const g = inputs[1];
      const plane = x.length / g.length;
      return x.map((v, i) => v * g[Math.floor(i / plane)]);
    }
    case 'scale': {
      if (layer.lastAxis) return x.map((v, i) => v * layer.scale[i % layer.scale.length]);
      const plane = numel(s) / layer.scale.length;
      return x.map((v, i) => v * layer.scale[Math.floor(i / plane) % layer.scale.length]);
    }
    case 'slice': case 'gather': case 'concatconst': case 'addconst': case 'matmul': case 'softmax':
      return referenceAttentionForward(layer, inputs, inputShapes, batch);
    case 'transpose': return permute(x, s, layer.perm, batch);
    case 'reshape': return Float64Array.from(x);
    case 'gelu': return x.map((v) => gelu64(v, layer.approximate));
    case 'layernorm': {
      const n = layer.scale.length;
      const y = new Float64Array(x.length);
      for (let r = 0; r < x.length / n; r++) {
        const { mean, s } = layerNormStats(x, r * n, n, layer.epsilon);
        for (let c = 0; c < n; c++) y[r * n + c] = ((x[r * n + c] - mean) / s) * layer.scale[c] + layer.bias[c];
      }
      return y;
    }
  }
}

/** erf in float64 by its everywhere-convergent series of positive terms, 2/sqrt(pi) e^-x^2 sum (2x^2)^k x / (2k+1)!!. */
export function erf64(x: number): number {
  if (Math.abs(x) > 6) return Math.sign(x);
  let term = x;
  let sum = x;
  for (let k = 1; k < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); k++) {
    term *= (2 * x * x) / (2 * k + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

/** GELU by its definitions: x Phi(x) (`none`), or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function gelu64(v: number, approximate: 'none' | 'tanh'): number {
  if (approximate === 'tanh') return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  return 0.5 * v * (1 + erf64(v / Math.SQRT2));
}

/** The mean and deviation sqrt(biased variance + eps) of x[at .. at + n), by the definitions. */
export function layerNormStats(x: Float64Array, at: number, n: number, eps: number): { mean: number; s: number } {
  let mean = 0;
  for (let c = 0; c < n; c++) mean += x[at + c];
  mean /= n;
  let v = 0;
  for (let c = 0; c < n; c++) v += (x[at + c] - mean) ** 2;
  return { mean, s: Math.sqrt(v / n + eps) };
}

/** y = x with its per-sample axes permuted (output axis k is input axis perm[k]), by plain index arithmetic. */
export function permute(x: Float64Array, s: Shape, perm: readonly number[], N: number): Float64Array {
  const out = perm.map((a) => s[a]);
  const count = numel(s);
  const inStride = s.map((_, a) => numel(s.slice(a + 1)));
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let j = 0; j < count; j++) {
      // j's multi-index in the output, then the input element it reads.
      let r = j;
      let src = 0;
      for (let k = out.length - 1; k >= 0; k--) {
        src += (r % out[k]) * inStride[perm[k]];
        r = Math.floor(r / out[k]);
      }
      y[n * count + j] = x[n * count + src];
    }
  }
  return y;
}

/** ONNX Sigmoid, 1 / (1 + e^-x), in float64. */
export function sigmoid64(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** ONNX HardSigmoid: max(0, min(1, alpha x + beta)). */
export function hardSigmoid64(v: number, alpha: number, beta: number): number {
  return Math.max(0, Math.min(1, alpha * v + beta));
}

/** Runs the graph; the result holds every value by name, the input included. */
export function referenceForward(graph: Graph, input: Float64Array, batch: number): Map<string, Float64Array> {
  const values = new Map<string, Float64Array>([[graph.input.name, input]]);
  for (const layer of graph.layers) {
    const xs = layer.inputs.map((name) => {
      const v = values.get(name);
      if (!v) throw new Error(`${layer.name}: input '${name}' not computed yet`);
      return v;
    });
    const shapes = layer.inputs.map((name) => valueInfo(graph, name).shape);
    values.set(layer.output, referenceLayer(layer, xs, shapes, batch));
  }
  return values;
}

function conv(l: ConvLayer, x: Float64Array, [C, H, W]: Shape, N: number): Float64Array {
  const [kh, kw] = l.kernel;
  const [sh, sw] = l.stride;
  const [dh, dw] = l.dilation;
  const [pt, pl, pb, pr] = l.pads;
  const OH = windowOutput(H, kh, sh, pt, pb, dh, false);
  const OW = windowOutput(W, kw, sw, pl, pr, dw, false);
  const CO = l.outChannels;
  const cinG = C / l.groups;
  const coutG = CO / l.groups;
  const y = new Float64Array(N * CO * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < CO; co++) {
      const g = Math.floor(co / coutG);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = l.bias[co];
          for (let ci = 0; ci < cinG; ci++) {
            const c = g * cinG + ci;
            for (let i = 0; i < kh; i++) {
              const h = oh * sh - pt + i * dh;
              if (h < 0 || h >= H) continue;
              for (let j = 0; j < kw; j++) {
                const w = ow * sw - pl + j * dw;
                if (w < 0 || w >= W) continue;
                acc += l.weight[((co * cinG + ci) * kh + i) * kw + j] * x[((n * C + c) * H + h) * W + w];
              }
            }
          }
          y[((n * CO + co) * OH + oh) * OW + ow] = acc;
        }
      }
    }
  }
  return y;
}

function dense(l: DenseLayer, x: Float64Array, N: number): Float64Array {
  const I = l.inFeatures;
  const O = l.outFeatures;
  const y = new Float64Array(N * O);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      let acc = l.bias[o];
      for (let i = 0; i < I; i++) acc += l.weight[o * I + i] * x[n * I + i];
      y[n * O + o] = acc;
    }
  }
  return y;
}

function maxpool(l: MaxPoolLayer, x: Float64Array, [C, H, W]: Shape, N: number): Float64Array {
  const [kh, kw] = l.kernel;
  const [sh, sw] = l.stride;
  const [dh, dw] = l.dilation;
  const [pt, pl, pb, pr] = l.pads;
  const OH = windowOutput(H, kh, sh, pt, pb, dh, l.ceilMode);
  const OW = windowOutput(W, kw, sw, pl, pr, dw, l.ceilMode);
  const y = new Float64Array(N * C * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          // Padding (and the ceil-mode overhang) is -inf: it never wins.
          let m = -Infinity;
          for (let i = 0; i < kh; i++) {
            const h = oh * sh - pt + i * dh;
            if (h < 0 || h >= H) continue;
            for (let j = 0; j < kw; j++) {
              const w = ow * sw - pl + j * dw;
              if (w < 0 || w >= W) continue;
              m = Math.max(m, x[((n * C + c) * H + h) * W + w]);
            }
          }
          y[((n * C + c) * OH + oh) * OW + ow] = m;
        }
      }
    }
  }
  return y;
}

/**
 * PyTorch's avg_pool2d (which onnxruntime matches): the window is first clipped to the padded
 * extent [-padBegin, size + padEnd) — that is the count_include_pad divisor, so a ceil-mode overhang
 * counts as neither input nor padding — then to the input itself for the sum and the other divisor.
 */
function avgpool(l: AvgPoolLayer, x: Float64Array, [C, H, W]: Shape, N: number): Float64Array {
  const [kh, kw] = l.kernel;
  const [sh, sw] = l.stride;
  const [pt, pl, pb, pr] = l.pads;
  const OH = windowOutput(H, kh, sh, pt, pb, 1, l.ceilMode);
  const OW = windowOutput(W, kw, sw, pl, pr, 1, l.ceilMode);
  const y = new Float64Array(N * C * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const h0 = oh * sh - pt;
          const w0 = ow * sw - pl;
          const h1 = Math.min(h0 + kh, H + pb);
          const w1 = Math.min(w0 + kw, W + pr);
          const paddedCount = (h1 - h0) * (w1 - w0);
          const hs = Math.max(h0, 0);
          const ws = Math.max(w0, 0);
          const he = Math.min(h1, H);
          const we = Math.min(w1, W);
          let sum = 0;
          for (let h = hs; h < he; h++) {
            for (let w = ws; w < we; w++) sum += x[((n * C + c) * H + h) * W + w];
          }
          const count = l.countIncludePad ? paddedCount : (he - hs) * (we - ws);
          y[((n * C + c) * OH + oh) * OW + ow] = sum / count;
        }
      }
    }
  }
  return y;
}

function globalAvgPool(x: Float64Array, [C, H, W]: Shape, N: number): Float64Array {
  const y = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let sum = 0;
      for (let i = 0; i < H * W; i++) sum += x[(n * C + c) * H * W + i];
      y[n * C + c] = sum / (H * W);
    }
  }
  return y;
}

/** ONNX LRN: the window is [c - floor((size-1)/2), c + ceil((size-1)/2)], clipped to the channels. */
function lrn(l: LrnLayer, x: Float64Array, [C, H, W]: Shape, N: number): Float64Array {
  const below = Math.floor((l.size - 1) / 2);
  const above = Math.ceil((l.size - 1) / 2);
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < H * W; p++) {
        let sq = 0;
        for (let k = Math.max(0, c - below); k <= Math.min(C - 1, c + above); k++) {
          const v = x[(n * C + k) * H * W + p];
          sq += v * v;
        }
        const i = (n * C + c) * H * W + p;
        y[i] = x[i] / Math.pow(l.bias + (l.alpha / l.size) * sq, l.beta);
      }
    }
  }
  return y;
}

/** `f(x, c)` at every element, c its channel (axis 0 of the per-sample shape). */
function perChannel(x: Float64Array, s: Shape, N: number, f: (v: number, c: number) => number): Float64Array {
  const C = s[0];
  const plane = numel(s) / C;
  return x.map((v, i) => f(v, Math.floor(i / plane) % C));
}

/** ONNX BatchNormalization in inference mode, in float64 from the float32 statistics. */
function batchNorm(l: BatchNormLayer, x: Float64Array, s: Shape, N: number): Float64Array {
  return perChannel(x, s, N, (v, c) => ((v - l.mean[c]) / Math.sqrt(l.variance[c] + l.epsilon)) * l.scale[c] + l.bias[c]);
}

function pad(l: PadLayer, x: Float64Array, [C, H, W]: Shape, N: number): Float64Array {
  const [pt, pl, pb, pr] = l.pads;
  const OH = H + pt + pb;
  const OW = W + pl + pr;
  const y = new Float64Array(N * C * OH * OW);
  for (let nc = 0; nc < N * C; nc++) {
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) y[(nc * OH + h + pt) * OW + w + pl] = x[(nc * H + h) * W + w];
    }
  }
  return y;
}

/** Along channels: per sample, each input's C×H×W block in turn. */
function concat(inputs: readonly Float64Array[], shapes: readonly Shape[], N: number): Float64Array {
  const sizes = shapes.map(numel);
  const per = sizes.reduce((a, b) => a + b, 0);
  const y = new Float64Array(N * per);
  for (let n = 0; n < N; n++) {
    let offset = n * per;
    inputs.forEach((x, i) => {
      y.set(x.subarray(n * sizes[i], (n + 1) * sizes[i]), offset);
      offset += sizes[i];
    });
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// Random single-layer cases for kernel tests: every kind, with the awkward parameters
// (asymmetric pads, dilation, groups, ceil mode, even LRN size, non-square everything).
// ---------------------------------------------------------------------------------------------

export interface LayerCase {
  /** A short description for test titles. */
  readonly label: string;
  readonly layer: Layer;
  readonly inputShapes: readonly Shape[];
  readonly outputShape: Shape;
}

/** Normal(0, std) values, deterministic for a seed. */
export function randomArray(n: number, seed: number, std = 1): Float64Array {
  const a = new Float64Array(n);
  new Rng(seed).fillNormal(a, std);
  return a;
}

function randomF32(rng: Rng, n: number, std: number): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  return a;
}

export function randomLayerCases(seed = 1): LayerCase[] {
  const rng = new Rng(seed);
  const io = { inputs: ['x'], output: 'y' };
  const convCase = (
    label: string, [C, H, W]: [number, number, number], CO: number, kernel: [number, number],
    stride: [number, number], pads: [number, number, number, number], dilation: [number, number], groups: number,
  ): [string, Layer, Shape[]] => {
    const fanIn = (C / groups) * kernel[0] * kernel[1];
    return [label, {
      kind: 'conv', name: label, ...io, inChannels: C, outChannels: CO, kernel, stride, pads, dilation, groups,
      weight: randomF32(rng, CO * fanIn, Math.sqrt(2 / fanIn)), bias: randomF32(rng, CO, 0.1),
    }, [[C, H, W]]];
  };
  const pool = (
    label: string, kind: 'maxpool' | 'avgpool', shape: Shape, kernel: [number, number], stride: [number, number],
    pads: [number, number, number, number], ceilMode: boolean, extra: { dilation?: [number, number]; countIncludePad?: boolean },
  ): [string, Layer, Shape[]] => {
    const layer: Layer = kind === 'maxpool'
      ? { kind, name: label, ...io, kernel, stride, pads, ceilMode, dilation: extra.dilation ?? [1, 1] }
      : { kind, name: label, ...io, kernel, stride, pads, ceilMode, countIncludePad: extra.countIncludePad ?? false };
    return [label, layer, [shape]];
  };
  const simple = (label: string, layer: Layer, shapes: Shape[]): [string, Layer, Shape[]] => [label, layer, shapes];

  const raw: [string, Layer, Shape[]][] = [
    convCase('conv 3x3 p1', [3, 8, 8], 4, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1),
    convCase('conv 1x1', [5, 4, 6], 7, [1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 1),
    convCase('conv 5x3 s2x1 asym pads', [2, 11, 9], 3, [5, 3], [2, 1], [2, 0, 1, 1], [1, 1], 1),
    convCase('conv 3x3 dilation 2x3', [3, 12, 13], 4, [3, 3], [1, 1], [2, 3, 2, 3], [2, 3], 1),
    convCase('conv 3x3 groups 2', [4, 7, 7], 6, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 2),
    convCase('conv depthwise s2', [6, 9, 10], 6, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 6),
    convCase('conv 11x11 s4 (alexnet-like)', [3, 35, 35], 8, [11, 11], [4, 4], [2, 2, 2, 2], [1, 1], 1),
    simple('dense', {
      kind: 'dense', name: 'dense', ...io, inFeatures: 37, outFeatures: 11,
      weight: randomF32(rng, 37 * 11, Math.sqrt(2 / 37)), bias: randomF32(rng, 11, 0.1),
    }, [[37]]),
    simple('relu', { kind: 'relu', name: 'relu', ...io }, [[3, 5, 7]]),
    pool('maxpool 2x2 s2', 'maxpool', [3, 8, 8], [2, 2], [2, 2], [0, 0, 0, 0], false, {}),
    pool('maxpool 3x3 s2 ceil', 'maxpool', [2, 8, 9], [3, 3], [2, 2], [0, 0, 0, 0], true, {}),
    pool('maxpool 3x3 s2 p1 asym ceil', 'maxpool', [2, 10, 7], [3, 3], [2, 2], [1, 0, 0, 1], true, {}),
    pool('maxpool 2x3 dilation 2', 'maxpool', [2, 9, 11], [2, 3], [1, 2], [1, 1, 0, 1], false, { dilation: [2, 2] }),
    pool('avgpool 3x3 s2 p1 include pad', 'avgpool', [2, 7, 8], [3, 3], [2, 2], [1, 1, 1, 1], false, { countIncludePad: true }),
    pool('avgpool 3x3 s2 p1 exclude pad', 'avgpool', [2, 7, 8], [3, 3], [2, 2], [1, 1, 1, 1], false, { countIncludePad: false }),
    pool('avgpool 3x2 s2 asym ceil include pad', 'avgpool', [2, 8, 9], [3, 2], [2, 2], [1, 0, 0, 1], true, { countIncludePad: true }),
    pool('avgpool 3x3 s2 ceil exclude pad', 'avgpool', [2, 8, 8], [3, 3], [2, 2], [0, 0, 0, 0], true, { countIncludePad: false }),
    simple('globalavgpool', { kind: 'globalavgpool', name: 'gap', ...io }, [[5, 6, 7]]),
    simple('lrn size 5', { kind: 'lrn', name: 'lrn5', ...io, size: 5, alpha: 1e-4, beta: 0.75, bias: 1 }, [[8, 4, 5]]),
    simple('lrn size 4 (even)', { kind: 'lrn', name: 'lrn4', ...io, size: 4, alpha: 0.5, beta: 0.6, bias: 2 }, [[6, 3, 3]]),
    simple('flatten', { kind: 'flatten', name: 'flatten', ...io }, [[3, 4, 5]]),
    simple('identity', { kind: 'identity', name: 'identity', ...io }, [[3, 4, 5]]),
    simple('concat of 3', { kind: 'concat', name: 'concat', inputs: ['a', 'b', 'c'], output: 'y' }, [[2, 4, 5], [3, 4, 5], [1, 4, 5]]),
  ];
  return raw.map(([label, layer, inputShapes]) => ({
    label, layer, inputShapes, outputShape: inferShape(layer, inputShapes),
  }));
}
