// The committed demo models (models/demo/demo.onnx, the VGG-style CNN, and demo-efficientnet.onnx,
// torchvision's EfficientNet trained on the same data): each imports, runs on the GPU forward,
// matches the float64 CPU reference, and classifies a freshly synthesised held-out set as well as
// training/README.md says.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { predict } from '../src/forward/predict.ts';
import { numel } from '../src/graph/ir.ts';
import { loadModel } from '../src/node/model-file.ts';
import { preprocessImage } from '../src/preprocess/image.ts';
import { synthesize } from '../src/synth/generate.ts';
import { SYNTH_CLASSES } from '../src/synth/shapes.ts';
import { labelVector } from '../src/synth/voc.ts';
import { referenceForward } from './reference/forward.ts';
import { relL2, useGpu } from './helpers/gpu.ts';

const root = (rel: string) => fileURLToPath(new URL(`../${rel}`, import.meta.url));
/** Each model, and layer kinds its graph must have (what makes it that architecture). */
const MODELS = [
  { name: 'demo', kinds: ['conv', 'dense', 'maxpool'] },
  { name: 'demo-efficientnet', kinds: ['conv', 'dense', 'silu', 'gate', 'add', 'globalavgpool'] },
];
const README = root('training/README.md');

/** The demo's held-out seed (training used another; see training/README.md). */
const HELD_OUT_SEED = 1;
const IMAGES = 128;
/** How far below the stated held-out mAP a 128-image sample may fall. */
const MARGIN = 0.04;

const shared = useGpu();

interface Metrics {
  classes: string[];
  test_map: number;
  size: number;
}

/** Non-interpolated average precision: the mean precision at each positive, ranked by score. */
function averagePrecision(scores: number[], labels: number[]): number {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  let hits = 0, sum = 0;
  order.forEach((i, rank) => {
    if (labels[i]) {
      hits++;
      sum += hits / (rank + 1);
    }
  });
  return hits ? sum / hits : NaN;
}

for (const { name, kinds: expectedKinds } of MODELS) describe(`demo model ${name}`, () => {
  const MODEL = root(`models/demo/${name}.onnx`);
  const metrics = JSON.parse(readFileSync(root(`models/demo/${name}.metrics.json`), 'utf8')) as Metrics;
  const model = loadModel(MODEL);
  const { graph, preprocess } = model;

  it('imports with its preprocessing spec, and the README states its accuracy', () => {
    expect(existsSync(`${MODEL}.json`)).toBe(true);
    expect(preprocess).not.toBeNull();
    expect(preprocess!.size).toEqual([metrics.size, metrics.size]);
    expect(preprocess!.channels).toBe('RGB');
    expect(preprocess!.resize).toBe('rescale');
    expect([...graph.input.shape]).toEqual([3, metrics.size, metrics.size]);
    expect(numel(graph.values.get(graph.output)!.shape)).toBe(SYNTH_CLASSES.length);
    expect(metrics.classes).toEqual([...SYNTH_CLASSES]);
    const kinds = new Set(graph.layers.map((l) => l.kind));
    for (const k of expectedKinds) expect(kinds, `layer kinds ${[...kinds].join(', ')}`).toContain(k);
    expect(readFileSync(README, 'utf8')).toContain(metrics.test_map.toFixed(4));
  });

  const samples = Array.from({ length: IMAGES }, (_, i) => synthesize(HELD_OUT_SEED, i + 1, { size: metrics.size }));
  const per = numel(graph.input.shape);
  const input = new Float32Array(IMAGES * per);
  samples.forEach((s, i) => input.set(preprocessImage(s.image, preprocess!), i * per));

  it(`reaches the stated held-out mAP on ${IMAGES} fresh images (seed ${HELD_OUT_SEED}), and matches the float64 reference`, async () => {
    const fm = await ForwardModel.create(shared.ctx, graph);
    let logits: Float32Array;
    try {
      logits = await predict(fm, input, IMAGES);
    } finally {
      fm.destroy();
    }
    const C = SYNTH_CLASSES.length;
    const labels = samples.map(labelVector);
    const aps = SYNTH_CLASSES.map((_, c) => averagePrecision(
      samples.map((_, i) => logits[i * C + c]), labels.map((y) => y[c]),
    ));
    const mAP = aps.reduce((a, b) => a + b, 0) / C;
    console.log(`${name}, ${IMAGES} held-out images: mAP ${mAP.toFixed(4)} (stated ${metrics.test_map}); `
      + `AP ${SYNTH_CLASSES.map((n, c) => `${n} ${aps[c].toFixed(3)}`).join(', ')}`);
    expect(mAP).toBeGreaterThanOrEqual(metrics.test_map - MARGIN);

    // The GPU logits against the float64 CPU reference on a few images.
    const n = 3;
    const ref = referenceForward(graph, Float64Array.from(input.subarray(0, n * per)), n).get(graph.output)!;
    const err = relL2(logits.subarray(0, n * C), ref);
    expect(err, `relative L2 ${err}`).toBeLessThanOrEqual(1e-4);
  });
});
