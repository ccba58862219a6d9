/**
 * Models that are wrong in ways a corrupt or hand-edited file produces, each refused with the
 * layer named: Conv `group` 0 (written, or left off the wire as proto3 does with zeros), a Gemm
 * with no outputs, NaN or infinite parameters; and weights that load but overflow float32, in the
 * forward pass (`predict`, the CLI's `logit Infinity p NaN`) or only in the relevance pass.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { NonFiniteError } from '../src/forward/finite.ts';
import { ForwardModel } from '../src/forward/model.ts';
import { predict } from '../src/forward/predict.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { encodeNpy } from '../src/io/npy.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { useGpu } from './helpers/gpu.ts';
import { modelProto, node, ProtoWriter, type ModelSpec } from './helpers/onnx-writer.ts';

const gpu = useGpu();
const tmp = mkdtempSync(join(tmpdir(), 'lrp-faults-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const imp = (spec: ModelSpec) => importOnnx(modelProto(spec), { source: 'bad.onnx' });
const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
};

const conv = (attrs: Parameters<typeof node>[3], raw?: Uint8Array): ModelSpec => ({
  nodes: [{ ...node('Conv', ['x', 'W'], ['y'], attrs, 'conv1'), rawAttrs: raw ? [raw] : undefined }],
  inputs: [{ name: 'x', dims: [1, 3, 8, 8] }], outputs: [{ name: 'y' }],
  initializers: [{ name: 'W', dims: [4, 3, 3, 3], data: new Float32Array(108).fill(0.1) }],
});

/** x[2] → fc1 (1 output) → fc2 (1 output), weights as given. */
const mlp = (w1: number[], b1: number, w2: number): ModelSpec => ({
  nodes: [node('Gemm', ['x', 'W1', 'B1'], ['h'], { transB: { i: 1 } }, 'fc1'), node('Gemm', ['h', 'W2'], ['y'], { transB: { i: 1 } }, 'fc2')],
  inputs: [{ name: 'x', dims: [1, 2] }], outputs: [{ name: 'y' }],
  initializers: [
    { name: 'W1', dims: [1, 2], data: w1 }, { name: 'B1', dims: [1], data: [b1] }, { name: 'W2', dims: [1, 1], data: [w2] },
  ],
});

describe('refused at load time, naming the node', () => {
  it('Conv group 0, negative, or zero left off the wire', () => {
    expect(errorOf(() => imp(conv({ group: { i: 0 } })))).toBe("bad.onnx: node 'conv1' (Conv): group must be a whole number >= 1, got 0");
    expect(errorOf(() => imp(conv({ group: { i: -2 } })))).toMatch(/group must be a whole number >= 1, got -2/);
    // AttributeProto with type INT and no i: proto3's encoding of 0.
    const omitted = new ProtoWriter().string(1, 'group').varint(20, 2).finish();
    expect(errorOf(() => imp(conv({}, omitted)))).toMatch(/conv1.*group must be a whole number >= 1, got 0/);
    expect(imp(conv({ group: { i: 1 } })).layers[0].kind).toBe('conv');
  });

  it('a Gemm with no outputs, and NaN or infinite weights', () => {
    const gemm0: ModelSpec = {
      nodes: [node('Gemm', ['x', 'W'], ['y'], {}, 'fc')], inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y' }],
      initializers: [{ name: 'W', dims: [4, 0], data: [] }],
    };
    const msg = errorOf(() => imp(gemm0));
    expect(msg).toMatch(/node 'fc' \(Gemm\): the weight has an empty shape \[4, 0\]/);
    expect(msg).not.toMatch(/NaN/);
    expect(errorOf(() => imp(mlp([1, NaN], 0, 1)))).toMatch(/layer 'fc1' \(dense\): weight value 1 of 2 is NaN: the parameters are corrupt/);
    expect(errorOf(() => imp(mlp([1, 1], Infinity, 1)))).toMatch(/layer 'fc1' \(dense\): bias value 0 of 1 is Infinity/);
  });
});

describe('non-finite values at run time name the layer where they start', () => {
  it('forward overflow: predict() refuses, naming fc2', async () => {
    // Finite weights, but fc2's output 3e38 * 3e38 overflows.
    const graph = imp(mlp([1e38, 2e38], 0, 3e38));
    const fm = await ForwardModel.create(gpu.ctx, graph);
    try {
      const err = await predict(fm, Float32Array.from([1, 1, 0.5, 0.25]), 2).catch((e) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect(err.layer).toBe('fc2');
      expect(err.message).toMatch(/first appear in the output of layer 'fc2' \(dense\): Infinity at sample 0/);
      // A healthy batch of the same model is untouched by the check.
      const ok = await predict(fm, Float32Array.from([0, 0]), 1);
      expect(Number.isFinite(ok[0])).toBe(true);
    } finally {
      fm.destroy();
    }
  });

  it('relevance overflow with a finite forward pass: explain() refuses, naming fc1', async () => {
    // h = 1e30 - 1e30 + 1 = 1 and y = 1e10 are finite; the relevance at x is 1e30 * 1e10 = Infinity.
    const graph = imp(mlp([1e30, -1e30], 1, 1e10));
    const fm = await ForwardModel.create(gpu.ctx, graph);
    const ex = await Explainer.create(fm, resolveComposite(parseComposite('lrp-epsilon', 'test'), graph));
    try {
      const err = await ex.explain(Float32Array.from([1, 1]), 1, { targets: 0 }).catch((e) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect(err.layer).toBe('fc1');
      expect(err.message).toMatch(/lrp-epsilon: the relevance becomes non-finite at layer 'fc1' \(dense, rule epsilon/);
    } finally {
      ex.destroy();
      fm.destroy();
    }
  });

  it('the CLI: lrp predict on weights that overflow exits 1 naming the layer, and prints no logit', async () => {
    const model = join(tmp, 'overflow.onnx');
    writeFileSync(model, modelProto(mlp([1e38, 2e38], 0, 3e38)));
    const input = join(tmp, 'x.npy');
    writeFileSync(input, encodeNpy([1, 2], Float32Array.from([1, 1])));
    const bin = fileURLToPath(new URL('../bin/lrp.js', import.meta.url));
    const r = await promisify(execFile)(process.execPath, [bin, 'predict', '--model', model, '--input', input])
      .then((x) => ({ code: 0, ...x }), (e: { code: number; stdout: string; stderr: string }) => e);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/logit/);
    expect(r.stderr).toMatch(/non-finite values: they first appear in the output of layer 'fc2'/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
