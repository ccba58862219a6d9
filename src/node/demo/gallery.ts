/**
 * The demo's gallery, like the paper's Fig. 1: for a dozen images, the image with its boxes and
 * every analyzer's heatmap side by side, as PNGs and one HTML page.
 */
import { mkdirSync } from 'node:fs';
import { writeFileNamed } from '../file-errors.ts';
import { join } from 'node:path';
import { ForwardModel } from '../../forward/model.ts';
import type { Graph } from '../../graph/ir.ts';
import { channelSum, heatmap } from '../../io/heatmap.ts';
import { Explainer } from '../../lrp/explainer.ts';
import { transformBox } from '../../preprocess/geometry.ts';
import { preprocessImage, resampleRect, type RgbaImage } from '../../preprocess/image.ts';
import { sourceRect } from '../../preprocess/geometry.ts';
import type { PreprocessSpec } from '../../preprocess/spec.ts';
import type { Sample } from '../../eval/types.ts';
import type { AnalyzerSpec } from '../eval/setup.ts';
import type { NodeGpu } from '../gpu.ts';
import { readImage } from '../image-decode.ts';
import { encodePng } from '../png.ts';

const BOX_COLOURS: [number, number, number][] = [[255, 210, 0], [0, 230, 120], [255, 80, 220], [0, 200, 255], [255, 120, 0], [160, 120, 255]];

/** Draws 1-pixel rectangle outlines into an RGBA image (input coordinates, half-open). */
function drawBoxes(img: RgbaImage, boxes: { box: { xmin: number; ymin: number; xmax: number; ymax: number }; colour: [number, number, number] }[]): RgbaImage {
  const data = new Uint8Array(img.data);
  const put = (x: number, y: number, c: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
    data.set([...c, 255], 4 * (y * img.width + x));
  };
  for (const { box, colour } of boxes) {
    const x0 = Math.floor(box.xmin), x1 = Math.ceil(box.xmax) - 1, y0 = Math.floor(box.ymin), y1 = Math.ceil(box.ymax) - 1;
    for (let x = x0; x <= x1; x++) { put(x, y0, colour); put(x, y1, colour); }
    for (let y = y0; y <= y1; y++) { put(x0, y, colour); put(x1, y, colour); }
  }
  return { width: img.width, height: img.height, data };
}

/** Scales an image up by an integer factor (nearest), so 64-pixel maps are visible on a page. */
function enlarge(img: RgbaImage, k: number): RgbaImage {
  const w = img.width * k, h = img.height * k;
  const data = new Uint8Array(4 * w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const s = 4 * (Math.floor(y / k) * img.width + Math.floor(x / k));
    data.set(img.data.subarray(s, s + 4), 4 * (y * w + x));
  }
  return { width: w, height: h, data };
}

export interface GalleryOptions {
  readonly gpu: NodeGpu;
  readonly graph: Graph;
  readonly preprocess: PreprocessSpec;
  readonly analyzers: readonly AnalyzerSpec[];
  readonly samples: readonly Sample[];
  readonly classNames: readonly string[];
  readonly out: string;
}

/** Writes `out/index.html` and its PNGs; each image is explained for its first class. */
export async function writeGallery(o: GalleryOptions): Promise<string> {
  mkdirSync(o.out, { recursive: true });
  const [c, h, w] = o.graph.input.shape;
  const per = c * h * w;
  const zoom = Math.max(1, Math.round(160 / w));
  const images = await Promise.all(o.samples.map((s) => readImage(s.imagePath)));
  const input = new Float32Array(o.samples.length * per);
  images.forEach((img, n) => input.set(preprocessImage(img, o.preprocess), n * per));
  const targets = o.samples.map((s) => s.classes[0].classIndex);

  const rows: string[] = [];
  const fm = await ForwardModel.create(o.gpu.ctx, o.graph);
  const maps = new Map<string, Float32Array>();
  try {
    const acts = await fm.forward(input, o.samples.length);
    try {
      for (const a of o.analyzers) {
        const ex = await Explainer.create(fm, a.composite);
        try {
          maps.set(a.name, (await ex.explainActivations(acts, { targets, init: 'logit' })).relevance);
        } finally {
          ex.destroy();
        }
      }
    } finally {
      acts.release();
    }
  } finally {
    fm.destroy();
  }

  o.samples.forEach((s, n) => {
    const img = images[n];
    const resized = resampleRect(img, sourceRect(img.width, img.height, o.preprocess), w, h);
    const boxes = s.classes.flatMap((cl) => cl.boxes.map((b) => ({
      box: transformBox(b, img.width, img.height, o.preprocess), colour: BOX_COLOURS[cl.classIndex % BOX_COLOURS.length],
    }))).filter((b): b is { box: NonNullable<typeof b.box>; colour: [number, number, number] } => b.box !== null);
    const file = `${s.id}.png`;
    writeFileNamed(join(o.out, file), encodePng(enlarge(drawBoxes(resized, boxes), zoom)));
    const cells = [`<td><img src="${file}" alt="${s.id}"><br>${s.id}<br><b>${o.classNames[targets[n]] ?? targets[n]}</b>${s.classes.length > 1 ? ` (+${s.classes.slice(1).map((cl) => cl.className).join(', ')})` : ''}</td>`];
    for (const a of o.analyzers) {
      const map = channelSum(maps.get(a.name)!.subarray(n * per, (n + 1) * per), c, h, w);
      const hm = `${s.id}_${a.name.replace(/[^\w.-]+/g, '_')}.png`;
      writeFileNamed(join(o.out, hm), encodePng(enlarge(heatmap(map, h, w), zoom)));
      cells.push(`<td><img src="${hm}" alt="${a.name}"></td>`);
    }
    rows.push(`<tr>${cells.join('')}</tr>`);
  });
  const head = `<tr><th>image, boxes, explained class</th>${o.analyzers.map((a) => `<th>${a.name}</th>`).join('')}</tr>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>webgpu-lrp demo gallery</title>
<style>body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{padding:4px;text-align:center;font-size:12px;vertical-align:top}img{image-rendering:pixelated}</style>
</head><body>
<h1>Heatmaps by analyzer</h1>
<p>Relevance of the first class of each image (its boxes drawn on the left), summed over colour channels: red positive, blue negative, white zero, each map scaled by its largest absolute value.</p>
<table>${head}${rows.join('\n')}</table>
</body></html>
`;
  const path = join(o.out, 'index.html');
  writeFileNamed(path, html);
  return path;
}
