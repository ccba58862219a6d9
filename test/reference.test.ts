// Hand-computed checks of the CPU reference, so it can serve as the oracle for the GPU kernels.
import { describe, expect, it } from 'vitest';
import type {
  AvgPoolLayer, ConvLayer, DenseLayer, Layer, LrnLayer, MaxPoolLayer, Pads4, Pair, Shape,
} from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import { randomArray, randomLayerCases, referenceForward, referenceLayer } from './reference/forward.ts';

const io = { inputs: ['x'], output: 'y' };
const f64 = (...v: number[]): Float64Array => Float64Array.from(v);
const arange = (n: number, start = 0): Float64Array => Float64Array.from({ length: n }, (_, i) => start + i);

function convLayer(p: {
  inC: number; outC: number; kernel: Pair; weight: number[]; bias?: number[];
  stride?: Pair; pads?: Pads4; dilation?: Pair; groups?: number;
}): ConvLayer {
  return {
    kind: 'conv', name: 'conv', ...io, inChannels: p.inC, outChannels: p.outC, kernel: p.kernel,
    stride: p.stride ?? [1, 1], pads: p.pads ?? [0, 0, 0, 0], dilation: p.dilation ?? [1, 1], groups: p.groups ?? 1,
    weight: Float32Array.from(p.weight), bias: Float32Array.from(p.bias ?? new Array(p.outC).fill(0)),
  };
}

function maxPool(kernel: Pair, stride: Pair, pads: Pads4, ceilMode: boolean, dilation: Pair = [1, 1]): MaxPoolLayer {
  return { kind: 'maxpool', name: 'mp', ...io, kernel, stride, pads, dilation, ceilMode };
}

function avgPool(kernel: Pair, stride: Pair, pads: Pads4, ceilMode: boolean, countIncludePad: boolean): AvgPoolLayer {
  return { kind: 'avgpool', name: 'ap', ...io, kernel, stride, pads, ceilMode, countIncludePad };
}

const run = (layer: Layer, x: Float64Array, shape: Shape, batch = 1): number[] =>
  Array.from(referenceLayer(layer, [x], [shape], batch));

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, digits = 12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i], `index ${i}`).toBeCloseTo(expected[i], digits);
}

describe('reference conv', () => {
  it('3x3 ones kernel, pad 1, bias: neighbourhood sums', () => {
    const layer = convLayer({ inC: 1, outC: 1, kernel: [3, 3], weight: new Array(9).fill(1), bias: [0.5], pads: [1, 1, 1, 1] });
    const y = run(layer, arange(9, 1), [1, 3, 3]);
    expect(y).toEqual([12, 21, 16, 27, 45, 33, 24, 39, 28].map((v) => v + 0.5));
  });

  it('is a cross-correlation with weight layout [outC, inC, kh, kw]', () => {
    // A 2x3 kernel picking tap (1, 2): y[h][w] = x[h + 1][w + 2].
    const weight = [0, 0, 0, 0, 0, 1];
    const layer = convLayer({ inC: 1, outC: 1, kernel: [2, 3], weight });
    const x = arange(20); // 4x5
    expect(run(layer, x, [1, 4, 5])).toEqual([7, 8, 9, 12, 13, 14, 17, 18, 19]);
  });

  it('stride 2 with asymmetric pads [top 1, left 0, bottom 0, right 1]', () => {
    const layer = convLayer({ inC: 1, outC: 1, kernel: [2, 2], weight: [1, 1, 1, 1], stride: [2, 2], pads: [1, 0, 0, 1] });
    // Windows: rows {-1,0} and {1,2}; cols {0,1} and {2,3}; row -1 is padding.
    expect(run(layer, arange(16), [1, 4, 4])).toEqual([0 + 1, 2 + 3, 4 + 5 + 8 + 9, 6 + 7 + 10 + 11]);
  });

  it('dilation 2: taps two apart', () => {
    const layer = convLayer({ inC: 1, outC: 1, kernel: [2, 2], weight: [1, 1, 1, 1], dilation: [2, 2] });
    // y[i][j] = x[i][j] + x[i][j+2] + x[i+2][j] + x[i+2][j+2] on a 5x5 arange = 24 + 4 (5i + j).
    const expected = [0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => 24 + 4 * (5 * i + j)));
    expect(run(layer, arange(25), [1, 5, 5])).toEqual(expected);
  });

  it('groups: each output channel sees only its group', () => {
    const layer = convLayer({ inC: 2, outC: 2, kernel: [1, 1], weight: [2, 3], groups: 2 });
    expect(run(layer, f64(1, 10, 100, 1000), [2, 1, 2])).toEqual([2, 20, 300, 3000]);
  });

  it('a grouped conv equals its groups run separately on channel slices', () => {
    const [H, W] = [5, 6];
    const w = Array.from(randomArray(6 * 2 * 3 * 3, 11));
    const b = Array.from(randomArray(6, 12));
    const x = randomArray(4 * H * W, 13);
    const grouped = run(convLayer({ inC: 4, outC: 6, kernel: [3, 3], weight: w, bias: b, groups: 2, pads: [1, 1, 1, 1] }), x, [4, H, W]);
    const half = 3 * 2 * 9;
    const g0 = run(convLayer({ inC: 2, outC: 3, kernel: [3, 3], weight: w.slice(0, half), bias: b.slice(0, 3), pads: [1, 1, 1, 1] }),
      x.slice(0, 2 * H * W), [2, H, W]);
    const g1 = run(convLayer({ inC: 2, outC: 3, kernel: [3, 3], weight: w.slice(half), bias: b.slice(3), pads: [1, 1, 1, 1] }),
      x.slice(2 * H * W), [2, H, W]);
    expectClose(grouped, [...g0, ...g1]);
  });

  it('batches samples independently', () => {
    const layer = convLayer({ inC: 1, outC: 2, kernel: [1, 1], weight: [1, -1], bias: [0, 1] });
    expect(run(layer, f64(1, 2, 3, 4), [1, 1, 2], 2)).toEqual([1, 2, 0, -1, 3, 4, -2, -3]);
  });
});

describe('reference dense', () => {
  it('y = W x + b with W row-major [out, in]', () => {
    const layer: DenseLayer = {
      kind: 'dense', name: 'fc', ...io, inFeatures: 2, outFeatures: 3,
      weight: Float32Array.from([1, 2, 3, 4, 5, 6]), bias: Float32Array.from([0.5, 0, 0]),
    };
    expect(run(layer, f64(1, -1, 2, 0), [2], 2)).toEqual([-0.5, -1, -1, 2.5, 6, 10]);
  });
});

describe('reference maxpool', () => {
  it('ceil_mode keeps the overhanging last window', () => {
    const x = arange(25); // 5x5
    expect(run(maxPool([2, 2], [2, 2], [0, 0, 0, 0], false), x, [1, 5, 5])).toEqual([6, 8, 16, 18]);
    expect(run(maxPool([2, 2], [2, 2], [0, 0, 0, 0], true), x, [1, 5, 5])).toEqual([6, 8, 9, 16, 18, 19, 21, 23, 24]);
  });

  it('ceil_mode drops a window that would start in the end padding', () => {
    // size 5, k 2, s 2, pad 1: ceil((5 + 2 - 2) / 2) + 1 = 4, but window 4 would start at 6 = 5 + 1.
    const y = run(maxPool([2, 2], [2, 2], [1, 1, 1, 1], true), arange(25), [1, 5, 5]);
    expect(y).toEqual([0, 2, 4, 10, 12, 14, 20, 22, 24]);
  });

  it('padding is -inf, not 0', () => {
    const y = run(maxPool([2, 2], [1, 1], [1, 1, 1, 1], false), f64(-1, -2, -3, -4), [1, 2, 2]);
    expect(y).toEqual([-1, -1, -2, -1, -1, -2, -3, -3, -4]);
  });

  it('dilation 2', () => {
    // y[i][j] = max(x[i][j], x[i][j+2], x[i+2][j], x[i+2][j+2]) = x[i+2][j+2] on an arange.
    const y = run(maxPool([2, 2], [1, 1], [0, 0, 0, 0], false, [2, 2]), arange(25), [1, 5, 5]);
    expect(y).toEqual([12, 13, 14, 17, 18, 19, 22, 23, 24]);
  });
});

describe('reference avgpool', () => {
  // 2x2 input, k 2, s 1, pad 1: corners see 1 value, edges 2, the centre 4.
  const x = f64(1, 2, 3, 4);
  it('count_include_pad divides by the whole window', () => {
    const y = run(avgPool([2, 2], [1, 1], [1, 1, 1, 1], false, true), x, [1, 2, 2]);
    expectClose(y, [1, 3, 2, 4, 10, 6, 3, 7, 4].map((s) => s / 4));
  });

  it('without count_include_pad divides by the in-input part', () => {
    const y = run(avgPool([2, 2], [1, 1], [1, 1, 1, 1], false, false), x, [1, 2, 2]);
    expectClose(y, [1 / 1, 3 / 2, 2 / 1, 4 / 2, 10 / 4, 6 / 2, 3 / 1, 7 / 2, 4 / 1]);
  });

  it('ceil_mode overhang counts as neither input nor padding (PyTorch)', () => {
    // 1x6 row, k 3, s 2, pad 1, ceil: windows [-1,2), [1,4), [3,6), [5,8) clipped to the padded end 7.
    const row = arange(6);
    const include = run(avgPool([1, 3], [1, 2], [0, 1, 0, 1], true, true), row, [1, 1, 6]);
    expectClose(include, [1 / 3, 6 / 3, 12 / 3, 5 / 2]); // torch: [0.3333, 2.0, 4.0, 2.5]
    const exclude = run(avgPool([1, 3], [1, 2], [0, 1, 0, 1], true, false), row, [1, 1, 6]);
    expectClose(exclude, [1 / 2, 6 / 3, 12 / 3, 5 / 1]);
  });

  it('ceil_mode without padding: the overhang is not counted either way', () => {
    for (const cip of [true, false]) {
      expectClose(run(avgPool([1, 2], [1, 2], [0, 0, 0, 0], true, cip), arange(5), [1, 1, 5]), [0.5, 2.5, 4]);
    }
  });
});

describe('reference lrn', () => {
  const lrn = (size: number, alpha: number, beta: number, bias: number): LrnLayer =>
    ({ kind: 'lrn', name: 'lrn', ...io, size, alpha, beta, bias });

  it('odd size: a centred window clipped at the channel ends', () => {
    // alpha/size = 1: y = x / (1 + sum x^2) over c-1..c+1.
    expectClose(run(lrn(3, 3, 1, 1), f64(1, 2, 3), [3, 1, 1]), [1 / 6, 2 / 15, 3 / 14]);
  });

  it('even size: the window reaches one further up (ONNX floor/ceil)', () => {
    // size 2: window [c, c+1].
    expectClose(run(lrn(2, 2, 0.5, 1), f64(1, 2, 3), [3, 1, 1]), [1 / Math.sqrt(6), 2 / Math.sqrt(14), 3 / Math.sqrt(10)]);
  });

  it('Caffe parameters (5, 1e-4, 0.75, bias 1) per pixel', () => {
    // 4 channels of 1x2: channel c holds x[2c], x[2c + 1].
    const x = f64(10, -20, 30, 40, 50, 60, -70, 80);
    const y = run(lrn(5, 1e-4, 0.75, 1), x, [4, 1, 2]);
    // Channel 1, pixel 0: window -1..3 clipped to 0..3: 10² + 30² + 50² + 70² = 8400.
    expect(y[2]).toBeCloseTo(30 / Math.pow(1 + (1e-4 / 5) * 8400, 0.75), 12);
    // Channel 3, pixel 1: window 1..5 clipped to 1..3: 40² + 60² + 80² = 11600.
    expect(y[7]).toBeCloseTo(80 / Math.pow(1 + (1e-4 / 5) * 11600, 0.75), 12);
  });
});

describe('reference misc layers', () => {
  it('relu, identity, flatten, globalavgpool', () => {
    expect(run({ kind: 'relu', name: 'r', ...io }, f64(-1, 0, 2), [3])).toEqual([0, 0, 2]);
    expect(run({ kind: 'identity', name: 'i', ...io }, f64(-1, 0, 2), [3])).toEqual([-1, 0, 2]);
    expect(run({ kind: 'flatten', name: 'f', ...io }, arange(8), [2, 2, 2])).toEqual(Array.from(arange(8)));
    expect(run({ kind: 'globalavgpool', name: 'g', ...io }, arange(8), [2, 2, 1], 2)).toEqual([0.5, 2.5, 4.5, 6.5]);
  });

  it('concat interleaves per sample along channels', () => {
    const a = f64(1, 2, 3, 4); // batch 2 of [1,1,2]
    const b = f64(5, 6, 7, 8, 9, 10, 11, 12); // batch 2 of [2,1,2]
    const y = referenceLayer({ kind: 'concat', name: 'c', inputs: ['a', 'b'], output: 'y' }, [a, b], [[1, 1, 2], [2, 1, 2]], 2);
    expect(Array.from(y)).toEqual([1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12]);
  });

  it('rejects an input of the wrong length', () => {
    expect(() => run({ kind: 'relu', name: 'r', ...io }, f64(1, 2), [3])).toThrow(/expected/);
  });
});

describe('random layer cases', () => {
  it('cover every layer kind, and the reference output matches shape inference', () => {
    const cases = randomLayerCases();
    const kinds = new Set(cases.map((c) => c.layer.kind));
    expect([...kinds].sort()).toEqual(
      ['avgpool', 'concat', 'conv', 'dense', 'flatten', 'globalavgpool', 'identity', 'lrn', 'maxpool', 'relu'],
    );
    for (const c of cases) {
      const batch = 2;
      const xs = c.inputShapes.map((s, i) => randomArray(batch * numel(s), 100 + i));
      const y = referenceLayer(c.layer, xs, c.inputShapes, batch);
      expect(y.length, c.label).toBe(batch * numel(c.outputShape));
      expect(y.every(Number.isFinite), c.label).toBe(true);
    }
  });

  it('are deterministic for a seed', () => {
    const w = (seed: number): Float32Array => {
      const l = randomLayerCases(seed)[0].layer;
      return l.kind === 'conv' ? l.weight : new Float32Array();
    };
    expect(w(3)).toEqual(w(3));
    expect(w(3)).not.toEqual(w(4));
  });
});

describe('referenceForward', () => {
  it('runs a small graph, keeping every value', () => {
    const b = new GraphBuilder('tiny', 'input', [1, 4, 4]);
    const conv = convLayer({ inC: 1, outC: 2, kernel: [3, 3], weight: Array.from(randomArray(18, 5)), pads: [1, 1, 1, 1] });
    b.add({ ...conv, inputs: ['input'] });
    b.add({ kind: 'relu', name: 'relu', inputs: ['y'], output: 'r' });
    b.add({ ...maxPool([2, 2], [2, 2], [0, 0, 0, 0], false), inputs: ['r'], output: 'p' });
    b.add({ kind: 'flatten', name: 'flat', inputs: ['p'], output: 'f' });
    b.add({
      kind: 'dense', name: 'fc', inputs: ['f'], output: 'logits', inFeatures: 8, outFeatures: 3,
      weight: Float32Array.from(randomArray(24, 6)), bias: Float32Array.from([0.1, 0.2, 0.3]),
    });
    const g = b.build('logits');
    const batch = 3;
    const x = randomArray(batch * 16, 7);
    const values = referenceForward(g, x, batch);
    expect([...values.keys()]).toEqual(['input', 'y', 'r', 'p', 'f', 'logits']);
    expect(values.get('input')).toBe(x);
    let v = x;
    let shape: Shape = [1, 4, 4];
    for (const layer of g.layers) {
      v = referenceLayer(layer, [v], [shape], batch);
      shape = g.values.get(layer.output)!.shape;
      expect(values.get(layer.output)).toEqual(v);
    }
    expect(values.get('logits')!.length).toBe(batch * 3);
    expect(values.get('r')!.every((r) => r >= 0)).toBe(true);
  });
});
