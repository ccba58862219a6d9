/**
 * The public API (src/index.ts, src/node/index.ts) on the demo model: it drives the same machinery
 * as the CLI and adds nothing to its numbers (explain equals the relevance Explainer bit for bit,
 * in any batch split, on the GPU or read back; the evaluator's GPU metrics equal `localization`'s
 * float64 ones), the core's Lrp on a device of the caller's with the embedded WGSL gives what the
 * Node Lrp gives with the files, and mistakes get errors that say what to do.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lrp as CoreLrp } from '../src/index.ts';
import {
  boxMask, Composite, croppedImage, Explainer, inspectModel, Lrp, localization, NoWebGpuError, prepareImage, topClasses, type Model, type RgbaImage, type Sample,
} from '../src/node/index.ts';
import { Explainer as Engine } from '../src/lrp/explainer.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { synthesize } from '../src/synth/index.ts';
import { aopcOracle, patchOrder, perturbedInput } from './helpers/aopc-oracle.ts';

const DEMO = 'models/demo/demo.onnx';
const images: RgbaImage[] = [1, 2, 3].map((n) => synthesize(1, n).image);

describe('the public API on the demo model', () => {
  let lrp: Lrp;
  let model: Model;
  let explainer: Explainer;

  beforeAll(async () => {
    lrp = await Lrp.create();
    model = await lrp.loadModel(DEMO, { labels: ['circle', 'square', 'triangle', 'star', 'cross', 'ring'] });
    explainer = await model.explainer('cmp-alpha2-flat');
  });
  afterAll(() => lrp?.destroy());

  it('loads a file with the preprocessing beside it, and says what the model is', async () => {
    expect(model.name).toBe(DEMO);
    expect(model.inputShape).toEqual([3, 64, 64]);
    expect(model.classes).toBe(6);
    expect(model.preprocess).toEqual(JSON.parse(readFileSync(`${DEMO}.json`, 'utf8')));
    expect(model.maxBatch).toBeGreaterThan(16);
    expect(model.summary()).toMatch(/total\s+45,190/);
    const [p] = await model.predict(images[1], { top: 2 });
    expect(p.top).toHaveLength(2);
    expect(p.top[0].label).toBe(model.labels![p.top[0].index]);
    expect(p.top[0].probability).toBeGreaterThan(p.top[1].probability);
    // The same facts from the bytes alone, without a GPU.
    const info = inspectModel(readFileSync(DEMO), { name: 'demo' });
    expect([info.name, info.classes, info.inputShape, info.output]).toEqual(['demo', 6, [3, 64, 64], model.output]);
    expect(info.layers).toEqual(model.layers);
    expect(info.summary()).toBe(model.summary());
    expect(() => inspectModel(new Uint8Array([1, 2, 3]), { name: 'junk.onnx' })).toThrow(/^junk\.onnx: /);
  });

  it('explains as the relevance Explainer does, bit for bit, whatever the batch split', async () => {
    const tensor = model.toTensor(images);
    expect(tensor.shape).toEqual([3, 3, 64, 64]);
    const whole = await explainer.explain(images, { target: [1, 'predicted', 4] });
    const split = await explainer.explain(tensor, { target: [1, 'predicted', 4], batchSize: 2 });
    const engine = await Engine.create(model.forward, resolveComposite(parseComposite('cmp-alpha2-flat', 't'), model.graph, { preprocess: model.preprocess }));
    try {
      const ref = await engine.explain(tensor.data, 3, { targets: [1, 'predicted', 4] });
      expect(Array.from(whole.relevance.data)).toEqual(Array.from(ref.relevance));
      expect(Array.from(split.relevance.data)).toEqual(Array.from(ref.relevance));
      expect(whole.targets).toEqual(ref.targets);
      expect(whole.targets[0]).toBe(1);
      expect(whole.targets[2]).toBe(4);
      expect(Array.from(whole.logits.data)).toEqual(Array.from(ref.logits));
      expect(whole.logits.shape).toEqual([3, 6]);
      expect(whole.relevance.shape).toEqual([3, 3, 64, 64]);
      expect(whole.relevanceSums).toEqual(ref.relevanceSums);
    } finally {
      engine.destroy();
    }
    const picture = whole.heatmap(2);
    expect([picture.width, picture.height, picture.data.length]).toEqual([64, 64, 64 * 64 * 4]);
    expect(() => whole.heatmap(3)).toThrow(/sample 3 is not in the batch of 3/);
  });

  it('explains with several explainers on one forward pass, as each alone', async () => {
    const other = await model.explainer('cmp-alpha2-flat', { flatLayers: 2 });
    try {
      const [a, b] = await model.explainEach(images, [explainer, other], { target: 2, batchSize: 2 });
      const a1 = await explainer.explain(images, { target: 2 });
      const b1 = await other.explain(images, { target: 2 });
      expect(Array.from(a.relevance.data)).toEqual(Array.from(a1.relevance.data));
      expect(Array.from(b.relevance.data)).toEqual(Array.from(b1.relevance.data));
      expect(Array.from(a.relevance.data)).not.toEqual(Array.from(b.relevance.data));
    } finally {
      other.destroy();
    }
  });

  it('draws heatmaps of image inputs over the image and at its size; the model\'s preprocessing and labels may change', async () => {
    const wide = { width: 96, height: 64, data: new Uint8Array(96 * 64 * 4).fill(200) };
    const ex = await explainer.explain([images[0], wide]);
    expect([ex.heatmap(1).width, ex.heatmap(1).height]).toEqual([64, 64]);
    const big = ex.heatmap(1, { size: 'original', overlay: true });
    expect([big.width, big.height]).toEqual([96, 64]);
    expect(croppedImage(wide, model.preprocess!).width).toBe(64);
    expect(topClasses([0, 3, 1], 2, ['a', 'b', 'c']).map((c) => c.label)).toEqual(['b', 'c']);
    const spec = model.preprocess;
    expect(() => { model.preprocess = { ...spec!, size: [32, 32] }; }).toThrow(/gives 3×32×32 but model '.*' takes 3×64×64/);
    model.preprocess = null;
    await expect(model.predict(images[0])).rejects.toThrow(/no preprocessing spec/);
    model.preprocess = spec;
    model.labels = null;
    expect((await model.predict(images[0]))[0].top[0].label).toBeNull();
  });

  it('leaves the relevance on the GPU when asked, the same values', async () => {
    const cpu = await explainer.explain(images.slice(0, 2));
    const gpu = await explainer.explainOnGpu(images.slice(0, 2));
    try {
      expect(gpu.relevance.shape).toEqual([2, 3, 64, 64]);
      const back = await lrp.context.readF32(gpu.relevance.buffer, 0, cpu.relevance.data.length, 'test');
      expect(Array.from(back)).toEqual(Array.from(cpu.relevance.data));
      expect(gpu.targets).toEqual(cpu.targets);
    } finally {
      gpu.release();
    }
    gpu.release(); // twice is harmless
  });

  it('measures localisation on the GPU (evaluator) as on the CPU (localization)', async () => {
    const box = { xmin: 8, ymin: 8, xmax: 40, ymax: 48 };
    const sample: Sample = {
      id: 'synth-2', imagePath: 'synth-2.png', annotationPath: 'synth-2.xml', width: 64, height: 64,
      classes: [{ classIndex: 1, className: 'square', boxes: [box] }],
    };
    const prepared = prepareImage(sample, images[1], model.preprocess!);
    if (!('input' in prepared)) throw new Error(prepared.reason);
    const evaluator = await model.evaluator({ mine: 'cmp-alpha2-flat' });
    expect(evaluator.analyzers).toEqual(['mine']);
    const { records, skips } = await evaluator.evaluate([prepared]);
    expect(skips).toEqual([]);
    expect(records).toHaveLength(1);
    const ex = await explainer.explain(images[1], { target: 1 });
    const cpu = localization(ex.relevance, prepared.pairs[0].mask);
    expect(cpu.S_in).toBe(records[0].S_in);
    expect(records[0].mu!).toBeCloseTo(cpu.mu!, 5);
    expect(records[0].mu_w!).toBeCloseTo(cpu.mu_w!, 4);
    expect(Array.from(boxMask([{ xmin: 0, ymin: 0, xmax: 2, ymax: 1 }], 4, 2))).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
    evaluator.destroy();
  });

  it('describes composites, and checks them before anything runs', () => {
    expect(Composite.presets.map((p) => p.name)).toContain('cmp-alpha2-flat');
    const c = Composite.parse({ name: 'mine', rules: [{ layers: 'linear', rule: 'epsilon', epsilon: 0.25 }, { layers: '#0', rule: 'flat' }] });
    expect(c.name).toBe('mine');
    expect(c.method).toBeNull();
    expect(c.describe(model)).toMatch(/#0 .*conv\s+flat[\s\S]*#7 .*dense\s+epsilon epsilon=0\.25/);
    expect(() => Composite.parse('{"rules": [{"layers": "conv", "rule": "alpha-bta"}]}'))
      .toThrow(/^composite: rules\[0\] .*unknown rule 'alpha-bta'/);
    expect(() => Composite.parse('cmp-alpha3')).toThrow(/not a composite preset \(presets: lrp-z/);
    expect(explainer.composite).toBe('cmp-alpha2-flat');
    expect(explainer.plan().find((p) => p.kind === 'maxpool')?.rule).toBe('winner');
    expect(explainer.describe()).toMatch(/^composite cmp-alpha2-flat on /);
  });

  it('measures region perturbation on an explanation: the curves and AOPC of the oracle\'s perturbed inputs', async () => {
    const e = await explainer.explain(images, { target: [1, 'predicted', 4] });
    const L = 3, baseline = 'uniform:2';
    const { samples } = await e.aopc({ steps: L, patch: 16, baseline, batchSize: 4 });
    expect(samples).toHaveLength(3);
    const g = { C: 3, H: 64, W: 64, P: 16 };
    const per = 3 * 64 * 64;
    const x = model.toTensor(images).data;
    for (let n = 0; n < 3; n++) {
      const s = samples[n];
      expect(s.target).toBe(e.targets[n]);
      expect(s.morf).toHaveLength(L + 1);
      expect(s.morf[0]).toBe(Math.fround(e.targetLogits[n]));
      for (const [most, got] of [[true, s.morf], [false, s.lerf]] as const) {
        const order = patchOrder(g, e.relevance.data, n * per, most);
        const xs = new Float32Array(L * per);
        // The sample's position in the batch seeds the baseline.
        for (let k = 1; k <= L; k++) xs.set(perturbedInput(g, x.subarray(n * per, (n + 1) * per), order, k, baseline, n), (k - 1) * per);
        const acts = await model.forward.forward(xs, L);
        const logits = await acts.read();
        acts.release();
        for (let k = 1; k <= L; k++) {
          const want = logits[(k - 1) * 6 + s.target];
          expect(Math.abs(got[k] - want)).toBeLessThan(1e-4 * (1 + Math.abs(want)));
        }
      }
      expect(s.aopc_morf).toBeCloseTo(aopcOracle(s.morf), 12);
      expect(s.aopc_lerf).toBeCloseTo(aopcOracle(s.lerf), 12);
    }
    await expect(e.aopc({ patch: 65 })).rejects.toThrow(/aopc: options.patch 65 is larger/);
  });

  it('says what to do when input or options are wrong', async () => {
    await expect(explainer.explain({ data: new Float32Array(10), shape: [1, 10] })).rejects.toThrow(/shape \[1, 10\], but model '.*' takes N×3×64×64/);
    await expect(explainer.explain(images, { target: [1, 2] })).rejects.toThrow(/2 targets for 3 samples/);
    await expect(explainer.explain(images[0], { target: 6 })).rejects.toThrow(/target 6 is not a class index in 0..5/);
    await expect(model.explainer({ rules: [{ layers: '#9', rule: 'flat' }] })).rejects.toThrow(/#9/);
    const bare = await lrp.loadModel(readFileSync(DEMO));
    expect(bare.preprocess).toBeNull();
    await expect(bare.predict(images[0])).rejects.toThrow(/no preprocessing spec, so images cannot become its input: pass \{ preprocess/);
    bare.destroy();
    await expect(bare.predict(images[0])).rejects.toThrow(/was destroyed/);
    await expect(lrp.loadModel('nope.onnx')).rejects.toThrow(/nope\.onnx: no such model file/);
    await expect(lrp.loadModel(DEMO, { preprocess: 'missing.json' })).rejects.toThrow(/missing\.json: cannot read the preprocessing spec/);
  });
});

describe("the core's Lrp in Node", () => {
  it("has no navigator.gpu to take, and says to use webgpu-lrp/node", async () => {
    await expect(CoreLrp.create()).rejects.toThrow(NoWebGpuError);
    await expect(CoreLrp.create()).rejects.toThrow(/Lrp of 'webgpu-lrp\/node'/);
  });

  it("runs on a device of the caller's with the embedded WGSL, as the Node Lrp with the files", async () => {
    const node = await Lrp.create();
    try {
      const core = await CoreLrp.create({ device: node.device });
      const bytes = readFileSync(DEMO);
      const spec = JSON.parse(readFileSync(`${DEMO}.json`, 'utf8'));
      const a = await (await (await core.loadModel(bytes, { preprocess: spec, name: 'demo' })).explainer('cmp-alpha2-flat')).explain(images[0]);
      const b = await (await (await node.loadModel(DEMO)).explainer('cmp-alpha2-flat')).explain(images[0]);
      expect(Array.from(a.relevance.data)).toEqual(Array.from(b.relevance.data));
      core.destroy();
      // The device was the caller's: still usable.
      expect(() => node.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE }).destroy()).not.toThrow();
    } finally {
      node.destroy();
    }
  });
});
