// ONNX import: models written by the test writer (test/helpers/onnx-writer.ts) and checked against
// the operators' definitions computed here, plus error handling on bad, truncated and odd files.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConvLayer, Graph, Pads4, Pair } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { importOnnx, OPSET_RANGE, SUPPORTED_OPS, type ImportOptions } from '../src/graph/onnx/import.ts';
import { decodeTensor } from '../src/graph/onnx/model.ts';
import { Rng } from '../src/graph/zoo.ts';
import { randomArray, referenceForward, referenceLayer } from './reference/forward.ts';
import { relL2 } from './helpers/gpu.ts';
import {
  FLOAT, INT64, modelProto, node, ProtoWriter, rawBytes, tensorProto, type AttrValue, type ModelSpec, type NodeSpec, type TensorSpec,
} from './helpers/onnx-writer.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';

const SOURCE = 'unit-test.onnx';
const TOL = 1e-5;
const rng = new Rng(77);

function rand(n: number, std = 1): Float32Array {
  const a = new Float32Array(n);
  rng.fillNormal(a, std);
  return a;
}

function imp(spec: ModelSpec, opts: Partial<ImportOptions> = {}): Graph {
  return importOnnx(modelProto(spec), { source: SOURCE, ...opts });
}

/** The graph's output for `x` on the float64 CPU reference. */
function cpu(graph: Graph, x: Float64Array, batch: number): Float64Array {
  return referenceForward(graph, x, batch).get(graph.output)!;
}

function input(batch: number, shape: readonly number[], seed: number): Float64Array {
  return Float64Array.from(Float32Array.from(randomArray(batch * numel(shape), seed)));
}

/** Captures the error a function throws (failing when it throws none). */
function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(Error);
    return e as Error;
  }
  throw new Error('expected an error, but none was thrown');
}

/** A dense model input [N, F] and output. */
const flatIO = (f: number, out: string, outF: number) => ({
  inputs: [{ name: 'x', dims: ['N', f] }], outputs: [{ name: out, dims: ['N', outF] }],
});

/** Gemm per the ONNX definition, float64: Y = alpha · X · op(B) + beta · C. */
function gemmRef(
  x: Float64Array, n: number, k: number, f: number, b: Float32Array, transB: boolean, alpha: number, beta: number,
  c: Float32Array | null,
): Float64Array {
  const y = new Float64Array(n * f);
  for (let s = 0; s < n; s++) {
    for (let j = 0; j < f; j++) {
      let acc = 0;
      for (let i = 0; i < k; i++) acc += x[s * k + i] * (transB ? b[j * k + i] : b[i * f + j]);
      y[s * f + j] = alpha * acc + (c ? beta * c[c.length === 1 ? 0 : j] : 0);
    }
  }
  return y;
}

/** Conv per the ONNX definition (via the reference layer) from raw ONNX weights, no bias. */
function convRef(
  x: Float64Array, n: number, inShape: [number, number, number], w: Float32Array, outC: number, kernel: Pair,
  o: { stride?: Pair; pads?: Pads4; groups?: number } = {},
): Float64Array {
  const layer: ConvLayer = {
    kind: 'conv', name: 'ref', inputs: ['x'], output: 'y', inChannels: inShape[0], outChannels: outC, kernel,
    stride: o.stride ?? [1, 1], pads: o.pads ?? [0, 0, 0, 0], dilation: [1, 1], groups: o.groups ?? 1,
    weight: w, bias: new Float32Array(outC),
  };
  return referenceLayer(layer, [x], [inShape], n);
}

describe('Gemm', () => {
  const [K, F, N] = [7, 5, 3];
  const variants: { transB: 0 | 1; alpha: number; beta: number; c: 'none' | '[F]' | '[1,F]' | 'scalar' }[] = [
    { transB: 0, alpha: 1, beta: 1, c: 'none' },
    { transB: 1, alpha: 1, beta: 1, c: 'none' },
    { transB: 0, alpha: 1, beta: 1, c: '[F]' },
    { transB: 1, alpha: 1, beta: 1, c: '[F]' },
    { transB: 0, alpha: 0.5, beta: 2, c: '[1,F]' },
    { transB: 1, alpha: -1.5, beta: 0.25, c: '[1,F]' },
    { transB: 1, alpha: 2, beta: -3, c: '[F]' },
    { transB: 0, alpha: 1, beta: 0.5, c: 'scalar' },
  ];
  for (const v of variants) {
    it(`transB ${v.transB}, alpha ${v.alpha}, beta ${v.beta}, C ${v.c}`, () => {
      const b = rand(K * F);
      const c = v.c === 'none' ? null : v.c === 'scalar' ? rand(1) : rand(F);
      const inits: TensorSpec[] = [{ name: 'B', dims: v.transB ? [F, K] : [K, F], data: b }];
      if (c) inits.push({ name: 'C', dims: v.c === '[F]' ? [F] : v.c === '[1,F]' ? [1, F] : [], data: c });
      const attrs = { transB: { i: v.transB }, ...(v.alpha !== 1 ? { alpha: { f: v.alpha } } : {}), ...(v.beta !== 1 ? { beta: { f: v.beta } } : {}) };
      const g = imp({
        ...flatIO(K, 'y', F), initializers: inits,
        nodes: [node('Gemm', c ? ['x', 'B', 'C'] : ['x', 'B'], ['y'], attrs, 'fc')],
      });
      expect(g.layers.map((l) => l.kind)).toEqual(['dense']);
      expect(g.values.get('y')!.shape).toEqual([F]);
      const x = input(N, [K], 1);
      const expected = gemmRef(x, N, K, F, b, v.transB === 1, v.alpha, v.beta, c);
      expect(relL2(cpu(g, x, N), expected)).toBeLessThanOrEqual(TOL);
    });
  }

  it('rejects transA=1 and a C that is not per output', () => {
    const b = rand(K * F);
    const base = { ...flatIO(K, 'y', F), initializers: [{ name: 'B', dims: [K, F], data: b }, { name: 'C', dims: [N, F], data: rand(N * F) }] };
    expect(errorOf(() => imp({ ...base, nodes: [node('Gemm', ['x', 'B'], ['y'], { transA: { i: 1 } }, 'fc')] })).message)
      .toMatch(/unit-test\.onnx: node 'fc' \(Gemm\): transA=1 is not supported/);
    expect(errorOf(() => imp({ ...base, nodes: [node('Gemm', ['x', 'B', 'C'], ['y'], {}, 'fc')] })).message)
      .toMatch(/C of shape \[3, 5\] is not a per-channel bias for 5 channels/);
  });

  it('B stored as float_data (not raw_data) reads the same', () => {
    const b = rand(K * F);
    const g = imp({
      ...flatIO(K, 'y', F), initializers: [{ name: 'B', dims: [F, K], data: b, encoding: 'typed' }],
      nodes: [node('Gemm', ['x', 'B'], ['y'], { transB: { i: 1 } })],
    });
    const x = input(2, [K], 2);
    expect(relL2(cpu(g, x, 2), gemmRef(x, 2, K, F, b, true, 1, 1, null))).toBeLessThanOrEqual(TOL);
  });
});

describe('bias and BatchNormalization folding', () => {
  it('MatMul + Add folds into one dense layer (constant on either side of the Add)', () => {
    const [K, F] = [6, 4];
    for (const order of [['mm', 'bias'], ['bias', 'mm']]) {
      const w = rand(K * F);
      const bias = rand(F);
      const g = imp({
        ...flatIO(K, 'y', F),
        initializers: [{ name: 'W', dims: [K, F], data: w }, { name: 'bias', dims: [F], data: bias }],
        nodes: [node('MatMul', ['x', 'W'], ['mm'], {}, 'matmul'), node('Add', order, ['y'], {}, 'add')],
      });
      expect(g.layers.map((l) => l.kind)).toEqual(['dense']);
      expect(g.output).toBe('y');
      const x = input(3, [K], 3);
      const expected = gemmRef(x, 3, K, F, w, false, 1, 1, bias);
      expect(relL2(cpu(g, x, 3), expected)).toBeLessThanOrEqual(TOL);
      // Without the Add folded, the result would differ by the bias.
      expect(relL2(gemmRef(x, 3, K, F, w, false, 1, 1, null), expected)).toBeGreaterThan(1e-2);
    }
  });

  it('a bias given by a Constant node (value_floats) folds too', () => {
    const [K, F] = [3, 4];
    const w = rand(K * F);
    const bias = [0.5, -1, 2, 0.25];
    const g = imp({
      ...flatIO(K, 'y', F), initializers: [{ name: 'W', dims: [K, F], data: w }],
      nodes: [
        node('Constant', [], ['b'], { value_floats: { floats: bias } }),
        node('MatMul', ['x', 'W'], ['mm']), node('Add', ['mm', 'b'], ['y']),
      ],
    });
    const x = input(2, [K], 4);
    expect(relL2(cpu(g, x, 2), gemmRef(x, 2, K, F, w, false, 1, 1, Float32Array.from(bias)))).toBeLessThanOrEqual(TOL);
  });

  it('an Add of two activations is a skip connection (an add layer), not a bias', () => {
    const [K, F] = [3, 3];
    const w = rand(K * F);
    const g = imp({
      ...flatIO(K, 'y', F), initializers: [{ name: 'W', dims: [K, F], data: w }],
      nodes: [node('MatMul', ['x', 'W'], ['mm']), node('Add', ['mm', 'x'], ['y'], {}, 'residual')],
    });
    expect(g.layers.map((l) => l.kind)).toEqual(['dense', 'add']);
    const x = input(2, [K], 3);
    const expected = gemmRef(x, 2, K, F, w, false, 1, 1, null).map((v, i) => v + x[i]);
    expect(relL2(cpu(g, x, 2), expected)).toBeLessThanOrEqual(TOL);
  });

  it('an Add of activations of different shapes fails naming the node (no broadcasting)', () => {
    const e = errorOf(() => imp({
      ...flatIO(3, 'y', 2), initializers: [{ name: 'W', dims: [3, 2], data: rand(6) }],
      nodes: [node('MatMul', ['x', 'W'], ['mm']), node('Add', ['mm', 'x'], ['y'], {}, 'residual')],
    }));
    expect(e.message).toMatch(/unit-test\.onnx: node 'residual' \(Add\):.*different shapes \[2\] and \[3\]/);
  });

  const convIO = (c: number, h: number, w: number, out: string, outC: number, oh: number, ow: number) => ({
    inputs: [{ name: 'x', dims: ['N', c, h, w] }], outputs: [{ name: out, dims: ['N', outC, oh, ow] }],
  });

  for (const biasDims of [[4, 1, 1], [1, 4, 1, 1]]) {
    it(`Conv + Add of a [${biasDims.join(',')}] bias folds, adding to the Conv's own bias`, () => {
      const w = rand(4 * 2 * 3 * 3);
      const ownBias = rand(4);
      const addBias = rand(4);
      const g = imp({
        ...convIO(2, 6, 5, 'y', 4, 6, 5),
        initializers: [
          { name: 'W', dims: [4, 2, 3, 3], data: w }, { name: 'cb', dims: [4], data: ownBias },
          { name: 'ab', dims: biasDims, data: addBias },
        ],
        nodes: [node('Conv', ['x', 'W', 'cb'], ['c'], { pads: { ints: [1, 1, 1, 1] }, kernel_shape: { ints: [3, 3] } }, 'conv'), node('Add', ['c', 'ab'], ['y'])],
      });
      expect(g.layers.map((l) => l.kind)).toEqual(['conv']);
      const x = input(2, [2, 6, 5], 5);
      const expected = convRef(x, 2, [2, 6, 5], w, 4, [3, 3], { pads: [1, 1, 1, 1] });
      const plane = 30;
      for (let i = 0; i < expected.length; i++) expected[i] += ownBias[Math.floor(i / plane) % 4] + addBias[Math.floor(i / plane) % 4];
      expect(relL2(cpu(g, x, 2), expected)).toBeLessThanOrEqual(TOL);
    });
  }

  it('rejects an Add of a [C] constant after a Conv (numpy would broadcast it along W)', () => {
    const e = errorOf(() => imp({
      ...convIO(2, 4, 4, 'y', 4, 4, 4),
      initializers: [{ name: 'W', dims: [4, 2, 1, 1], data: rand(8) }, { name: 'ab', dims: [4], data: rand(4) }],
      nodes: [node('Conv', ['x', 'W'], ['c'], {}, 'conv'), node('Add', ['c', 'ab'], ['y'], {}, 'add')],
    }));
    expect(e.message).toMatch(/unit-test\.onnx: layer 'add': an Add of a \[4\] constant broadcasts along the last axis \(numpy rules\), and is supported only as the bias of a MatMul/);
  });

  /** BatchNormalization per the ONNX definition, in float64, on an NCHW or NF tensor. */
  function bnRef(z: Float64Array, channels: number, plane: number, p: Record<'gamma' | 'beta' | 'mean' | 'var', Float32Array>, eps: number): Float64Array {
    return z.map((v, i) => {
      const c = Math.floor(i / plane) % channels;
      return ((v - p.mean[c]) / Math.sqrt(p.var[c] + eps)) * p.gamma[c] + p.beta[c];
    });
  }

  function bnParams(c: number) {
    const varr = rand(c);
    for (let i = 0; i < c; i++) varr[i] = 0.2 + varr[i] * varr[i];
    return { gamma: rand(c), beta: rand(c), mean: rand(c, 0.5), var: varr };
  }

  const bnInits = (p: ReturnType<typeof bnParams>, c: number): TensorSpec[] => [
    { name: 'gamma', dims: [c], data: p.gamma }, { name: 'beta', dims: [c], data: p.beta },
    { name: 'mean', dims: [c], data: p.mean }, { name: 'var', dims: [c], data: p.var },
  ];

  for (const eps of [undefined, 1e-3]) {
    it(`Conv (stride 2, bias) + BatchNormalization (epsilon ${eps ?? 'default 1e-5'}) folds and matches the unfused ops`, () => {
      const C = 5;
      const w = rand(C * 3 * 3 * 3);
      const cb = rand(C);
      const p = bnParams(C);
      const g = imp({
        ...convIO(3, 9, 8, 'y', C, 5, 4),
        initializers: [{ name: 'W', dims: [C, 3, 3, 3], data: w }, { name: 'cb', dims: [C], data: cb }, ...bnInits(p, C)],
        nodes: [
          node('Conv', ['x', 'W', 'cb'], ['c'], { strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] } }, 'conv'),
          node('BatchNormalization', ['c', 'gamma', 'beta', 'mean', 'var'], ['y'], eps === undefined ? {} : { epsilon: { f: eps } }, 'bn'),
        ],
      });
      expect(g.layers.map((l) => l.kind)).toEqual(['conv']);
      expect(g.output).toBe('y');
      const x = input(3, [3, 9, 8], 6);
      const z = convRef(x, 3, [3, 9, 8], w, C, [3, 3], { stride: [2, 2], pads: [1, 1, 1, 1] });
      for (let i = 0; i < z.length; i++) z[i] += cb[Math.floor(i / 20) % C];
      const expected = bnRef(z, C, 20, p, eps ?? 1e-5);
      expect(relL2(cpu(g, x, 3), expected)).toBeLessThanOrEqual(TOL);
      expect(relL2(z, expected)).toBeGreaterThan(0.1); // the BN matters
    });
  }

  it('Conv → Add → BatchNormalization → Relu folds the whole chain into the conv', () => {
    const C = 3;
    const w = rand(C * 2 * 2 * 2);
    const ab = rand(C);
    const p = bnParams(C);
    const g = imp({
      ...convIO(2, 5, 5, 'y', C, 4, 4),
      initializers: [{ name: 'W', dims: [C, 2, 2, 2], data: w }, { name: 'ab', dims: [1, C, 1, 1], data: ab }, ...bnInits(p, C)],
      nodes: [
        node('Conv', ['x', 'W'], ['c']), node('Add', ['c', 'ab'], ['a']),
        node('BatchNormalization', ['a', 'gamma', 'beta', 'mean', 'var'], ['bn']), node('Relu', ['bn'], ['y']),
      ],
    });
    expect(g.layers.map((l) => l.kind)).toEqual(['conv', 'relu']);
    const x = input(2, [2, 5, 5], 7);
    const z = convRef(x, 2, [2, 5, 5], w, C, [2, 2]);
    for (let i = 0; i < z.length; i++) z[i] += ab[Math.floor(i / 16) % C];
    const expected = bnRef(z, C, 16, p, 1e-5).map((v) => Math.max(v, 0));
    expect(relL2(cpu(g, x, 2), expected)).toBeLessThanOrEqual(TOL);
  });

  it('Gemm + BatchNormalization folds per output feature', () => {
    const [K, F] = [6, 4];
    const b = rand(F * K);
    const c = rand(F);
    const p = bnParams(F);
    const g = imp({
      ...flatIO(K, 'y', F),
      initializers: [{ name: 'B', dims: [F, K], data: b }, { name: 'C', dims: [F], data: c }, ...bnInits(p, F)],
      nodes: [node('Gemm', ['x', 'B', 'C'], ['z'], { transB: { i: 1 } }), node('BatchNormalization', ['z', 'gamma', 'beta', 'mean', 'var'], ['y'])],
    });
    expect(g.layers.map((l) => l.kind)).toEqual(['dense']);
    const x = input(3, [K], 8);
    const expected = bnRef(gemmRef(x, 3, K, F, b, true, 1, 1, c), F, 1, p, 1e-5);
    expect(relL2(cpu(g, x, 3), expected)).toBeLessThanOrEqual(TOL);
  });

  it('a BatchNormalization that cannot fold (after a Relu, or after a conv with two consumers) stays a layer', () => {
    const C = 2;
    const p = bnParams(C);
    const w = rand(C * C);
    const base = {
      ...convIO(C, 3, 3, 'y', C, 3, 3),
      initializers: [{ name: 'W', dims: [C, C, 1, 1], data: w }, ...bnInits(p, C)],
    };
    const x = input(2, [C, 3, 3], 9);
    const afterRelu = imp({
      ...base,
      nodes: [node('Relu', ['x'], ['r']), node('BatchNormalization', ['r', 'gamma', 'beta', 'mean', 'var'], ['y'], {}, 'bn')],
    });
    expect(afterRelu.layers.map((l) => l.kind)).toEqual(['relu', 'batchnorm']);
    expect(relL2(cpu(afterRelu, x, 2), bnRef(x.map((v) => Math.max(v, 0)), C, 9, p, 1e-5))).toBeLessThanOrEqual(TOL);
    const shared = imp({
      ...base,
      outputs: [{ name: 'y', dims: ['N', 2 * C, 3, 3] }],
      nodes: [
        node('Conv', ['x', 'W'], ['c']), node('BatchNormalization', ['c', 'gamma', 'beta', 'mean', 'var'], ['b'], {}, 'bn'),
        node('Concat', ['b', 'c'], ['y'], { axis: { i: 1 } }),
      ],
    });
    expect(shared.layers.map((l) => l.kind)).toEqual(['conv', 'batchnorm', 'concat']);
    const c = convRef(x, 2, [C, 3, 3], w, C, [1, 1]);
    const b = bnRef(c, C, 9, p, 1e-5);
    const expected = new Float64Array(2 * 2 * C * 9);
    for (let n = 0; n < 2; n++) {
      expected.set(b.subarray(n * C * 9, (n + 1) * C * 9), n * 2 * C * 9);
      expected.set(c.subarray(n * C * 9, (n + 1) * C * 9), n * 2 * C * 9 + C * 9);
    }
    expect(relL2(cpu(shared, x, 2), expected)).toBeLessThanOrEqual(TOL);
  });
});

describe('residual-network operators', () => {
  const mapIO = (c: number, h: number, w: number, out: string, dims: (number | string)[] = ['N', c, h, w]) => ({
    inputs: [{ name: 'x', dims: ['N', c, h, w] }], outputs: [{ name: out, dims }],
  });
  const layerOf = (g: Graph, kind: string) => g.layers.find((l) => l.kind === kind)!;

  for (const opset of [7, 11, 13]) {
    it(`Clip at opset ${opset}: bounds from ${opset < 11 ? 'attributes' : 'constant inputs'}, an absent one unbounded`, () => {
      const clip = opset < 11
        ? node('Clip', ['x'], ['y'], { min: { f: 0 }, max: { f: 6 } }, 'relu6')
        : node('Clip', ['x', 'lo', 'hi'], ['y'], {}, 'relu6');
      const onlyMax = opset < 11 ? node('Clip', ['y'], ['z'], { max: { f: 4 } }) : node('Clip', ['y', '', 'hi4'], ['z']);
      const g = imp({
        ...mapIO(2, 3, 3, 'z'), opset,
        initializers: opset < 11 ? [] : [{ name: 'lo', dims: [], data: [0] }, { name: 'hi', dims: [], data: [6] }, { name: 'hi4', dims: [], data: [4] }],
        nodes: [clip, onlyMax],
      });
      expect(g.layers.map((l) => [l.kind, (l as { min?: number }).min, (l as { max?: number }).max])).toEqual([['clip', 0, 6], ['clip', -Infinity, 4]]);
      const x = input(2, [2, 3, 3], 31).map((v) => v * 8);
      expect(relL2(cpu(g, x, 2), x.map((v) => Math.min(Math.max(v, 0), 4)))).toBe(0);
    });
  }

  it('LeakyRelu (alpha default 0.01, or given), Sum of two activations', () => {
    const g = imp({
      ...mapIO(2, 2, 2, 's'),
      nodes: [node('LeakyRelu', ['x'], ['a']), node('LeakyRelu', ['x'], ['b'], { alpha: { f: 0.3 } }), node('Sum', ['a', 'b'], ['s'])],
    });
    expect(g.layers.map((l) => l.kind)).toEqual(['leakyrelu', 'leakyrelu', 'add']);
    const x = input(1, [2, 2, 2], 32);
    const want = x.map((v) => (v > 0 ? 2 * v : 0.01 * v + Math.fround(0.3) * v));
    expect(relL2(cpu(g, x, 1), want)).toBeLessThanOrEqual(1e-12);
  });

  const padNode = (opset: number, pads: number[], extra: { value?: number; mode?: string; axes?: number[] } = {}) => {
    const attrs: Record<string, AttrValue> = extra.mode ? { mode: { s: extra.mode } } : {};
    if (opset < 11) {
      return { nodes: [node('Pad', ['x'], ['y'], { ...attrs, pads: { ints: pads }, ...(extra.value !== undefined ? { value: { f: extra.value } } : {}) }, 'pad')], inits: [] };
    }
    const inputs = ['x', 'pads', extra.value !== undefined || extra.axes ? 'v' : '', ...(extra.axes ? ['axes'] : [])];
    const inits: TensorSpec[] = [{ name: 'pads', dims: [pads.length], dataType: INT64, data: pads }];
    if (inputs[2]) inits.push({ name: 'v', dims: [], data: [extra.value ?? 0] });
    if (extra.axes) inits.push({ name: 'axes', dims: [extra.axes.length], dataType: INT64, data: extra.axes });
    return { nodes: [node('Pad', inputs.filter((i, k) => i !== '' || k < 2), ['y'], attrs, 'pad')], inits };
  };

  for (const [opset, pads, axes] of [[7, [0, 0, 1, 2, 0, 0, 3, 0]], [13, [0, 0, 1, 2, 0, 0, 3, 0]], [18, [1, 2, 3, 0], [2, -1]]] as const) {
    it(`Pad at opset ${opset}${axes ? ' with axes' : ''}: zeros on H and W (top 1, left 2, bottom 3)`, () => {
      const { nodes, inits } = padNode(opset, [...pads], axes ? { axes: [...axes] } : {});
      const g = imp({ ...mapIO(2, 3, 4, 'y'), opset, initializers: inits, nodes });
      expect(layerOf(g, 'pad')).toMatchObject({ pads: [1, 2, 3, 0] });
      expect(g.values.get('y')!.shape).toEqual([2, 7, 6]);
    });
  }

  it('Pad: refuses reflect mode, a non-zero value, and padding the channels, naming the node', () => {
    expect(errorOf(() => imp({ ...mapIO(2, 3, 4, 'y'), ...((p) => ({ initializers: p.inits, nodes: p.nodes }))(padNode(13, [0, 0, 1, 1, 0, 0, 1, 1], { mode: 'reflect' })) })).message)
      .toMatch(/node 'pad' \(Pad\): mode 'reflect' is not supported/);
    expect(errorOf(() => imp({ ...mapIO(2, 3, 4, 'y'), ...((p) => ({ initializers: p.inits, nodes: p.nodes }))(padNode(13, [0, 0, 1, 1, 0, 0, 1, 1], { value: 1 })) })).message)
      .toMatch(/padding with 1 is not supported \(only zeros\)/);
    expect(errorOf(() => imp({ ...mapIO(2, 3, 4, 'y'), ...((p) => ({ initializers: p.inits, nodes: p.nodes }))(padNode(13, [0, 1, 0, 0, 0, 0, 0, 0])) })).message)
      .toMatch(/touch the batch or channel axis/);
  });

  it('a zero Pad before a Conv is merged into its padding by the canonizer', () => {
    const w = rand(3 * 2 * 9);
    const { nodes, inits } = padNode(13, [0, 0, 1, 0, 0, 0, 0, 1]);
    const g = imp({
      ...mapIO(2, 5, 5, 'c'), initializers: [...inits, { name: 'W', dims: [3, 2, 3, 3], data: w }],
      nodes: [...nodes, node('Conv', ['y', 'W'], ['c'], { pads: { ints: [1, 1, 1, 1] } })],
    });
    expect(g.layers.map((l) => l.kind)).toEqual(['conv']);
    expect((g.layers[0] as ConvLayer).pads).toEqual([2, 1, 1, 2]);
    const x = input(2, [2, 5, 5], 33);
    expect(relL2(cpu(g, x, 2), convRef(x, 2, [2, 5, 5], w, 3, [3, 3], { pads: [2, 1, 1, 2] }))).toBeLessThanOrEqual(TOL);
  });

  it('BatchNormalization: training_mode=1 and a read training output are refused', () => {
    const c = 2;
    const inits: TensorSpec[] = ['s', 'b', 'm', 'v'].map((name) => ({ name, dims: [c], data: [1, 1] }));
    expect(errorOf(() => imp({
      ...mapIO(c, 2, 2, 'y'), opset: 15, initializers: inits,
      nodes: [node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y'], { training_mode: { i: 1 } }, 'bn')],
    })).message).toMatch(/node 'bn' \(BatchNormalization\): training_mode=1 is not supported/);
    expect(errorOf(() => imp({
      ...mapIO(c, 2, 2, 'y'), initializers: inits,
      nodes: [node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], ['y', 'rm'], {}, 'bn'), node('Relu', ['rm'], ['r'])],
    })).message).toMatch(/the training statistics output is not supported/);
  });

  it("shape arithmetic folds at import: Shape → Gather → Unsqueeze → Concat → Reshape keeps the batch (x.view(x.size(0), -1))", () => {
    const g = imp({
      ...mapIO(3, 2, 2, 'y', ['N', 12]),
      initializers: [{ name: 'zero', dims: [], dataType: INT64, data: [0] }, { name: 'minus1', dims: [1], dataType: INT64, data: [-1] }],
      nodes: [
        node('Shape', ['x'], ['s']), node('Gather', ['s', 'zero'], ['n'], { axis: { i: 0 } }),
        node('Unsqueeze', ['n'], ['n1'], { axes: { ints: [0] } }), node('Concat', ['n1', 'minus1'], ['shape'], { axis: { i: 0 } }),
        node('Reshape', ['x', 'shape'], ['y'], {}, 'view'),
      ],
      opset: 11,
    });
    expect(g.layers.map((l) => [l.name, l.kind])).toEqual([['view', 'flatten']]);
    expect(g.values.get('y')!.shape).toEqual([12]);
  });

  it('constant arithmetic folds: a weight scaled and sliced by Mul and Slice before its MatMul', () => {
    const w = rand(4 * 6);
    const g = imp({
      ...flatIO(4, 'y', 3),
      initializers: [
        { name: 'W', dims: [4, 6], data: w }, { name: 'two', dims: [], data: [2] },
        { name: 'st', dims: [1], dataType: INT64, data: [0] }, { name: 'en', dims: [1], dataType: INT64, data: [3] },
        { name: 'ax', dims: [1], dataType: INT64, data: [1] },
      ],
      nodes: [node('Mul', ['W', 'two'], ['W2']), node('Slice', ['W2', 'st', 'en', 'ax'], ['W3']), node('MatMul', ['x', 'W3'], ['y'])],
    });
    expect(g.layers.map((l) => l.kind)).toEqual(['dense']);
    const x = input(2, [4], 34);
    const sliced = Float32Array.from({ length: 12 }, (_, i) => 2 * w[Math.floor(i / 3) * 6 + (i % 3)]);
    expect(relL2(cpu(g, x, 2), gemmRef(x, 2, 4, 3, sliced, false, 1, 1, null))).toBeLessThanOrEqual(TOL);
  });
});

describe('modern-CNN operators', () => {
  const mapIO = (c: number, h: number, w: number, out: string) => ({
    inputs: [{ name: 'x', dims: ['N', c, h, w] }], outputs: [{ name: out, dims: ['N', c, h, w] }],
  });
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const hsig = (v: number, a: number, b: number) => Math.max(0, Math.min(1, a * v + b));

  it('Sigmoid, Tanh, HardSigmoid (ONNX defaults alpha 0.2, beta 0.5, or given), HardSwish (opset 14)', () => {
    const g = imp({
      ...mapIO(2, 3, 3, 'e'), opset: 14,
      nodes: [
        node('Sigmoid', ['x'], ['a']), node('Tanh', ['a'], ['b']), node('HardSigmoid', ['b'], ['c']),
        node('HardSigmoid', ['c'], ['d'], { alpha: { f: 0.5 }, beta: { f: 0.25 } }), node('HardSwish', ['d'], ['e']),
      ],
    });
    expect(g.layers.map((l) => l.kind)).toEqual(['sigmoid', 'tanh', 'hardsigmoid', 'hardsigmoid', 'hardswish']);
    expect(g.layers[2]).toMatchObject({ alpha: 0.2, beta: 0.5 });
    expect(g.layers[4]).toMatchObject({ alpha: 1 / 6, beta: 0.5 });
    const x = input(2, [2, 3, 3], 41).map((v) => 4 * v);
    const d = x.map((v) => hsig(hsig(Math.tanh(sig(v)), 0.2, 0.5), 0.5, 0.25));
    expect(relL2(cpu(g, x, 2), d.map((v) => v * hsig(v, 1 / 6, 0.5)))).toBeLessThanOrEqual(1e-12);
  });

  it('SiLU and HardSwish as exporters write them fuse into one layer; an SE gate Mul(g, x) is a gate with x first', () => {
    const w = rand(2 * 2);
    const g = imp({
      ...mapIO(2, 3, 4, 'se'),
      initializers: [{ name: 'W', dims: [2, 2, 1, 1], data: w }],
      nodes: [
        node('Sigmoid', ['x'], ['s']), node('Mul', ['x', 's'], ['silu']),
        node('HardSigmoid', ['silu'], ['h'], { alpha: { f: 1 / 6 } }), node('Mul', ['h', 'silu'], ['hs']),
        node('GlobalAveragePool', ['hs'], ['p']), node('Conv', ['p', 'W'], ['c']), node('Sigmoid', ['c'], ['gate']),
        node('Mul', ['gate', 'hs'], ['se'], {}, 'excite'),
      ],
    });
    expect(g.layers.map((l) => l.kind)).toEqual(['silu', 'hardswish', 'globalavgpool', 'conv', 'sigmoid', 'gate']);
    expect(g.layers.at(-1)).toMatchObject({ name: 'excite', inputs: ['hs', 'gate'] });
    const x = input(2, [2, 3, 4], 42);
    const hs = x.map((v) => v * sig(v)).map((v) => v * hsig(v, Math.fround(1 / 6), 0.5));
    const want = new Float64Array(hs.length);
    for (let n = 0; n < 2; n++) {
      const mean = [0, 1].map((c) => hs.slice((n * 2 + c) * 12, (n * 2 + c + 1) * 12).reduce((a, b) => a + b, 0) / 12);
      for (let c = 0; c < 2; c++) {
        const gate = sig(w[c * 2] * mean[0] + w[c * 2 + 1] * mean[1]);
        for (let i = 0; i < 12; i++) want[(n * 2 + c) * 12 + i] = hs[(n * 2 + c) * 12 + i] * gate;
      }
    }
    expect(relL2(cpu(g, x, 2), want)).toBeLessThanOrEqual(1e-12);
  });

  it('ReduceMean over H and W is a global average pool (flattened unless keepdims); other axes are refused naming the node', () => {
    const spatial = (keepdims: number, out: (string | number)[]) => imp({
      inputs: [{ name: 'x', dims: ['N', 2, 3, 4] }], outputs: [{ name: 'y', dims: out }],
      nodes: [node('ReduceMean', ['x'], ['y'], { axes: { ints: [3, -2] }, keepdims: { i: keepdims } })],
    });
    const x = input(2, [2, 3, 4], 44);
    const means = Float64Array.from({ length: 4 }, (_, k) => x.slice(k * 12, (k + 1) * 12).reduce((a, b) => a + b, 0) / 12);
    const flat = spatial(0, ['N', 2]);
    expect(flat.layers.map((l) => l.kind)).toEqual(['globalavgpool', 'flatten']);
    expect(relL2(cpu(flat, x, 2), means)).toBeLessThanOrEqual(1e-12);
    const kept = spatial(1, ['N', 2, 1, 1]);
    expect(kept.layers.map((l) => l.kind)).toEqual(['globalavgpool']);
    expect(relL2(cpu(kept, x, 2), means)).toBeLessThanOrEqual(1e-12);
    const overChannels = errorOf(() => imp({
      inputs: [{ name: 'x', dims: ['N', 2, 3, 4] }], outputs: [{ name: 'y', dims: ['N', 1, 3, 4] }],
      nodes: [node('ReduceMean', ['x'], ['y'], { axes: { ints: [1] } }, 'chanmean')],
    })).message;
    expect(overChannels).toMatch(/chanmean/);
    expect(overChannels).toMatch(/mean over axes \[1\].*only over H and W/);
  });

  it('Mul by a constant is a scale (a scalar, or one value per channel), layer scale', () => {
    const g = imp({
      ...mapIO(3, 2, 2, 'b'),
      initializers: [{ name: 'k', dims: [], data: [-1.5] }, { name: 'gamma', dims: [3, 1, 1], data: [0.5, 2, -1] }],
      nodes: [node('Mul', ['k', 'x'], ['a']), node('Mul', ['a', 'gamma'], ['b'])],
    });
    expect(g.layers.map((l) => [l.kind, Array.from((l as { scale: Float32Array }).scale)])).toEqual([['scale', [-1.5]], ['scale', [0.5, 2, -1]]]);
    const x = input(2, [3, 2, 2], 43);
    expect(relL2(cpu(g, x, 2), x.map((v, i) => -1.5 * v * [0.5, 2, -1][Math.floor(i / 4) % 3]))).toBeLessThanOrEqual(1e-12);
  });

  it('refuses two independent factors, a value times itself, and a gate of another shape, naming the node', () => {
    const two = (nodes: NodeSpec[]) => errorOf(() => imp({ ...mapIO(2, 3, 3, 'y'), nodes })).message;
    expect(two([node('Relu', ['x'], ['a']), node('Sigmoid', ['x'], ['b']), node('Mul', ['a', 'b'], ['y'], {}, 'm')]))
      .toMatch(/node 'm' \(Mul\): multiplies 'a' by 'b', neither computed from the other/);
    expect(two([node('Mul', ['x', 'x'], ['y'], {}, 'sq')])).toMatch(/node 'sq' \(Mul\): multiplies 'x' by itself/);
    expect(errorOf(() => imp({
      ...mapIO(2, 3, 3, 'y'),
      initializers: [{ name: 'shape', dims: [2], dataType: INT64, data: [0, -1] }],
      nodes: [node('Reshape', ['x', 'shape'], ['f']), node('Sigmoid', ['f'], ['s']), node('Mul', ['x', 's'], ['y'], {}, 'm')],
    })).message).toMatch(/layer 'm' \(gate\): gates \[2, 3, 3\] by \[18\]/);
  });
});

describe('Reshape as flatten', () => {
  const shape = [2, 3, 4];
  const F = 24;
  const O = 3;
  const shapeSources: [string, (t: number[]) => { inits: TensorSpec[]; nodes: NodeSpec[] }][] = [
    ['int64 raw_data initializer', (t) => ({ inits: [{ name: 'shape', dims: [t.length], dataType: INT64, data: t }], nodes: [] })],
    ['int64_data initializer (negative varints)', (t) => ({ inits: [{ name: 'shape', dims: [t.length], dataType: INT64, data: t, encoding: 'typed' }], nodes: [] })],
    ['Constant node with a tensor attribute', (t) => ({
      inits: [], nodes: [node('Constant', [], ['shape'], { value: { t: { name: 'v', dims: [t.length], dataType: INT64, data: t } } })],
    })],
  ];
  for (const target of [[1, -1], [0, -1], [-1, F], [1, F]]) {
    for (const [how, make] of shapeSources) {
      it(`[${target.join(', ')}] from an ${how}`, () => {
        const w = rand(O * F);
        const s = make(target);
        const g = imp({
          inputs: [{ name: 'x', dims: [1, ...shape] }], outputs: [{ name: 'y', dims: [1, O] }],
          initializers: [...s.inits, { name: 'W', dims: [O, F], data: w }],
          nodes: [...s.nodes, node('Reshape', ['x', 'shape'], ['flat'], {}, 'reshape'), node('Gemm', ['flat', 'W'], ['y'], { transB: { i: 1 } })],
        });
        expect(g.layers.map((l) => l.kind)).toEqual(['flatten', 'dense']);
        expect(g.values.get('flat')!.shape).toEqual([F]);
        const x = input(3, shape, 9);
        expect(relL2(cpu(g, x, 3), gemmRef(x, 3, F, O, w, true, 1, 1, null))).toBeLessThanOrEqual(TOL);
      });
    }
  }

  for (const target of [[2, 2, 12], [-1, -1], [1, 23], [6, 4]]) {
    it(`rejects [${target.join(', ')}], naming the node and both shapes`, () => {
      const e = errorOf(() => imp({
        inputs: [{ name: 'x', dims: [1, ...shape] }], outputs: [{ name: 'y' }],
        initializers: [{ name: 'shape', dims: [target.length], dataType: INT64, data: target }],
        nodes: [node('Reshape', ['x', 'shape'], ['y'], {}, 'reshape')],
      }));
      expect(e.message).toContain(`unit-test.onnx: node 'reshape' (Reshape): reshape of N×[2, 3, 4] to [${target.join(', ')}] is not supported`);
    });
  }
});

describe('auto_pad', () => {
  // Input 7×8, kernel 4×3, stride 2: output ceil(7/2)=4 × ceil(8/2)=4. Total padding: rows
  // (4-1)·2+4-7 = 3, cols (4-1)·2+3-8 = 1. SAME_UPPER puts the odd one at the end, SAME_LOWER at the start.
  const cases: [string, Pads4, [number, number]][] = [
    ['SAME_UPPER', [1, 0, 2, 1], [4, 4]],
    ['SAME_LOWER', [2, 1, 1, 0], [4, 4]],
    ['VALID', [0, 0, 0, 0], [2, 3]],
  ];
  for (const [mode, pads, [oh, ow]] of cases) {
    it(`${mode} on Conv: pads [${pads.join(', ')}], output ${oh}×${ow}, numerically`, () => {
      const w = rand(2 * 3 * 4 * 3);
      const g = imp({
        inputs: [{ name: 'x', dims: ['N', 3, 7, 8] }], outputs: [{ name: 'y' }],
        initializers: [{ name: 'W', dims: [2, 3, 4, 3], data: w }],
        nodes: [node('Conv', ['x', 'W'], ['y'], { auto_pad: { s: mode }, strides: { ints: [2, 2] } }, 'conv')],
      });
      const conv = g.layers[0] as ConvLayer;
      expect(conv.pads).toEqual(pads);
      expect(g.values.get('y')!.shape).toEqual([2, oh, ow]);
      const x = input(2, [3, 7, 8], 10);
      expect(relL2(cpu(g, x, 2), convRef(x, 2, [3, 7, 8], w, 2, [4, 3], { stride: [2, 2], pads }))).toBeLessThanOrEqual(TOL);
    });

    it(`${mode} on MaxPool 3×3 stride 2 over 7×8`, () => {
      const g = imp({
        inputs: [{ name: 'x', dims: ['N', 2, 7, 8] }], outputs: [{ name: 'y' }],
        nodes: [node('MaxPool', ['x'], ['y'], { auto_pad: { s: mode }, kernel_shape: { ints: [3, 3] }, strides: { ints: [2, 2] } })],
      });
      // rows: out 4, total (4-1)·2+3-7 = 2; cols: out 4, total (4-1)·2+3-8 = 1.
      const expected: Pads4 = mode === 'SAME_UPPER' ? [1, 0, 1, 1] : mode === 'SAME_LOWER' ? [1, 1, 1, 0] : [0, 0, 0, 0];
      const layer = g.layers[0];
      expect(layer.kind).toBe('maxpool');
      if (layer.kind === 'maxpool') expect(layer.pads).toEqual(expected);
      expect(g.values.get('y')!.shape).toEqual(mode === 'VALID' ? [2, 3, 3] : [2, 4, 4]);
    });
  }

  it('SAME_UPPER with stride 1 and dilation 2 pads the dilated kernel', () => {
    const g = imp({
      inputs: [{ name: 'x', dims: ['N', 1, 6, 6] }], outputs: [{ name: 'y' }],
      initializers: [{ name: 'W', dims: [1, 1, 3, 2], data: rand(6) }],
      nodes: [node('Conv', ['x', 'W'], ['y'], { auto_pad: { s: 'SAME_UPPER' }, dilations: { ints: [2, 2] } })],
    });
    // Effective kernel 5×3: total padding 4 rows, 2 cols.
    expect((g.layers[0] as ConvLayer).pads).toEqual([2, 1, 2, 1]);
    expect(g.values.get('y')!.shape).toEqual([1, 6, 6]);
  });

  it('rejects an unknown auto_pad', () => {
    const e = errorOf(() => imp({
      inputs: [{ name: 'x', dims: ['N', 1, 4, 4] }], outputs: [{ name: 'y' }],
      nodes: [node('MaxPool', ['x'], ['y'], { auto_pad: { s: 'SAME_MIDDLE' }, kernel_shape: { ints: [2, 2] } }, 'pool')],
    }));
    expect(e.message).toMatch(/unit-test\.onnx: node 'pool' \(MaxPool\): unknown auto_pad 'SAME_MIDDLE'/);
  });
});

describe('outputs and Softmax', () => {
  const [K, F] = [4, 3];
  const softmaxModel = (extraOutputs: string[] = []): ModelSpec => ({
    inputs: [{ name: 'x', dims: ['N', K] }],
    outputs: [{ name: 'prob', dims: ['N', F] }, ...extraOutputs.map((name) => ({ name }))],
    initializers: [{ name: 'B', dims: [K, F], data: rand(K * F) }],
    nodes: [
      node('Gemm', ['x', 'B'], ['logits'], {}, 'fc'), node('Relu', ['x'], ['hidden'], {}, 'relu'),
      node('Softmax', ['logits'], ['prob'], { axis: { i: 1 } }, 'softmax'),
    ],
  });

  it('strips a trailing Softmax: the output is the logits', () => {
    const g = imp(softmaxModel());
    expect(g.output).toBe('logits');
    expect(g.outputs).toEqual(['logits']);
    expect(g.layers.map((l) => l.name)).toEqual(['fc', 'relu']);
  });

  it("output: 'prob' resolves to the logits; an internal value name works too", () => {
    expect(imp(softmaxModel(), { output: 'prob' }).output).toBe('logits');
    expect(imp(softmaxModel(), { output: 'logits' }).output).toBe('logits');
    expect(imp(softmaxModel(['hidden']), { output: 'hidden' }).output).toBe('hidden');
  });

  it('an unknown output name fails listing the outputs', () => {
    const e = errorOf(() => imp(softmaxModel(['hidden']), { output: 'nope' }));
    expect(e.message).toBe("unit-test.onnx: no output named 'nope' (outputs: prob, hidden)");
  });

  it('a Softmax inside the network runs over the last axis; over another axis it fails', () => {
    const spec = softmaxModel();
    const inner = (axis: number) => imp({ ...spec, nodes: [...spec.nodes.slice(0, 2), node('Softmax', ['logits'], ['p'], { axis: { i: axis } }, 'sm'), node('Relu', ['p'], ['prob'])] });
    expect(inner(-1).layers.map((l) => l.kind)).toEqual(['dense', 'relu', 'softmax', 'relu']);
    const e = errorOf(() => inner(0));
    expect(e.message).toMatch(/^unit-test\.onnx: layer 'sm': a Softmax inside the network is supported only over the last axis/);
  });

  it('a declared output no node produces fails naming the source', () => {
    const e = errorOf(() => imp({
      inputs: [{ name: 'x', dims: ['N', K] }], outputs: [{ name: 'ghost' }],
      nodes: [node('Relu', ['x'], ['y'])],
    }));
    expect(e.message).toContain(SOURCE);
    expect(e.message).toContain('ghost');
  });
});

describe('unsupported models', () => {
  it('an unsupported op names the op, the node and the supported list', () => {
    const e = errorOf(() => imp({
      inputs: [{ name: 'x', dims: ['N', 3] }], outputs: [{ name: 'y' }],
      nodes: [node('Relu', ['x'], ['r']), node('Hardmax', ['r'], ['y'], {}, 'pick')],
    }));
    expect(e.message).toContain("unit-test.onnx: node 'pick' (Hardmax): unsupported operator Hardmax (node 2 of 2, reading 'r'); supported: ");
    for (const op of SUPPORTED_OPS) expect(e.message).toContain(op);
  });

  it('an unnamed node is named by its op and output; a custom domain is named', () => {
    const e = errorOf(() => imp({
      inputs: [{ name: 'x', dims: ['N', 3] }], outputs: [{ name: 'y' }],
      nodes: [{ op: 'FusedGemm', domain: 'com.microsoft', inputs: ['x'], outputs: ['y'] }],
      extraOpsets: { 'com.microsoft': 1 },
    }));
    expect(e.message).toContain("node 'FusedGemm(y)' (FusedGemm): unsupported operator com.microsoft.FusedGemm");
  });

  const relu = (opset: number): ModelSpec => ({
    inputs: [{ name: 'x', dims: ['N', 3] }], outputs: [{ name: 'y' }], nodes: [node('Relu', ['x'], ['y'])], opset,
  });
  for (const opset of [6, 22, 1]) {
    it(`opset ${opset} is rejected naming the supported range`, () => {
      expect(errorOf(() => imp(relu(opset))).message)
        .toBe(`unit-test.onnx: ONNX opset ${opset} is not supported (supported: ${OPSET_RANGE[0]} to ${OPSET_RANGE[1]})`);
    });
  }
  it('the range ends, opsets 7 and 21, are accepted', () => {
    expect(OPSET_RANGE).toEqual([7, 21]);
    for (const opset of [7, 21]) expect(imp(relu(opset)).layers.map((l) => l.kind)).toEqual(['relu']);
  });

  it('an input with symbolic per-sample dims fails', () => {
    const e = errorOf(() => imp({ inputs: [{ name: 'x', dims: ['N', 3, 'H', 'W'] }], outputs: [{ name: 'y' }], nodes: [node('Relu', ['x'], ['y'])] }));
    expect(e.message).toMatch(/unit-test\.onnx: input 'x' has symbolic or unknown dimensions/);
  });
});

describe('malformed bytes', () => {
  const expectSourcedError = (bytes: Uint8Array, source: string): Error => {
    const e = errorOf(() => importOnnx(bytes, { source }));
    expect(e.message.startsWith(`${source}: `), e.message).toBe(true);
    return e;
  };

  it('random garbage fails with an Error naming the source', () => {
    const r = new Rng(5);
    for (let i = 0; i < 40; i++) {
      const bytes = Uint8Array.from({ length: 1 + (r.nextU32() % 2000) }, () => r.nextU32() & 0xff);
      expectSourcedError(bytes, `garbage-${i}.onnx`);
    }
    expect(expectSourcedError(new Uint8Array(0), 'empty.onnx').message).toMatch(/no graph/);
  });

  it('a valid model followed by garbage, or with a huge length prefix, fails cleanly', () => {
    const good = modelProto({ inputs: [{ name: 'x', dims: ['N', 3] }], outputs: [{ name: 'y' }], nodes: [node('Relu', ['x'], ['y'])] });
    const tail = Uint8Array.of(0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f); // field 7, length 2^32 - 1
    const bytes = new Uint8Array(good.length + tail.length);
    bytes.set(good);
    bytes.set(tail, good.length);
    expect(expectSourcedError(bytes, 'tail.onnx').message).toMatch(/truncated|runs past/);
    // An over-long varint.
    expect(expectSourcedError(Uint8Array.from([0x08, ...new Array(11).fill(0xff)]), 'varint.onnx').message).toMatch(/varint/);
  });

  const MNIST = 'models/mnist-opt.onnx';
  const haveMnist = haveShared('onnx-import.test', MNIST);
  for (const frac of [0.1, 0.5, 0.99]) {
    it.skipIf(!haveMnist)(`mnist-opt.onnx truncated to ${frac * 100}% fails naming the source`, () => {
      const full = new Uint8Array(readFileSync(sharedPath(MNIST)));
      const cut = full.subarray(0, Math.floor(full.length * frac));
      expect(expectSourcedError(cut, 'mnist-cut.onnx').message).toMatch(/truncated|runs past|corrupt/);
    });
  }

  it.skipIf(!haveMnist)('mnist-opt.onnx with corrupted bytes imports or fails with a sourced Error, quickly', () => {
    const full = new Uint8Array(readFileSync(sharedPath(MNIST)));
    expect(importOnnx(full, { source: 'mnist' }).layers.length).toBeGreaterThan(0);
    const r = new Rng(11);
    let failures = 0;
    // Structure is mostly in the first and last few hundred bytes (weights sit in between), so
    // the corruptions go there half of the time.
    for (let i = 0; i < 300; i++) {
      const bytes = full.slice();
      const flips = 1 + (r.nextU32() % 4);
      for (let k = 0; k < flips; k++) {
        const region = r.nextU32() % 3;
        const pos = region === 0 ? r.nextU32() % 600 : region === 1 ? full.length - 1 - (r.nextU32() % 600) : r.nextU32() % full.length;
        bytes[pos] = r.nextU32() & 0xff;
      }
      const t0 = performance.now();
      try {
        const g = importOnnx(bytes, { source: `mutant-${i}.onnx` });
        expect(g.layers.length).toBeGreaterThan(0);
      } catch (e) {
        failures++;
        expect(e, `mutant ${i}`).toBeInstanceOf(Error);
        expect((e as Error).message.startsWith(`mutant-${i}.onnx: `), `mutant ${i}: ${(e as Error).message}`).toBe(true);
      }
      expect(performance.now() - t0, `mutant ${i} took too long`).toBeLessThan(2000);
    }
    expect(failures).toBeGreaterThan(0);
  });

  for (const [what, payload] of [
    ['float attribute sent as a varint', [0x10, 0x01]],
    ['int attribute sent as fixed32', [0x1d, 0, 0, 0x80, 0x3f]],
    ['ints attribute sent as fixed64', [0x41, 1, 2, 3, 4, 5, 6, 7, 8]],
  ] as const) {
    it(`a field of the wrong wire type fails with a sourced Error (${what})`, () => {
      const attr = new ProtoWriter().string(1, 'alpha').finish();
      const bytes = modelProto({
        inputs: [{ name: 'x', dims: ['N', 3] }], outputs: [{ name: 'y' }],
        initializers: [{ name: 'B', dims: [3, 3], data: rand(9) }],
        nodes: [{ op: 'Gemm', inputs: ['x', 'B'], outputs: ['y'], name: 'fc', rawAttrs: [Uint8Array.from([...attr, ...payload])] }],
      });
      const e = errorOf(() => importOnnx(bytes, { source: 'wiretype.onnx' }));
      expect(e.message.startsWith('wiretype.onnx: '), e.message).toBe(true);
    });
  }
});

describe('external data', () => {
  const [K, F] = [6, 3];
  const externalModel = (ext: TensorSpec['external']): Uint8Array => modelProto({
    ...flatIO(K, 'y', F),
    initializers: [{ name: 'W', dims: [F, K], external: ext }, { name: 'C', dims: [F], data: [1, 2, 3] }],
    nodes: [node('Gemm', ['x', 'W', 'C'], ['y'], { transB: { i: 1 } }, 'fc')],
  });

  it('reads an EXTERNAL initializer through the callback (location, offset, length)', () => {
    const w = rand(F * K);
    const file = new Uint8Array(16 + 4 * F * K + 8);
    file.set(rawBytes(w, FLOAT), 16);
    const calls: [string, number, number | null][] = [];
    const g = importOnnx(externalModel({ location: 'weights.bin', offset: 16, length: 4 * F * K }), {
      source: SOURCE,
      externalData: (location, offset, length) => {
        calls.push([location, offset, length]);
        return file.subarray(offset, offset + (length ?? file.length - offset));
      },
    });
    expect(calls).toEqual([['weights.bin', 16, 4 * F * K]]);
    const x = input(2, [K], 12);
    expect(relL2(cpu(g, x, 2), gemmRef(x, 2, K, F, w, true, 1, 1, Float32Array.of(1, 2, 3)))).toBeLessThanOrEqual(TOL);
  });

  it('passes a null length when the model gives none, and offset 0 by default', () => {
    const w = rand(F * K);
    const calls: [string, number, number | null][] = [];
    importOnnx(externalModel({ location: 'w.bin' }), {
      source: SOURCE,
      externalData: (location, offset, length) => {
        calls.push([location, offset, length]);
        return rawBytes(w, FLOAT);
      },
    });
    expect(calls).toEqual([['w.bin', 0, null]]);
  });

  it('fails without a callback, naming the source, the tensor and the file', () => {
    const e = errorOf(() => importOnnx(externalModel({ location: 'weights.bin', offset: 0, length: 4 * F * K }), { source: SOURCE }));
    expect(e.message).toBe("unit-test.onnx: tensor 'W' is stored in external file 'weights.bin', which cannot be read here");
  });

  it('fails when the callback returns the wrong number of bytes', () => {
    const e = errorOf(() => importOnnx(externalModel({ location: 'weights.bin' }), {
      source: SOURCE, externalData: () => new Uint8Array(4 * F * K - 4),
    }));
    expect(e.message).toMatch(/unit-test\.onnx: tensor 'W' holds 68 bytes but its shape needs 72/);
  });

  it('fails when the external tensor names no location', () => {
    const e = errorOf(() => importOnnx(externalModel({ location: '' }), { source: SOURCE, externalData: () => new Uint8Array(72) }));
    expect(e.message).toMatch(/tensor 'W' is stored externally but names no location/);
  });
});

describe('decodeTensor on a standalone TensorProto', () => {
  it('round-trips dims, name and float / int64 data', () => {
    const data = rand(12);
    const t = decodeTensor(tensorProto({ name: 'input_0', dims: [1, 3, 4], data }).finish(), { source: 't.pb' });
    expect(t.name).toBe('input_0');
    expect(t.dims).toEqual([1, 3, 4]);
    expect(Array.from(t.data)).toEqual(Array.from(data));
    const i = decodeTensor(tensorProto({ name: 's', dims: [3], dataType: INT64, data: [-1, 0, 2 ** 40] }).finish(), { source: 't.pb' });
    expect(Array.from(i.data)).toEqual([-1, 0, 2 ** 40]);
  });

  it('a truncated TensorProto fails naming the source', () => {
    const bytes = tensorProto({ name: 'input_0', dims: [1, 3, 4], data: rand(12) }).finish();
    for (const cut of [3, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const e = errorOf(() => decodeTensor(bytes.subarray(0, cut), { source: 'cut.pb' }));
      expect(e.message.startsWith('cut.pb'), e.message).toBe(true);
    }
  });
});
