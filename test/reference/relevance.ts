/**
 * Float64 CPU reference of every relevance rule of shared/docs/lrp-rules.md, and of a whole
 * backward pass: the oracle the GPU relevance kernels are tested against, itself checked against
 * zennit's reference vectors (test/relevance-reference.test.ts).
 *
 * Written as plain loops over the definitions, for reading rather than speed. A convolution and a
 * dense layer are both a list of connections (input i, output j, weight w_ij), so every linear rule
 * is written once, as forward-like sums `sum_i f(x_i) g(w_ij)` and transposed sums
 * `sum_j g(w_ij) s_j` over that list.
 *
 * Data is batched NCHW (or [N, F]), batch first, then the IR's per-sample shape.
 */
import type {
  AvgPoolLayer, ConvLayer, DenseLayer, Graph, Layer, LayerNormLayer, LrnLayer, MaxPoolLayer, Pads4, Pair, Shape,
} from '../../src/graph/ir.ts';
import { numel, valueInfo } from '../../src/graph/ir.ts';
import { windowOutput } from '../../src/graph/shape.ts';
import type { LayerRule, LinearRule, Method } from '../../src/lrp/rule-spec.ts';
import { DEFAULT_STABILIZER } from '../../src/lrp/rule-spec.ts';
import { erf64, layerNormStats, permute, referenceForward } from './forward.ts';
import { defaultAttentionRule, referenceAttentionRelevance } from './attention.ts';

/** `d + eps * sign(d)` with sign(0) = +1 (so -0 and 0 both become +eps), as zennit's `stabilize`. */
export function stab(d: number, eps: number): number {
  return d >= 0 ? d + eps : d - eps;
}

// ---------------------------------------------------------------------------------------------
// Linear layers as connection lists
// ---------------------------------------------------------------------------------------------

/** A convolution or dense layer as the list of its (input, output, weight) connections, per sample. */
export interface LinearMap {
  readonly inSize: number;
  readonly outSize: number;
  /** Connection t joins input inIdx[t] to output outIdx[t] through weight[wIdx[t]]. Padding taps are absent. */
  readonly inIdx: Int32Array;
  readonly outIdx: Int32Array;
  readonly wIdx: Int32Array;
  readonly weight: Float64Array;
  /** The bias of each output element. */
  readonly bias: Float64Array;
  /** The channel of each input element (conv), or its feature index (dense): what zbox bounds index. */
  readonly channelOf: Int32Array;
}

const mapCache = new WeakMap<Layer, Map<string, LinearMap>>();

/** The connection list of a conv or dense layer on inputs of `inputShape` (cached per layer object). */
export function linearMap(layer: ConvLayer | DenseLayer, inputShape: Shape): LinearMap {
  let byShape = mapCache.get(layer);
  if (!byShape) mapCache.set(layer, (byShape = new Map()));
  const key = inputShape.join('x');
  let m = byShape.get(key);
  if (!m) {
    m = layer.kind === 'conv' ? convMap(layer, inputShape) : denseMap(layer, numel(inputShape) / layer.inFeatures);
    byShape.set(key, m);
  }
  return m;
}

/** Every in-image tap of a convolution (stride, asymmetric pads, dilation, groups). */
function convMap(l: ConvLayer, [C, H, W]: Shape): LinearMap {
  const [kh, kw] = l.kernel;
  const [sh, sw] = l.stride;
  const [dh, dw] = l.dilation;
  const [pt, pl, pb, pr] = l.pads;
  const OH = windowOutput(H, kh, sh, pt, pb, dh, false);
  const OW = windowOutput(W, kw, sw, pl, pr, dw, false);
  const CO = l.outChannels;
  const cinG = C / l.groups;
  const coutG = CO / l.groups;
  const ii: number[] = [];
  const oi: number[] = [];
  const wi: number[] = [];
  for (let co = 0; co < CO; co++) {
    const g = Math.floor(co / coutG);
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const o = (co * OH + oh) * OW + ow;
        for (let ci = 0; ci < cinG; ci++) {
          const c = g * cinG + ci;
          for (let i = 0; i < kh; i++) {
            const h = oh * sh - pt + i * dh;
            if (h < 0 || h >= H) continue;
            for (let j = 0; j < kw; j++) {
              const w = ow * sw - pl + j * dw;
              if (w < 0 || w >= W) continue;
              ii.push((c * H + h) * W + w);
              oi.push(o);
              wi.push(((co * cinG + ci) * kh + i) * kw + j);
            }
          }
        }
      }
    }
  }
  const bias = new Float64Array(CO * OH * OW);
  for (let co = 0; co < CO; co++) bias.fill(l.bias[co], co * OH * OW, (co + 1) * OH * OW);
  const channelOf = new Int32Array(C * H * W);
  for (let c = 0; c < C; c++) channelOf.fill(c, c * H * W, (c + 1) * H * W);
  return {
    inSize: C * H * W, outSize: CO * OH * OW,
    inIdx: Int32Array.from(ii), outIdx: Int32Array.from(oi), wIdx: Int32Array.from(wi),
    weight: Float64Array.from(l.weight), bias, channelOf,
  };
}

/** A dense layer over the last axis: `rows` independent rows (the input's leading positions) of I features each. */
function denseMap(l: DenseLayer, rows: number): LinearMap {
  const I = l.inFeatures;
  const O = l.outFeatures;
  const n = rows * I * O;
  const ii = new Int32Array(n);
  const oi = new Int32Array(n);
  const wi = new Int32Array(n);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < O; o++) {
      for (let i = 0; i < I; i++) {
        const t = (r * O + o) * I + i;
        ii[t] = r * I + i;
        oi[t] = r * O + o;
        wi[t] = o * I + i;
      }
    }
  }
  const bias = new Float64Array(rows * O);
  for (let r = 0; r < rows; r++) bias.set(l.bias, r * O);
  return {
    inSize: rows * I, outSize: rows * O, inIdx: ii, outIdx: oi, wIdx: wi,
    weight: Float64Array.from(l.weight), bias, channelOf: Int32Array.from({ length: rows * I }, (_, i) => i % I),
  };
}

/** `y_j = sum_i x_i w_ij (+ bias_j)` over the connections: the layer's forward pass with modified x, w, b. */
function fwd(m: LinearMap, x: Float64Array, w: Float64Array, bias: Float64Array | null, N: number): Float64Array {
  const y = new Float64Array(N * m.outSize);
  for (let n = 0; n < N; n++) {
    const xo = n * m.inSize;
    const yo = n * m.outSize;
    if (bias) for (let j = 0; j < m.outSize; j++) y[yo + j] = bias[j];
    for (let t = 0; t < m.inIdx.length; t++) y[yo + m.outIdx[t]] += x[xo + m.inIdx[t]] * w[m.wIdx[t]];
  }
  return y;
}

/** `g_i = sum_j w_ij s_j` over the connections: the transposed pass (the gradient with respect to the input). */
function bwd(m: LinearMap, s: Float64Array, w: Float64Array, N: number): Float64Array {
  const g = new Float64Array(N * m.inSize);
  for (let n = 0; n < N; n++) {
    const go = n * m.inSize;
    const so = n * m.outSize;
    for (let t = 0; t < m.inIdx.length; t++) g[go + m.inIdx[t]] += w[m.wIdx[t]] * s[so + m.outIdx[t]];
  }
  return g;
}

const pos = (v: number): number => Math.max(v, 0);
const neg = (v: number): number => Math.min(v, 0);
const mapArr = (a: ArrayLike<number>, f: (v: number) => number): Float64Array => Float64Array.from(a, f);
const add = (...as: Float64Array[]): Float64Array => as.reduce((acc, a) => acc.map((v, i) => v + a[i]));
const mul = (a: Float64Array, b: Float64Array): Float64Array => a.map((v, i) => v * b[i]);
const scale = (a: Float64Array, k: number): Float64Array => a.map((v) => v * k);
/** s_j = R_j / stab(d_j). */
const divide = (R: Float64Array, d: Float64Array, eps: number): Float64Array => R.map((r, j) => r / stab(d[j], eps));
/** Per-sample vector broadcast over the batch. */
const tile = (v: Float64Array, N: number): Float64Array => {
  const out = new Float64Array(N * v.length);
  for (let n = 0; n < N; n++) out.set(v, n * v.length);
  return out;
};

/**
 * One linear layer's input relevance under a rule of lrp-rules.md.
 * `x`: the layer's actual input (ReLU already applied); `z`: its output (bias included); `R`: the
 * relevance at the output.
 */
export function linearRelevance(m: LinearMap, rule: LinearRule, x: Float64Array, z: Float64Array, R: Float64Array, N: number): Float64Array {
  const W = m.weight;
  const Wp = mapArr(W, pos);
  const Wn = mapArr(W, neg);
  switch (rule.rule) {
    case 'gradient':
      return bwd(m, R, W, N);
    case 'pattern':
      // PatternAttribution: the gradient through A * W (the pattern is in the weight's layout).
      return bwd(m, R, W.map((w, i) => w * rule.pattern[i]), N);
    case 'z':
    case 'epsilon': {
      const s = divide(R, z, rule.rule === 'z' ? rule.stabilizer : rule.epsilon);
      return mul(x, bwd(m, s, W, N));
    }
    case 'zplus':
      return alphaBeta(m, 1, 0, rule.stabilizer, x, R, N);
    case 'alpha-beta':
      return alphaBeta(m, rule.alpha, rule.beta, rule.stabilizer, x, R, N);
    case 'gamma': {
      // The output's sign picks the modified weights: z > 0 favours the positive contributions
      // (x+ with w + g w+, x- with w + g w-), z < 0 the negative ones; z = 0 passes nothing.
      const g = rule.gamma;
      const Wgp = mapArr(W, (w) => w + g * pos(w));
      const Wgn = mapArr(W, (w) => w + g * neg(w));
      const xp = mapArr(x, pos);
      const xn = mapArr(x, neg);
      const bias = tile(m.bias, N);
      const dPos = add(fwd(m, xp, Wgp, null, N), fwd(m, xn, Wgn, null, N), bias.map((b) => b + g * pos(b)));
      const dNeg = add(fwd(m, xp, Wgn, null, N), fwd(m, xn, Wgp, null, N), bias.map((b) => b + g * neg(b)));
      const sPos = R.map((r, j) => (z[j] > 0 ? r / stab(dPos[j], rule.stabilizer) : 0));
      const sNeg = R.map((r, j) => (z[j] < 0 ? r / stab(dNeg[j], rule.stabilizer) : 0));
      return add(
        mul(xp, add(bwd(m, sPos, Wgp, N), bwd(m, sNeg, Wgn, N))),
        mul(xn, add(bwd(m, sPos, Wgn, N), bwd(m, sNeg, Wgp, N))),
      );
    }
    case 'flat': {
      // Inputs and weights replaced by ones, bias dropped: d_j counts the non-padding connections.
      const ones = new Float64Array(N * m.inSize).fill(1);
      const Wones = new Float64Array(W.length).fill(1);
      const s = divide(R, fwd(m, ones, Wones, null, N), rule.stabilizer);
      return bwd(m, s, Wones, N);
    }
    case 'wsquare': {
      const ones = new Float64Array(N * m.inSize).fill(1);
      const W2 = mapArr(W, (w) => w * w);
      const s = divide(R, fwd(m, ones, W2, m.bias.map((b) => b * b), N), rule.stabilizer);
      return bwd(m, s, W2, N);
    }
    case 'zbox': {
      const bound = (v: readonly number[]): Float64Array => {
        if (v.length !== 1 && v.length <= Math.max(...m.channelOf)) throw new Error(`zbox: ${v.length} bounds for the input's channels`);
        return tile(Float64Array.from(m.channelOf, (c) => (v.length === 1 ? v[0] : v[c])), N);
      };
      const L = bound(rule.low);
      const H = bound(rule.high);
      // zennit: z(x, W, b) - z(l, W+, b+) - z(h, W-, b-); the biases cancel (b - b+ - b- = 0).
      const d = add(fwd(m, x, W, null, N), scale(fwd(m, L, Wp, null, N), -1), scale(fwd(m, H, Wn, null, N), -1));
      const s = divide(R, d, rule.stabilizer);
      return add(mul(x, bwd(m, s, W, N)), scale(mul(L, bwd(m, s, Wp, N)), -1), scale(mul(H, bwd(m, s, Wn, N)), -1));
    }
  }
}

/** zennit's AlphaBeta with signed inputs: p = x+W+ + x-W- + b+, n = x+W- + x-W+ + b-, each stabilised. */
function alphaBeta(m: LinearMap, alpha: number, beta: number, eps: number, x: Float64Array, R: Float64Array, N: number): Float64Array {
  const Wp = mapArr(m.weight, pos);
  const Wn = mapArr(m.weight, neg);
  const xp = mapArr(x, pos);
  const xn = mapArr(x, neg);
  const bias = tile(m.bias, N);
  const p = add(fwd(m, xp, Wp, null, N), fwd(m, xn, Wn, null, N), bias.map(pos));
  const sp = divide(R, p, eps);
  const out = scale(add(mul(xp, bwd(m, sp, Wp, N)), mul(xn, bwd(m, sp, Wn, N))), alpha);
  if (beta === 0) return out;
  const nd = add(fwd(m, xp, Wn, null, N), fwd(m, xn, Wp, null, N), bias.map(neg));
  const sn = divide(R, nd, eps);
  return add(out, scale(add(mul(xp, bwd(m, sn, Wn, N)), mul(xn, bwd(m, sn, Wp, N))), -beta));
}

// ---------------------------------------------------------------------------------------------
// Pooling, LRN, ReLU
// ---------------------------------------------------------------------------------------------

interface PoolGeometry {
  readonly kernel: Pair;
  readonly stride: Pair;
  readonly pads: Pads4;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;
}

/** Global average pooling is average pooling with one window over the whole map. */
function avgGeometry(layer: AvgPoolLayer | { kind: 'globalavgpool' }, [, H, W]: Shape): PoolGeometry {
  return layer.kind === 'globalavgpool'
    ? { kernel: [H, W], stride: [1, 1], pads: [0, 0, 0, 0], ceilMode: false, countIncludePad: false }
    : layer;
}

/**
 * Calls `visit` for every window of an average pooling, with its in-image extent [hs, he) × [ws, we)
 * and its divisor, by the definitions of reference/forward.ts (PyTorch's avg_pool2d).
 */
function forEachAvgWindow(
  g: PoolGeometry, H: number, W: number,
  visit: (o: number, hs: number, he: number, ws: number, we: number, div: number) => void,
): void {
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.stride;
  const [pt, pl, pb, pr] = g.pads;
  const OH = windowOutput(H, kh, sh, pt, pb, 1, g.ceilMode);
  const OW = windowOutput(W, kw, sw, pl, pr, 1, g.ceilMode);
  for (let oh = 0; oh < OH; oh++) {
    for (let ow = 0; ow < OW; ow++) {
      const h0 = oh * sh - pt;
      const w0 = ow * sw - pl;
      const h1 = Math.min(h0 + kh, H + pb);
      const w1 = Math.min(w0 + kw, W + pr);
      const hs = Math.max(h0, 0);
      const ws = Math.max(w0, 0);
      const he = Math.min(h1, H);
      const we = Math.min(w1, W);
      const div = g.countIncludePad ? (h1 - h0) * (w1 - w0) : (he - hs) * (we - ws);
      visit(oh * OW + ow, hs, he, ws, we, div);
    }
  }
}

function avgPoolRelevance(
  g: PoolGeometry, rule: 'norm' | 'flat' | 'gradient', eps: number,
  x: Float64Array, [C, H, W]: Shape, z: Float64Array, R: Float64Array, N: number,
): Float64Array {
  const rel = new Float64Array(N * C * H * W);
  let outPlane = 0;
  forEachAvgWindow(g, H, W, () => outPlane++);
  for (let nc = 0; nc < N * C; nc++) {
    forEachAvgWindow(g, H, W, (o, hs, he, ws, we, div) => {
      const j = nc * outPlane + o;
      const count = (he - hs) * (we - ws);
      // The share of R_j each input of the window receives, before any input factor.
      let share: number;
      if (rule === 'norm') share = R[j] / div / stab(z[j], eps);
      else if (rule === 'flat') share = R[j] / div / stab(count / div, eps); // avgpool(ones)_j = count / div
      else share = R[j] / div;
      for (let h = hs; h < he; h++) {
        for (let w = ws; w < we; w++) {
          const i = (nc * H + h) * W + w;
          rel[i] += rule === 'norm' ? x[i] * share : share;
        }
      }
    });
  }
  return rel;
}

function maxPoolRelevance(
  l: MaxPoolLayer, rule: 'winner' | 'proportional', eps: number,
  x: Float64Array, [C, H, W]: Shape, z: Float64Array, R: Float64Array, N: number,
): Float64Array {
  const [kh, kw] = l.kernel;
  const [sh, sw] = l.stride;
  const [dh, dw] = l.dilation;
  const [pt, pl, pb, pr] = l.pads;
  const OH = windowOutput(H, kh, sh, pt, pb, dh, l.ceilMode);
  const OW = windowOutput(W, kw, sw, pl, pr, dw, l.ceilMode);
  const rel = new Float64Array(N * C * H * W);
  for (let nc = 0; nc < N * C; nc++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const j = (nc * OH + oh) * OW + ow;
        // The window's in-image inputs in row-major order; padding never takes part.
        const members: number[] = [];
        for (let a = 0; a < kh; a++) {
          const h = oh * sh - pt + a * dh;
          if (h < 0 || h >= H) continue;
          for (let b = 0; b < kw; b++) {
            const w = ow * sw - pl + b * dw;
            if (w >= 0 && w < W) members.push((nc * H + h) * W + w);
          }
        }
        if (rule === 'winner') {
          // PyTorch's max_pool2d: strict `>`, so the first maximum in row-major order wins a tie.
          let best = members[0];
          for (const i of members) if (x[i] > x[best]) best = i;
          rel[best] += R[j];
        } else {
          const s = R[j] / stab(z[j], eps);
          for (const i of members) rel[i] += x[i] * s;
        }
      }
    }
  }
  return rel;
}

/**
 * The derivative of ONNX LRN, y_i = x_i / D_i^beta with D_i = bias + alpha/size * sum_{c in win(i)} x_c^2:
 * g_in_k = g_k D_k^-beta - (2 alpha beta / size) x_k sum_{i : k in win(i)} g_i x_i D_i^(-beta-1).
 */
function lrnGradient(l: LrnLayer, x: Float64Array, [C, H, W]: Shape, g: Float64Array, N: number): Float64Array {
  const below = Math.floor((l.size - 1) / 2);
  const above = Math.ceil((l.size - 1) / 2);
  const P = H * W;
  const at = (n: number, c: number, p: number): number => (n * C + c) * P + p;
  const D = new Float64Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let p = 0; p < P; p++) {
        let sq = 0;
        for (let k = Math.max(0, c - below); k <= Math.min(C - 1, c + above); k++) sq += x[at(n, k, p)] ** 2;
        D[at(n, c, p)] = l.bias + (l.alpha / l.size) * sq;
      }
    }
  }
  const out = new Float64Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < C; k++) {
      for (let p = 0; p < P; p++) {
        // win(i) = [i - below, i + above] contains k exactly when i is in [k - above, k + below].
        let sum = 0;
        for (let i = Math.max(0, k - above); i <= Math.min(C - 1, k + below); i++) {
          sum += g[at(n, i, p)] * x[at(n, i, p)] * D[at(n, i, p)] ** (-l.beta - 1);
        }
        const idx = at(n, k, p);
        out[idx] = g[idx] * D[idx] ** -l.beta - ((2 * l.alpha * l.beta) / l.size) * x[idx] * sum;
      }
    }
  }
  return out;
}

function bad(layer: Layer, rule: LayerRule): never {
  throw new Error(`${layer.name}: rule '${rule.rule}' does not apply to a ${layer.kind} layer`);
}

/**
 * The relevance at one layer's (first) input. `x`: the layer's actual input, ReLU already applied
 * (for a ReLU layer: its pre-activation input); `z`: the layer's output; `relOut`: relevance at the
 * output. Flatten and Identity pass relevance through. Concat has several inputs: see
 * referenceConcatRelevance.
 */
export function referenceLayerRelevance(
  layer: Layer, rule: LayerRule, x: Float64Array, inputShape: Shape, z: Float64Array, relOut: Float64Array, batch: number,
): Float64Array {
  if (x.length !== batch * numel(inputShape)) throw new Error(`${layer.name}: input has ${x.length} values, expected ${batch}×[${inputShape.join(', ')}]`);
  if (z.length !== relOut.length) throw new Error(`${layer.name}: output has ${z.length} values, relevance ${relOut.length}`);
  switch (layer.kind) {
    case 'conv':
    case 'dense': {
      const r = rule as LinearRule;
      if (!['gradient', 'pattern', 'z', 'epsilon', 'zplus', 'alpha-beta', 'gamma', 'flat', 'wsquare', 'zbox'].includes(r.rule)) bad(layer, rule);
      return linearRelevance(linearMap(layer, inputShape), r, x, z, relOut, batch);
    }
    case 'maxpool':
      if (rule.rule === 'winner' || rule.rule === 'gradient') return maxPoolRelevance(layer, 'winner', 0, x, inputShape, z, relOut, batch);
      if (rule.rule === 'proportional') return maxPoolRelevance(layer, 'proportional', rule.stabilizer, x, inputShape, z, relOut, batch);
      return bad(layer, rule);
    case 'avgpool':
    case 'globalavgpool': {
      const g = avgGeometry(layer, inputShape);
      if (rule.rule === 'norm' || rule.rule === 'flat') return avgPoolRelevance(g, rule.rule, rule.stabilizer, x, inputShape, z, relOut, batch);
      if (rule.rule === 'gradient') return avgPoolRelevance(g, 'gradient', 0, x, inputShape, z, relOut, batch);
      return bad(layer, rule);
    }
    case 'lrn':
      if (rule.rule === 'pass') return Float64Array.from(relOut);
      if (rule.rule === 'gradient') return lrnGradient(layer, x, inputShape, relOut, batch);
      return bad(layer, rule);
    case 'relu':
      if (rule.rule === 'pass') return Float64Array.from(relOut);
      if (rule.rule === 'gradient') return relOut.map((g, i) => (x[i] > 0 ? g : 0));
      if (rule.rule === 'guided') return relOut.map((g, i) => (x[i] > 0 && g > 0 ? g : 0));
      return bad(layer, rule);
    case 'flatten':
    case 'identity':
      return Float64Array.from(relOut);
    case 'batchnorm':
      if (rule.rule === 'pass') return Float64Array.from(relOut);
      if (rule.rule === 'gradient') {
        const plane = numel(inputShape) / layer.channels;
        return relOut.map((g, i) => {
          const c = Math.floor(i / plane) % layer.channels;
          return (g * layer.scale[c]) / Math.sqrt(layer.variance[c] + layer.epsilon);
        });
      }
      return bad(layer, rule);
    case 'clip':
      if (rule.rule === 'pass') return Float64Array.from(relOut);
      // PyTorch's hardtanh (ReLU6) backward: strict at both bounds, like ReLU's [x > 0].
      if (rule.rule === 'gradient') return relOut.map((g, i) => (x[i] > layer.min && x[i] < layer.max ? g : 0));
      return bad(layer, rule);
    case 'leakyrelu':
      if (rule.rule === 'pass') return Float64Array.from(relOut);
      if (rule.rule === 'gradient') return relOut.map((g, i) => (x[i] > 0 ? g : layer.alpha * g));
      return bad(layer, rule);
    case 'pad':
      // Relevance (or gradient) that reaches the zeros of the padding goes nowhere: a crop.
      return crop(layer.pads, inputShape, relOut, batch);
    case 'sigmoid':
    case 'tanh':
    case 'silu':
    case 'hardsigmoid':
    case 'hardswish':
    case 'gelu':
      // lrp-rules.md, "Modern CNNs": activations pass relevance; the methods take f'(x).
      if (rule.rule === 'pass') return Float64Array.from(relOut);
      if (rule.rule === 'gradient') return relOut.map((g, i) => g * activationDerivative64(layer, x[i]));
      return bad(layer, rule);
    case 'scale':
      if (rule.rule === 'pass') return Float64Array.from(relOut);
      if (rule.rule === 'gradient') {
        if (layer.lastAxis) return relOut.map((g, i) => g * layer.scale[i % layer.scale.length]);
        const plane = numel(inputShape) / layer.scale.length;
        return relOut.map((g, i) => g * layer.scale[Math.floor(i / plane) % layer.scale.length]);
      }
      return bad(layer, rule);
    case 'transpose':
      // Shape-mapped: the output's relevance moved back by the inverse permutation.
      return permute(relOut, layer.perm.map((a) => inputShape[a]), inversePerm(layer.perm), batch);
    case 'reshape':
      return Float64Array.from(relOut);
    case 'layernorm':
      if (rule.rule === 'pass') return Float64Array.from(relOut);
      if (rule.rule === 'norm' || rule.rule === 'gradient') return layerNormRelevance(layer, rule, x, z, relOut);
      return bad(layer, rule);
    case 'gate':
    case 'concat':
    case 'add':
      throw new Error(`${layer.name}: a ${layer.kind} has several inputs; use referenceMultiInputRelevance`);
    case 'slice': case 'gather': case 'concatconst': case 'addconst': case 'softmax':
      return referenceAttentionRelevance(layer, rule, [x], [inputShape], z, relOut, batch)[0];
    case 'matmul':
      throw new Error(`${layer.name}: a ${layer.kind} has several inputs; use referenceAttentionRelevance`);
    case 'bias':
      throw new Error(`${layer.name}: ${layer.kind} layers exist only before canonization`);
  }
}

/**
 * LayerNorm over the last axis, row by row, as explicit matrices. `norm`: the deviation s constant,
 * J = diag(gamma / s)(I - 1 1^T / n), R_x = x * J^T (R / stab(y)). `gradient`: the full Jacobian
 * dy_j/dx_i = gamma_j / s (delta_ij - 1/n - xh_i xh_j / n), xh = (x - mean) / s, applied as J^T g.
 */
function layerNormRelevance(layer: LayerNormLayer, rule: LayerRule, x: Float64Array, y: Float64Array, R: Float64Array): Float64Array {
  const n = layer.scale.length;
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / n; r++) {
    const at = r * n;
    const { mean, s } = layerNormStats(x, at, n, layer.epsilon);
    const xh = (i: number) => (x[at + i] - mean) / s;
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = 0; j < n; j++) {
        const centre = (i === j ? 1 : 0) - 1 / n;
        if (rule.rule === 'norm') {
          acc += (layer.scale[j] / s) * centre * (R[at + j] / stab(y[at + j], (rule as { stabilizer: number }).stabilizer));
        } else {
          acc += (layer.scale[j] / s) * (centre - (xh(i) * xh(j)) / n) * R[at + j];
        }
      }
      out[at + i] = rule.rule === 'norm' ? x[at + i] * acc : acc;
    }
  }
  return out;
}

function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((a, k) => (inv[a] = k));
  return inv;
}

function crop([pt, pl, pb, pr]: Pads4, [C, H, W]: Shape, relOut: Float64Array, N: number): Float64Array {
  const OH = H + pt + pb;
  const OW = W + pl + pr;
  const rel = new Float64Array(N * C * H * W);
  for (let nc = 0; nc < N * C; nc++) {
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) rel[(nc * H + h) * W + w] = relOut[(nc * OH + h + pt) * OW + w + pl];
    }
  }
  return rel;
}

/**
 * The relevance at each input of an `add` (y = a + b): `norm`, zennit's Sum with the Norm rule,
 * R_k = x_k R / stab(y); or `gradient`, R itself for both inputs.
 */
export function referenceAddRelevance(
  rule: LayerRule, xs: readonly Float64Array[], z: Float64Array, relOut: Float64Array,
): Float64Array[] {
  if (rule.rule === 'gradient') return xs.map(() => Float64Array.from(relOut));
  if (rule.rule !== 'norm') throw new Error(`add: rule '${rule.rule}' does not apply (norm, gradient)`);
  const s = relOut.map((r, j) => r / stab(z[j], rule.stabilizer));
  return xs.map((x) => x.map((v, i) => v * s[i]));
}

/** f'(x) of an activation layer, in float64 from its definition (PyTorch's at HardSigmoid's kinks: 0). */
export function activationDerivative64(layer: Layer, v: number): number {
  const sig = 1 / (1 + Math.exp(-v));
  switch (layer.kind) {
    case 'sigmoid': return sig * (1 - sig);
    case 'tanh': return 1 - Math.tanh(v) ** 2;
    case 'silu': return sig + v * sig * (1 - sig);
    case 'hardsigmoid':
    case 'hardswish': {
      const u = layer.alpha * v + layer.beta;
      const inside = u > 0 && u < 1;
      if (layer.kind === 'hardsigmoid') return inside ? layer.alpha : 0;
      return Math.max(0, Math.min(1, u)) + (inside ? layer.alpha * v : 0);
    }
    case 'gelu': {
      if (layer.approximate === 'none') return 0.5 * (1 + erf64(v / Math.SQRT2)) + (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
      const k = Math.sqrt(2 / Math.PI);
      const t = Math.tanh(k * (v + 0.044715 * v ** 3));
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * k * (1 + 3 * 0.044715 * v * v);
    }
    default: throw new Error(`${layer.name}: ${layer.kind} is not an activation`);
  }
}

/**
 * The relevance at each input of a gate y = x * g (g one value per `x.length / g.length` values of
 * x): `pass` holds g constant, so x gets R and g nothing (null); `gradient` is the product rule,
 * R g to x and the sum of R x over each value of g's positions to g.
 */
export function referenceGateRelevance(rule: LayerRule, x: Float64Array, g: Float64Array, relOut: Float64Array): [Float64Array, Float64Array | null] {
  const plane = x.length / g.length;
  if (rule.rule === 'pass') return [Float64Array.from(relOut), null];
  if (rule.rule !== 'gradient') throw new Error(`gate: rule '${rule.rule}' does not apply (pass, gradient)`);
  const relG = new Float64Array(g.length);
  for (let i = 0; i < x.length; i++) relG[Math.floor(i / plane)] += relOut[i] * x[i];
  return [relOut.map((r, i) => r * g[Math.floor(i / plane)]), relG];
}

/** A channel concatenation's relevance split back into its inputs' slices. */
export function referenceConcatRelevance(relOut: Float64Array, inputShapes: readonly Shape[], batch: number): Float64Array[] {
  const sizes = inputShapes.map(numel);
  const per = sizes.reduce((a, b) => a + b, 0);
  return sizes.map((size, k) => {
    const offset = sizes.slice(0, k).reduce((a, b) => a + b, 0);
    const out = new Float64Array(batch * size);
    for (let n = 0; n < batch; n++) out.set(relOut.subarray(n * per + offset, n * per + offset + size), n * size);
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// The whole backward pass
// ---------------------------------------------------------------------------------------------

export type Init = 'onehot' | 'logit';

/**
 * The rule a layer gets when the composite names none: LRP defaults (linear `z`, ReLU/LRN/BatchNorm/
 * Clip/LeakyRelu `pass`, max-pool `winner`, average pool and add `norm`), or, for a method, the true derivative everywhere (with
 * guided ReLUs for guided backprop).
 */
export function defaultLayerRule(layer: Layer, method: Method | null, stabilizer = DEFAULT_STABILIZER): LayerRule | null {
  const attention = defaultAttentionRule(layer, method !== null, stabilizer);
  if (attention) return attention;
  if (method !== null) {
    switch (layer.kind) {
      case 'conv': case 'dense': case 'lrn': case 'avgpool': case 'globalavgpool': return { rule: 'gradient' };
      case 'add': case 'batchnorm': case 'clip': case 'leakyrelu': return { rule: 'gradient' };
      case 'sigmoid': case 'tanh': case 'silu': case 'hardsigmoid': case 'hardswish': case 'gate': case 'scale': return { rule: 'gradient' };
      case 'layernorm': case 'gelu': return { rule: 'gradient' };
      case 'relu': return { rule: method === 'guided-backprop' ? 'guided' : 'gradient' };
      case 'maxpool': return { rule: 'winner' };
      default: return null;
    }
  }
  switch (layer.kind) {
    case 'conv': case 'dense': return { rule: 'z', stabilizer };
    case 'relu': case 'lrn': return { rule: 'pass' };
    case 'maxpool': return { rule: 'winner' };
    case 'avgpool': case 'globalavgpool': case 'add': case 'layernorm': return { rule: 'norm', stabilizer };
    case 'batchnorm': case 'clip': case 'leakyrelu': return { rule: 'pass' };
    case 'sigmoid': case 'tanh': case 'silu': case 'hardsigmoid': case 'hardswish': case 'gate': case 'scale': case 'gelu': return { rule: 'pass' };
    default: return null;
  }
}

/** The seed at the graph output: 1 (onehot) or the logit itself (logit) at each sample's target. */
export function referenceSeed(logits: Float64Array, batch: number, targets: readonly number[], init: Init): Float64Array {
  if (targets.length !== batch) throw new Error(`${targets.length} targets for a batch of ${batch}`);
  const F = logits.length / batch;
  const R = new Float64Array(logits.length);
  targets.forEach((t, n) => {
    if (!(t >= 0 && t < F)) throw new Error(`target ${t} out of range [0, ${F})`);
    R[n * F + t] = init === 'onehot' ? 1 : logits[n * F + t];
  });
  return R;
}

/**
 * Relevance (or gradient) at every value the output depends on, by name, the graph input included.
 * Layers get `composite.get(name)`, else defaultLayerRule. Views pass relevance; a value with
 * several consumers sums their relevance. For gradient-x-input the input's entry is the gradient
 * times the input.
 */
export function referenceRelevances(
  graph: Graph, composite: ReadonlyMap<string, LayerRule>, method: Method | null,
  input: Float64Array, batch: number, targets: readonly number[], init: Init,
): Map<string, Float64Array> {
  const values = referenceForward(graph, input, batch);
  const rel = new Map<string, Float64Array>();
  rel.set(graph.output, referenceSeed(values.get(graph.output)!, batch, targets, init));
  const accumulate = (name: string, r: Float64Array): void => {
    const prev = rel.get(name);
    rel.set(name, prev ? prev.map((v, i) => v + r[i]) : r);
  };
  for (let k = graph.layers.length - 1; k >= 0; k--) {
    const layer = graph.layers[k];
    const relOut = rel.get(layer.output);
    if (!relOut) continue; // the output does not depend on this layer
    const shapes = layer.inputs.map((name) => valueInfo(graph, name).shape);
    if (layer.kind === 'concat') {
      referenceConcatRelevance(relOut, shapes, batch).forEach((r, i) => accumulate(layer.inputs[i], r));
      continue;
    }
    const rule = composite.get(layer.name) ?? defaultLayerRule(layer, method) ?? { rule: 'pass' };
    if (layer.kind === 'gate') {
      const [relX, relG] = referenceGateRelevance(rule, values.get(layer.inputs[0])!, values.get(layer.inputs[1])!, relOut);
      accumulate(layer.inputs[0], relX);
      // Under LRP nothing reaches the gate's branch: its layers are never visited.
      if (relG) accumulate(layer.inputs[1], relG);
      continue;
    }
    if (layer.kind === 'matmul') {
      const xs = layer.inputs.map((name) => values.get(name)!);
      referenceAttentionRelevance(layer, rule, xs, shapes, values.get(layer.output)!, relOut, batch).forEach((r, i) => accumulate(layer.inputs[i], r));
      continue;
    }
    if (layer.kind === 'add') {
      const xs = layer.inputs.map((name) => values.get(name)!);
      referenceAddRelevance(rule, xs, values.get(layer.output)!, relOut).forEach((r, i) => accumulate(layer.inputs[i], r));
      continue;
    }
    const x = values.get(layer.inputs[0])!;
    accumulate(layer.inputs[0], referenceLayerRelevance(layer, rule, x, shapes[0], values.get(layer.output)!, relOut, batch));
  }
  const atInput = rel.get(graph.input.name) ?? new Float64Array(input.length);
  rel.set(graph.input.name, method === 'gradient-x-input' ? atInput.map((g, i) => g * input[i]) : atInput);
  return rel;
}

/** The relevance (or attribution) at the graph input: N × input shape. */
export function referenceExplain(
  graph: Graph, composite: ReadonlyMap<string, LayerRule>, method: Method | null,
  input: Float64Array, batch: number, targets: readonly number[], init: Init,
): Float64Array {
  return referenceRelevances(graph, composite, method, input, batch, targets, init).get(graph.input.name)!;
}

/**
 * What the z - p shortcut of alpha-beta may cost, relative to ||want||. The GPU's n_j = z_j - p_j
 * carries the float32 rounding of z_j and p_j, |dn_j| <~ c u (|z_j| + p_j) with u = 2^-24, and
 * s_n = R_j / (n_j - eps) moves by R_j dn_j / (|n_j| + eps)^2; the beta term spreads that as
 * beta x_i w-_ij. So ||dR|| <= beta || x (.) |W-| t || with t_j = c u |R_j| (|z_j| + p_j) / (|n_j| + eps)^2.
 * c = 4 for direct convolution: z's rounding to float32 (1/2 ulp) and the GEMM's accumulation of
 * p (a few ulps); Winograd's transforms add their own (test/winograd-relevance.test.ts). The
 * measured errors stay about 10x below this with c = 4; before the epilogue clamped n <= 0, an n below
 * float32's resolution of z flipped its stabilizer and one case here erred by 2e-3 (4x over).
 */
export function shortcutBound(
  layer: ConvLayer | DenseLayer, shape: Shape, x: Float64Array, z: Float32Array, R: Float32Array, batch: number,
  rule: Extract<LinearRule, { rule: 'alpha-beta' }>, want: Float64Array, c: number,
): number {
  const m = linearMap(layer, shape);
  const u = 2 ** -24;
  const dR = new Float64Array(x.length);
  for (let b = 0; b < batch; b++) {
    const pj = new Float64Array(m.outSize);
    const nj = new Float64Array(m.outSize);
    for (let j = 0; j < m.outSize; j++) {
      pj[j] = Math.max(m.bias[j], 0);
      nj[j] = Math.min(m.bias[j], 0);
    }
    for (let t = 0; t < m.inIdx.length; t++) {
      const v = x[b * m.inSize + m.inIdx[t]] * m.weight[m.wIdx[t]];
      if (v > 0) pj[m.outIdx[t]] += v; else nj[m.outIdx[t]] += v;
    }
    const tj = pj.map((p, j) => {
      const o = b * m.outSize + j;
      return (c * u * Math.abs(R[o]) * (Math.abs(z[o]) + p)) / (Math.abs(nj[j]) + rule.stabilizer) ** 2;
    });
    for (let t = 0; t < m.inIdx.length; t++) {
      const w = m.weight[m.wIdx[t]];
      if (w < 0) dR[b * m.inSize + m.inIdx[t]] += rule.beta * Math.abs(x[b * m.inSize + m.inIdx[t]] * w) * tj[m.outIdx[t]];
    }
  }
  let num = 0;
  let den = 0;
  dR.forEach((v, i) => {
    num += v * v;
    den += want[i] * want[i];
  });
  return Math.sqrt(num / den);
}
