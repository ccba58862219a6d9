/**
 * Draws docs/rendering.png, the README's picture of the rendering options: the demo model's
 * relevance for the demo image (models/demo/demo.png, a cross) under several --cmap / --mode /
 * --overlay settings, each panel enlarged 3x, with a caption strip. Run: npx tsx scripts/docs-rendering.ts
 */
import { fileURLToPath } from 'node:url';
import { ForwardModel } from '../src/forward/model.ts';
import { relevancePicture, relevancePlane, type PictureOptions } from '../src/heatmap/index.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { readImage } from '../src/node/image-decode.ts';
import { loadModel } from '../src/node/model-file.ts';
import { writePng } from '../src/node/png.ts';
import { preprocessImage, type RgbaImage } from '../src/preprocess/image.ts';
import { caption } from './docs/caption.ts';

const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const PANELS: { title: string; opts: PictureOptions }[] = [
  { title: 'bwr', opts: {} },
  { title: 'bwr --overlay', opts: { overlay: true } },
  { title: 'seismic', opts: { cmap: 'seismic' } },
  { title: 'coldnhot', opts: { cmap: 'coldnhot' } },
  { title: 'wred --mode positive', opts: { cmap: 'wred', mode: 'positive' } },
  { title: 'gray --mode absolute', opts: { cmap: 'gray', mode: 'absolute' } },
];
const K = 3;

const model = loadModel(root('models/demo/demo.onnx'));
const spec = model.preprocess!;
const image = await readImage(root('models/demo/demo.png'));
const gpu = await createNodeGpu();
try {
  const fm = await ForwardModel.create(gpu.ctx, model.graph);
  const ex = await Explainer.create(fm, resolveComposite(parseComposite('cmp-alpha2-flat', 'preset'), model.graph, { preprocess: spec }));
  const r = await ex.explain(preprocessImage(image, spec), 1, { targets: 'predicted' });
  const plane = relevancePlane(r.relevance, model.graph.input.shape, 0);
  const [h, w] = spec.size;
  const pw = w * K, ph = h * K, gap = 8, top = 18;
  const out: RgbaImage = { width: PANELS.length * (pw + gap) - gap, height: ph + top, data: new Uint8Array(4 * (PANELS.length * (pw + gap) - gap) * (ph + top)).fill(255) };
  PANELS.forEach((p, k) => {
    const pic = relevancePicture(plane, { ...p.opts, image, spec });
    for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) {
      const s = 4 * (Math.floor(y / K) * w + Math.floor(x / K));
      out.data.set(pic.image.data.subarray(s, s + 4), 4 * ((y + top) * out.width + k * (pw + gap) + x));
    }
    caption(out, p.title, k * (pw + gap), 3);
  });
  await writePng(root('docs/rendering.png'), out);
  console.log(`wrote docs/rendering.png (${out.width}×${out.height}); class ${r.targets[0]}, logit ${r.targetLogits[0].toFixed(3)}`);
  ex.destroy();
  fm.destroy();
} finally {
  gpu.close();
}
