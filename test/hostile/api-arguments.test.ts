// Hostile library calls (issue 25, findings 11 and 12): arguments a JavaScript caller can pass
// are checked at the public API's edge, with messages that name the function, the argument and
// what was given (src/api/arguments.ts), instead of a TypeError from deep inside, a message that
// starts with "undefined:", or a value silently taken for a default (init: 'bogus' ran as onehot,
// top: -1 and 2.5 were accepted). And destroy() racing a GPU operation says what was destroyed
// instead of passing on a raw WebGPU error. One Lrp, the demo model, one lrp-z explainer: every
// check but the race runs before any GPU work.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeValue } from '../../src/io/arguments.ts';
import {
  loadPatterns, localization, Lrp, npyToTensor, parseLabels, parsePreprocessSpec, parsePreprocessSpecText, Patterns, readImage, readNpy,
  savePatterns, tensorToNpy, topClasses, writeNpy, writePng,
  type Explainer, type Model, type RgbaImage, type Tensor,
} from '../../src/node/index.ts';
import { isLinear, numel, type LinearLayer } from '../../src/graph/ir.ts';
import { sourceWeightShape } from '../../src/patterns/pattern-set.ts';
import { synthesize } from '../../src/synth/index.ts';

const DEMO = 'models/demo/demo.onnx';
const image: RgbaImage = synthesize(1, 1).image;
const tmp = mkdtempSync(join(tmpdir(), 'lrp-hostile-api-'));

let lrp: Lrp;
let model: Model;
let explainer: Explainer;

beforeAll(async () => {
  lrp = await Lrp.create();
  model = await lrp.loadModel(DEMO);
  explainer = await model.explainer('lrp-z');
});
afterAll(() => {
  lrp?.destroy();
  rmSync(tmp, { recursive: true, force: true });
});

/** Zero patterns of the right shapes: savePatterns and loadPatterns need real Patterns, not learned ones. */
function zeroPatterns(m: Model): Patterns {
  const tensors: Record<string, Tensor> = {};
  for (const l of m.graph.layers.filter(isLinear) as LinearLayer[]) {
    const shape = sourceWeightShape(l);
    tensors[l.name] = { data: new Float32Array(numel(shape)), shape };
  }
  return Patterns.fromTensors(m, tensors);
}

describe('values in messages', () => {
  it('are shown as a reader names them: NaN stays NaN, objects by their class', () => {
    expect([NaN, null, undefined, -0, 'a', [1, 2], {}, new Float32Array(3)].map(describeValue))
      .toEqual(['NaN', 'null', 'undefined', '-0', "'a'", 'an array of 2', 'an object', 'a Float32Array of 3']);
    expect(describeValue(model)).toBe(`a Model ('${DEMO}')`);
  });
});

describe('finding 11: errors name the argument and what was given', () => {
  it('loadModel of a folder says it is a folder; options must be an object', async () => {
    await expect(lrp.loadModel(tmp)).rejects.toThrow(new RegExp(`^${tmp.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: a folder, not an ONNX model file$`));
    await expect(lrp.loadModel(DEMO, null as never)).rejects.toThrow(/^loadModel: options must be an object \(or left out\), got null$/);
  });

  it('learnPatterns(null) and a bad batchSize', async () => {
    await expect(model.learnPatterns(null as never)).rejects.toThrow(/^learnPatterns: input must be images, a tensor, or an iterable or async iterable of them, got null$/);
    await expect(model.learnPatterns(7 as never)).rejects.toThrow(/^learnPatterns: input must be .*, got 7$/);
    await expect(model.learnPatterns(image, { batchSize: 0 })).rejects.toThrow(/^learnPatterns: options\.batchSize must be a whole number from 1 to \d+ .*, got 0$/);
  });

  it('parseLabels and parsePreprocessSpec without a source name themselves, never "undefined:"', () => {
    expect(() => parseLabels(null as never)).toThrow(/^parseLabels: text must be the text of a labels file \(a string\), got null$/);
    expect(() => parseLabels('[1,')).toThrow(/^parseLabels: not valid JSON/);
    expect(parseLabels('cat\ndog')).toEqual(['cat', 'dog']);
    expect(() => parsePreprocessSpec(null)).toThrow(/^parsePreprocessSpec: preprocessing spec must be a JSON object, got null$/);
    expect(() => parsePreprocessSpec({})).toThrow(/^parsePreprocessSpec: preprocessing spec field "size" must be/);
    expect(() => parsePreprocessSpecText('{')).toThrow(/^parsePreprocessSpecText: preprocessing spec is not valid JSON/);
    expect(() => parsePreprocessSpecText(null as never, 'p.json')).toThrow(/^parsePreprocessSpecText: text must be JSON text \(a string\), got null$/);
  });

  it('savePatterns with a bad argument, loadPatterns with its arguments swapped', () => {
    const dir = join(tmp, 'saved');
    const patterns = zeroPatterns(model);
    expect(() => savePatterns(dir, null as never, model)).toThrow(/^savePatterns: patterns must be Patterns from .*, got null$/);
    expect(() => savePatterns(dir, {} as never, model)).toThrow(/^savePatterns: patterns must be Patterns .*, got an object$/);
    expect(() => savePatterns(5 as never, patterns, model)).toThrow(/^savePatterns: dir must be the patterns folder's path \(a string\), got 5$/);
    expect(() => savePatterns(dir, patterns, DEMO as never)).toThrow(/^savePatterns: model must be a Model from lrp\.loadModel\(\), got 'models\/demo\/demo\.onnx'$/);
    expect(() => loadPatterns(model as never, dir as never)).toThrow(/^loadPatterns: dir must be the patterns folder's path \(a string\), got a Model \('models\/demo\/demo\.onnx'\)$/);
    // Saved from tensors, their samples are not known: null, which reads back (0 would be refused).
    savePatterns(dir, patterns, model);
    const file = JSON.parse(readFileSync(join(dir, 'patterns.json'), 'utf8'));
    expect([file.samples, file.statistics.library]).toEqual([null, 'Patterns.fromTensors() or loadPatterns()']);
    expect(loadPatterns(dir, model).nodes).toEqual(patterns.nodes);
  });

  it('the rest of the API\'s entry points name their argument instead of a TypeError', async () => {
    await expect(Lrp.create(null as never)).rejects.toThrow(/^Lrp\.create: options must be an object \(or left out\), got null$/);
    await expect(model.explainer('lrp-z', null as never)).rejects.toThrow(/^explainer: options must be an object/);
    await expect(model.evaluator(null as never)).rejects.toThrow(/^evaluator: analyzers must be a list of composites, or an object of them by name, got null$/);
    await expect(model.explainEach(image, null as never)).rejects.toThrow(/^explainEach: explainers must be a list of explainers/);
    expect(() => Patterns.fromTensors(null as never, {})).toThrow(/^Patterns\.fromTensors: model must be a Model/);
    expect(() => Patterns.fromTensors(model, { x: [1] } as never)).toThrow(/^Patterns\.fromTensors: patterns\['x'\] must be a tensor .*, got an array of 1$/);
    await expect(readImage(null as never)).rejects.toThrow(/^readImage: source must be a file path or the file's bytes/);
    await expect(writePng(join(tmp, 'a.png'), { width: 2, height: 2, data: new Uint8Array(3) })).rejects.toThrow(/^writePng: image must be an RGBA image/);
    await expect(writeNpy(join(tmp, 'a.npy'), null as never)).rejects.toThrow(/^writeNpy: tensor must be a tensor/);
    await expect(readNpy(null as never)).rejects.toThrow(/^readNpy: path must be a file path \(a string\), got null$/);
    expect(() => tensorToNpy({ data: new Float32Array(3), shape: [2, 2] })).toThrow(/^tensorToNpy: tensor has 3 values, but its shape \[2, 2\] needs 4$/);
    expect(() => npyToTensor(null as never)).toThrow(/^npyToTensor: bytes must be the bytes of a \.npy file/);
    expect(() => localization(null as never, [])).toThrow(/^localization: relevance must be a tensor/);
    expect(() => topClasses(null as never)).toThrow(/^topClasses: logits must be a list or typed array of numbers, got null$/);
  });

  it('target NaN is reported as NaN, not null', async () => {
    await expect(explainer.explain(image, { target: NaN })).rejects.toThrow(/^target NaN is neither a class index/);
  });
});

describe('finding 12: options that would mean nothing are refused', () => {
  it('init must be logit or onehot (bogus was taken for onehot)', async () => {
    await expect(explainer.explain(image, { init: 'bogus' as never })).rejects.toThrow(/^explain: options\.init must be one of 'logit', 'onehot', got 'bogus'$/);
    await expect(explainer.explainOnGpu(image, { init: 'bogus' as never })).rejects.toThrow(/^explainOnGpu: options\.init must be one of 'logit', 'onehot', got 'bogus'$/);
    await expect(model.explainEach(image, [explainer], { init: 'Logit' as never })).rejects.toThrow(/^explain: options\.init must be one of/);
  });

  it('top must be a whole number >= 1 (-1 and 2.5 were accepted)', async () => {
    for (const top of [-1, 2.5, 0, NaN]) {
      await expect(model.predict(image, { top })).rejects.toThrow(new RegExp(`^predict: options\\.top must be a whole number >= 1, got ${top}$`));
    }
    expect(() => topClasses([1, 2, 3], -1)).toThrow(/^topClasses: k must be a whole number >= 1, got -1$/);
    const [p] = await model.predict(image, { top: 2 });
    expect(p.top).toHaveLength(2);
  });
});

describe('destroy() racing the GPU (runs last: it destroys the file\'s Lrp)', () => {
  it('an explain and a predict in flight say the Lrp was destroyed; so do calls after it', async () => {
    const explaining = explainer.explain(image);
    const predicting = model.predict(image);
    lrp.destroy();
    await expect(explaining).rejects.toThrow(/^explain: explainer lrp-z \(or its model, or the Lrp\) was destroyed while it ran \(destroy\(\) came before it finished\)/);
    await expect(predicting).rejects.toThrow(/^predict: model 'models\/demo\/demo\.onnx' \(or the Lrp\) was destroyed while it ran/);
    await expect(explainer.explain(image)).rejects.toThrow(/^explainer lrp-z of model 'models\/demo\/demo\.onnx' was destroyed; make a new one/);
    await expect(model.predict(image)).rejects.toThrow(/^model 'models\/demo\/demo\.onnx' was destroyed/);
    await expect(lrp.loadModel(DEMO)).rejects.toThrow(/^this Lrp was destroyed/);
  });
});
