/**
 * Draws docs/models.png, the README's picture of one composite on three architectures: the demo
 * model (VGG-style) and its EfficientNet sibling trained on the same data by
 * training/train_demo.py, each explaining the same held-out images under cmp-alpha2-flat for the
 * class it finds most likely (the boxes of that class drawn on the image), and a ViT with random
 * weights from the built-in builder (8 x 8 patches, width 48, 3 blocks: no ViT trained on this
 * machine's budget; see training/README.md), which shows the shape of a ViT's relevance (its
 * patch grid, the attention's spread) and explains nothing. Run: npx tsx scripts/docs-models.ts
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ForwardModel } from '../src/forward/model.ts';
import { canonize } from '../src/graph/canonize/index.ts';
import type { Graph } from '../src/graph/ir.ts';
import { Rng } from '../src/graph/zoo.ts';
import { visionTransformer, type VitConfig } from '../src/graph/zoo-vit.ts';
import { relevancePicture, relevancePlane } from '../src/heatmap/index.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { loadModel, readPreprocessFile } from '../src/node/model-file.ts';
import { writePng } from '../src/node/png.ts';
import { preprocessImage, type RgbaImage } from '../src/preprocess/image.ts';
import type { PreprocessSpec } from '../src/preprocess/spec.ts';
import { synthesize, type SynthSample } from '../src/synth/index.ts';
import { caption } from './docs/caption.ts';

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const MODELS = [
  { file: 'models/demo/demo.onnx', title: 'vgg-style cnn' },
  { file: 'models/demo/demo-efficientnet.onnx', title: 'efficientnet' },
];
const VIT: VitConfig = { patch: 8, dim: 48, depth: 3, heads: 3, mlp: 96, classes: 6 };
/** Held-out images (seed 1, the demo's test seed) with one to three objects of different classes. */
const SEED = 1;
const IMAGES = [3, 7, 12, 21];
const COMPOSITE = 'cmp-alpha2-flat';
const K = 3;

/** The picture of sample n's relevance with the boxes of `cls` outlined in black. */
function withBoxes(pic: RgbaImage, sample: SynthSample, cls: number): RgbaImage {
  const out = { ...pic, data: pic.data.slice() };
  for (const o of sample.objects) {
    if (o.classIndex !== cls) continue;
    const { xmin, ymin, xmax, ymax } = o.box; // VOC: 1-based, inclusive
    for (let y = ymin - 1; y <= ymax - 1; y++) for (let x = xmin - 1; x <= xmax - 1; x++) {
      if (y !== ymin - 1 && y !== ymax - 1 && x !== xmin - 1 && x !== xmax - 1) continue;
      out.data.set([0, 0, 0, 255], 4 * (y * out.width + x));
    }
  }
  return out;
}

// The ViT takes the demo's preprocessing (the spec file alone: the demo model itself is loaded in its row).
const demoSpec = readPreprocessFile(root('models/demo/demo.onnx.json'));
const models: { title: string; load: () => { graph: Graph; preprocess: PreprocessSpec } }[] = [
  ...MODELS.filter((m) => existsSync(root(m.file))).map((m) => ({ title: m.title, load: () => {
    const model = loadModel(root(m.file));
    return { graph: model.graph, preprocess: model.preprocess! };
  } })),
  { title: 'vit random', load: () => ({ graph: canonize(visionTransformer('vit', new Rng(1), 64, VIT, 'input', 'logits')).graph, preprocess: demoSpec }) },
];
const samples = IMAGES.map((n) => synthesize(SEED, n));
const [h, w] = [samples[0].image.height, samples[0].image.width];
const pw = w * K, ph = h * K, gap = 8, left = 120, top = 18;
const cols = IMAGES.length;
// The first row is the images themselves; a row per model below.
const out: RgbaImage = { width: left + cols * (pw + gap) - gap, height: top + (1 + models.length) * (ph + gap) - gap, data: new Uint8Array(0) };
out.data = new Uint8Array(4 * out.width * out.height).fill(255);
const paste = (pic: RgbaImage, row: number, col: number) => {
  for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) {
    const s = 4 * (Math.floor(y / K) * w + Math.floor(x / K));
    out.data.set(pic.data.subarray(s, s + 4), 4 * ((top + row * (ph + gap) + y) * out.width + left + col * (pw + gap) + x));
  }
};
caption(out, COMPOSITE, left, 3);
caption(out, 'image', 4, top + ph / 2 - 5);
samples.forEach((s, i) => paste(s.image, 0, i));

const gpu = await createNodeGpu();
try {
  for (const [k, m] of models.entries()) {
    const row = k + 1;
    const model = m.load();
    const spec = model.preprocess;
    const fm = await ForwardModel.create(gpu.ctx, model.graph);
    const ex = await Explainer.create(fm, resolveComposite(parseComposite(COMPOSITE, 'preset'), model.graph, { preprocess: spec }));
    const batch = samples.map((s) => preprocessImage(s.image, spec));
    const input = new Float32Array(batch.reduce((n, b) => n + b.length, 0));
    batch.forEach((b, i) => input.set(b, i * b.length));
    const r = await ex.explain(input, samples.length, { targets: 'predicted' });
    caption(out, m.title, 4, top + row * (ph + gap) + ph / 2 - 5);
    const classes: string[] = [];
    samples.forEach((s, i) => {
      const plane = relevancePlane(r.relevance, model.graph.input.shape, i);
      paste(withBoxes(relevancePicture(plane, { image: s.image, spec }).image, s, r.targets[i]), row, i);
      classes.push(`${s.objects.find((o) => o.classIndex === r.targets[i])?.name ?? `class ${r.targets[i]} (not in the image)`}`);
    });
    console.log(`${m.title}: predicted ${classes.join(', ')}`);
    ex.destroy();
    fm.destroy();
  }
  await writePng(root('docs/models.png'), out);
  console.log(`wrote docs/models.png (${out.width}×${out.height}): ${models.map((m) => m.title).join(', ')}`);
} finally {
  gpu.close();
}
