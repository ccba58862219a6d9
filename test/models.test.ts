// Whole models on the GPU: the zennit test vectors' logits, the ONNX MNIST test set, SqueezeNet
// on real ImageNet images against onnxruntime's predictions, and the built-in random VGG-16 and
// CaffeNet end to end.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { denseChunkRows } from '../src/forward/dense.ts';
import { ForwardModel } from '../src/forward/model.ts';
import type { DenseLayer, Graph } from '../src/graph/ir.ts';
import { numel } from '../src/graph/ir.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { decodeTensor } from '../src/graph/onnx/model.ts';
import { builtinModel } from '../src/graph/zoo.ts';
import { npyToFloat32, parseNpy } from '../src/io/npy.ts';
import { readImage } from '../src/node/image-decode.ts';
import { preprocessImage } from '../src/preprocess/image.ts';
import { parsePreprocessSpecText } from '../src/preprocess/spec.ts';
import { randomArray, referenceForward, referenceLayer } from './reference/forward.ts';
import { argmaxRows, relL2, runGraph, useGpu } from './helpers/gpu.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';

const TOL = 1e-5;
const shared = useGpu();

const bytesOf = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
const loadOnnx = (path: string): Graph => importOnnx(bytesOf(path), { source: path });

// ---------------------------------------------------------------------------------------------
// (a) zennit test vectors: logits
// ---------------------------------------------------------------------------------------------

const ZENNIT = 'testvectors/zennit/';
const haveZennit = haveShared('models.test (zennit logits)', `${ZENNIT}index.json`);
const zennitModels: string[] = haveZennit ? JSON.parse(readFileSync(sharedPath(`${ZENNIT}index.json`), 'utf8')) : [];

describe('zennit test vectors: logits', () => {
  it.skipIf(!haveZennit)('index.json lists model folders', () => {
    expect(zennitModels.length).toBeGreaterThan(0);
  });

  for (const folder of zennitModels) {
    const dir = sharedPath(`${ZENNIT}${folder}/`);
    const present = haveShared(`models.test (zennit ${folder})`, `${ZENNIT}${folder}/cases.json`);
    it.skipIf(!present)(`${folder}: logits match logits.npy`, async () => {
      const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as {
        model?: string; input: string; logits: string; input_shape?: number[];
      };
      for (const f of [cases.model ?? 'model.onnx', cases.input, cases.logits]) {
        expect(existsSync(join(dir, f)), `${join(dir, f)} is listed in cases.json but absent`).toBe(true);
      }
      const graph = loadOnnx(join(dir, cases.model ?? 'model.onnx'));
      const inNpy = parseNpy(bytesOf(join(dir, cases.input)), cases.input);
      const logitsNpy = parseNpy(bytesOf(join(dir, cases.logits)), cases.logits);
      const batch = inNpy.shape[0];
      expect(inNpy.shape.slice(1)).toEqual([...graph.input.shape]);
      if (cases.input_shape) expect(inNpy.shape).toEqual(cases.input_shape);
      const expected = npyToFloat32(logitsNpy);
      expect(logitsNpy.shape).toEqual([batch, numel(graph.values.get(graph.output)!.shape)]);
      const y = (await runGraph(shared.ctx, graph, npyToFloat32(inNpy), batch)).get(graph.output)!;
      const err = relL2(y, expected);
      expect(err, `${folder}: relative L2 ${err}`).toBeLessThanOrEqual(TOL);
      expect(argmaxRows(y, batch)).toEqual(argmaxRows(expected, batch));
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (b) MNIST: the ONNX model zoo's test set
// ---------------------------------------------------------------------------------------------

describe('MNIST reproduces mnist_test_data_set_0', () => {
  const DATA = 'models/mnist_test_data_set_0/';
  for (const model of ['mnist-opt.onnx', 'mnist-7.onnx']) {
    const present = haveShared(`models.test (${model})`, `models/${model}`, `${DATA}input_0.pb`, `${DATA}output_0.pb`);
    it.skipIf(!present)(`${model}: output_0.pb within relative L2 ${TOL}`, async () => {
      const graph = loadOnnx(sharedPath(`models/${model}`));
      const x = decodeTensor(bytesOf(sharedPath(`${DATA}input_0.pb`)), { source: `${DATA}input_0.pb` });
      const out = decodeTensor(bytesOf(sharedPath(`${DATA}output_0.pb`)), { source: `${DATA}output_0.pb` });
      expect(x.dims).toEqual([1, ...graph.input.shape]);
      expect(out.dims).toEqual([1, 10]);
      const y = (await runGraph(shared.ctx, graph, Float32Array.from(x.data), 1)).get(graph.output)!;
      const err = relL2(y, out.data);
      expect(err, `relative L2 ${err}`).toBeLessThanOrEqual(TOL);
      expect(argmaxRows(y, 1)).toEqual(argmaxRows(out.data, 1));
    });
  }
});

// ---------------------------------------------------------------------------------------------
// (c) SqueezeNet 1.1 on ImageNet validation images vs onnxruntime
// ---------------------------------------------------------------------------------------------

describe('SqueezeNet 1.1 on ImageNet images', () => {
  const MODEL = 'models/squeezenet1.1.onnx';
  const CSV = 'models/squeezenet1.1_onnxruntime_top5.csv';
  const IMAGES = 'data/imagenet-val-sample/images/';
  const present = haveShared('models.test (squeezenet)', MODEL, `${MODEL}.json`, CSV, IMAGES);

  it.skipIf(!present)('top-1 of onnxruntime for every listed image present; top-5 shares 4 classes (3 at near-ties)', async () => {
    const rows = readFileSync(sharedPath(CSV), 'utf8').trim().split(/\r?\n/);
    const header = rows[0].split(',').map((h) => h.trim());
    const col = (name: string) => {
      const i = header.indexOf(name);
      expect(i, `column ${name} in ${CSV}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const [cImage, cTop1, cTop5, cLogit] = [col('image'), col('top1'), col('top5'), col('logit_top1')];
    const listed = rows.slice(1).map((r) => r.split(',').map((c) => c.trim()));
    const available = listed.filter((r) => existsSync(sharedPath(IMAGES + r[cImage])));
    const absent = listed.length - available.length;
    if (absent > 0) console.warn(`models.test (squeezenet): ${absent} of ${listed.length} images in ${CSV} are not in ${sharedPath(IMAGES)}; checking the other ${available.length}`);
    expect(available.length).toBeGreaterThan(0);

    const graph = loadOnnx(sharedPath(MODEL));
    const spec = parsePreprocessSpecText(readFileSync(sharedPath(`${MODEL}.json`), 'utf8'), `${MODEL}.json`);
    expect([spec.channels === 'GRAY' ? 1 : 3, ...spec.size]).toEqual([...graph.input.shape]);
    const per = numel(graph.input.shape);
    const classes = numel(graph.values.get(graph.output)!.shape);
    expect(classes).toBe(1000);

    const model = await ForwardModel.create(shared.ctx, graph);
    const logits = new Float32Array(available.length * classes);
    try {
      const BATCH = 7;
      for (let start = 0; start < available.length; start += BATCH) {
        const chunk = available.slice(start, start + BATCH);
        const x = new Float32Array(chunk.length * per);
        for (const [i, r] of chunk.entries()) {
          x.set(preprocessImage(await readImage(sharedPath(IMAGES + r[cImage])), spec), i * per);
        }
        const acts = await model.forward(x, chunk.length);
        try {
          logits.set(await acts.read(), start * classes);
        } finally {
          acts.release();
        }
      }
    } finally {
      model.destroy();
    }

    // The same input through the float64 CPU reference: checked first, so that a forward-pass bug
    // is told apart from a preprocessing difference with onnxruntime.
    const x0 = preprocessImage(await readImage(sharedPath(IMAGES + available[0][cImage])), spec);
    const ref0 = referenceForward(graph, Float64Array.from(x0), 1).get(graph.output)!;
    const err = relL2(logits.subarray(0, classes), ref0);
    expect(err, `${available[0][cImage]}: GPU vs float64 reference, relative L2 ${err}`).toBeLessThanOrEqual(TOL);

    // We decode with libjpeg-turbo as Pillow does, but onnxruntime's reference resampled with a
    // library we cannot identify: no resize we tried (Pillow resize-then-crop, OpenCV-style
    // bilinear, our one-step crop-and-resize) reproduces its logits, which differ from ours by
    // 2.5% on average. The issue allows for this ("image resampling differs slightly"). So: the
    // top-1 must agree exactly and its logit within 10%; the top-5 must share 4 classes, or 3
    // when each class of onnxruntime's top-5 that we rank lower is within NEAR_TIE of our 5th
    // logit (2 of the 14 images are such near-ties); at least 12 images share 4 or more.
    const NEAR_TIE = 0.5;
    const failures: string[] = [];
    let fourOrMore = 0;
    for (const [n, r] of available.entries()) {
      const row = logits.subarray(n * classes, (n + 1) * classes);
      const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]);
      const top5 = order.slice(0, 5);
      const theirs = r[cTop5].split(/\s+/).map(Number);
      const top1 = Number(r[cTop1]);
      const logit = Number(r[cLogit]);
      expect(theirs.length).toBe(5);
      expect(theirs[0]).toBe(top1);
      const overlap = top5.filter((c) => theirs.includes(c)).length;
      const missed = theirs.filter((c) => !top5.includes(c));
      const show = (c: number) => `${c} (rank ${order.indexOf(c) + 1}, logit ${row[c].toFixed(2)})`;
      const note = `${r[cImage]}: ours ${top5.map(show).join(', ')}; onnxruntime ${theirs.join(' ')} (top logit ${logit})`;
      if (top5[0] !== top1) failures.push(`top-1 differs: ${note}`);
      if (Math.abs(row[top1] - logit) > 0.1 * Math.abs(logit)) failures.push(`top-1 logit off by over 10%: ${note}`);
      if (overlap >= 4) fourOrMore++;
      const nearTies = missed.every((c) => row[top5[4]] - row[c] <= NEAR_TIE);
      if (overlap < 3 || (overlap === 3 && !nearTies)) {
        failures.push(`only ${overlap} of the top-5 agree (missed ${missed.map(show).join(', ')}): ${note}`);
      }
    }
    expect(failures).toEqual([]);
    expect(fourOrMore, 'images sharing at least 4 of the top-5').toBeGreaterThanOrEqual(Math.min(12, available.length));
  });
});

// ---------------------------------------------------------------------------------------------
// (d) Built-in random models end to end
// ---------------------------------------------------------------------------------------------

describe('built-in random models end to end', () => {
  it('caffenet:random at batch 1 matches the float64 reference, every stored value', async () => {
    const graph = builtinModel('caffenet:random');
    const x = Float32Array.from(randomArray(numel(graph.input.shape), 31));
    const ref = referenceForward(graph, Float64Array.from(x), 1);
    const stored = graph.layers.filter((l) => !['relu', 'identity', 'flatten'].includes(l.kind)).map((l) => l.output);
    const got = await runGraph(shared.ctx, graph, x, 1, stored);
    for (const name of stored) {
      const err = relL2(got.get(name)!, ref.get(name)!);
      expect(err, `${name}: relative L2 ${err}`).toBeLessThanOrEqual(TOL);
    }
    const y = got.get(graph.output)!;
    expect(y.length).toBe(1000);
    expect(y.every(Number.isFinite)).toBe(true);
    expect(Math.max(...y) - Math.min(...y)).toBeGreaterThan(0);
  });

  it('vgg16:random at batch 1: finite, varied logits, and its classifier (fc6 in chunks where its binding requires) matches the reference', async () => {
    const graph = builtinModel('vgg16:random');
    const x = Float32Array.from(randomArray(numel(graph.input.shape), 32));
    const dense = graph.layers.filter((l): l is DenseLayer => l.kind === 'dense');
    expect(dense.map((l) => l.inFeatures)).toEqual([25088, 4096, 4096]);
    // fc6's weight is 411 MB. Where it exceeds one binding (lavapipe's 128 MiB; not an H100's
    // 2 GiB) the kernel splits it by rows, and this case checks the chunked path; the chunking
    // itself is run on every adapter under a capped binding in test/forward-kernels.test.ts.
    const chunks = Math.ceil(dense[0].outFeatures / denseChunkRows(dense[0].inFeatures, dense[0].outFeatures, shared.ctx.maxBinding));
    expect(chunks > 1).toBe(4 * dense[0].weight.length > shared.ctx.maxBinding);
    if (chunks === 1) console.log(`models.test (vgg16): fc6 fits this adapter's ${shared.ctx.maxBinding}-byte binding; its chunked path is not exercised here`);
    const names = [...new Set([...dense.map((l) => l.inputs[0]), ...dense.map((l) => l.output)])];
    const got = await runGraph(shared.ctx, graph, x, 1, names);
    const y = got.get(graph.output)!;
    expect(y.length).toBe(1000);
    expect(y.every(Number.isFinite)).toBe(true);
    expect(new Set(y).size).toBeGreaterThan(100);
    // Each dense layer on its GPU input (read back through the ReLU views) against the reference.
    for (const l of dense) {
      const input = Float64Array.from(got.get(l.inputs[0])!);
      const expected = referenceLayer(l, [input], [[l.inFeatures]], 1);
      const err = relL2(got.get(l.output)!, expected);
      expect(err, `${l.name}: relative L2 ${err}`).toBeLessThanOrEqual(TOL);
    }
  });
});
