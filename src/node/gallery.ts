/**
 * A heatmap gallery like the paper's Fig. 1: for a handful of images, the image with its boxes
 * and every analyzer's heatmap side by side, as PNGs and one HTML page with a colour bar. Used by
 * `lrp demo` and `lrp eval --gallery N` (any dataset, images chosen by a seed).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Sample } from '../eval/types.ts';
import { escapeXml } from '../eval/plot.ts';
import { ForwardModel } from '../forward/model.ts';
import type { ConvMode } from '../forward/winograd.ts';
import type { Graph } from '../graph/ir.ts';
import { colorbarSvg, heatmapScale, relevancePicture, relevancePlane, scaleDescription, type HeatmapMode } from '../heatmap/index.ts';
import { Explainer } from '../lrp/explainer.ts';
import { sourceRect, transformBox } from '../preprocess/geometry.ts';
import { preprocessImage, resampleRect, type RgbaImage } from '../preprocess/image.ts';
import type { PreprocessSpec } from '../preprocess/spec.ts';
import { Rng } from '../synth/rng.ts';
import type { AnalyzerSpec } from './eval/analyzer.ts';
import type { NodeGpu } from './gpu.ts';
import { readImage } from './image-decode.ts';
import { writeFileNamed } from './file-errors.ts';
import { checkFolderWritable, checkOutputPlan, uniqueStems } from './output-plan.ts';
import { encodePng } from './png.ts';

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
  if (k === 1) return img;
  const w = img.width * k, h = img.height * k;
  const data = new Uint8Array(4 * w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const s = 4 * (Math.floor(y / k) * img.width + Math.floor(x / k));
    data.set(img.data.subarray(s, s + 4), 4 * (y * w + x));
  }
  return { width: w, height: h, data };
}

/**
 * `count` samples chosen by `seed`: a seeded shuffle (Fisher-Yates over synth's mulberry32) of
 * the samples in id order, the first `count`, shown in id order. The same seed and list give the
 * same images on every machine.
 */
export function pickGallery<T extends { readonly id: string }>(samples: readonly T[], count: number, seed: number): T[] {
  const order = [...samples].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rng = new Rng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, Math.max(0, count)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface GalleryRender {
  readonly cmap: string;
  readonly mode: HeatmapMode;
  readonly clip: number;
  readonly overlay: boolean;
}

export interface GalleryOptions {
  readonly gpu: NodeGpu;
  readonly graph: Graph;
  readonly preprocess: PreprocessSpec;
  readonly analyzers: readonly AnalyzerSpec[];
  readonly samples: readonly Sample[];
  readonly classNames: readonly string[];
  readonly out: string;
  readonly render: GalleryRender;
  /** How 3x3 stride-1 convolutions run (eval's `--conv`; default `auto`). */
  readonly conv?: ConvMode;
  /** The page's heading and its first line. */
  readonly title?: string;
  readonly subtitle?: string;
}

/** The files of a gallery: per sample its picture and per analyzer its heatmap, in `out`. */
export interface GalleryFiles {
  readonly image: ReadonlyMap<string, string>;
  /** By sample id, then analyzer name. */
  readonly heatmap: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

/**
 * The gallery's file names (`ID.png`, `ID_ANALYZER.png`, `index.html`; ids and names made file
 * names by output-plan.ts uniqueStems), checked by output-plan.ts: call it before any GPU work, so
 * that names that would overwrite one another (an image id `x_lrp-z` beside `x` explained by
 * `lrp-z`) are refused before the work rather than lost after it.
 */
export function galleryFiles(samples: readonly { readonly id: string }[], analyzers: readonly string[], out: string): GalleryFiles {
  const ids = samples.map((s) => s.id);
  const stems = uniqueStems(ids);
  const idStem = new Map(ids.map((id, i) => [id, stems[i]]));
  const aStems = uniqueStems(analyzers);
  const image = new Map(ids.map((id) => [id, `${idStem.get(id)}.png`]));
  const heatmap = new Map(ids.map((id) => [id, new Map(analyzers.map((a, k) => [a, `${idStem.get(id)}_${aStems[k]}.png`]))]));
  checkFolderWritable(out, 'the gallery');
  checkOutputPlan([
    { path: join(out, 'index.html'), what: 'the gallery', of: 'its page' },
    ...ids.flatMap((id) => [
      { path: join(out, image.get(id)!), what: 'the gallery', of: `the picture of ${id}` },
      ...analyzers.map((a) => ({ path: join(out, heatmap.get(id)!.get(a)!), what: 'the gallery', of: `the heatmap of ${id} by ${a}` })),
    ]),
  ], samples.flatMap((s) => ('imagePath' in s && typeof s.imagePath === 'string' ? [{ path: s.imagePath, what: 'the dataset' }] : [])));
  return { image, heatmap };
}

/** Writes `out/index.html` and its PNGs; each image is explained for its first class. */
export async function writeGallery(o: GalleryOptions): Promise<string> {
  const samples = o.samples.filter((s) => s.classes.length > 0);
  const files = galleryFiles(samples, o.analyzers.map((a) => a.name), o.out);
  mkdirSync(o.out, { recursive: true });
  const [c, h, w] = o.graph.input.shape;
  const per = c * h * w;
  const zoom = Math.max(1, Math.round(160 / w));
  const images = await Promise.all(samples.map((s) => readImage(s.imagePath)));
  const input = new Float32Array(samples.length * per);
  images.forEach((img, n) => input.set(preprocessImage(img, o.preprocess), n * per));
  const targets = samples.map((s) => s.classes[0].classIndex);

  const maps = new Map<string, Float32Array>(o.analyzers.map((a) => [a.name, new Float32Array(samples.length * per)]));
  const fm = await ForwardModel.create(o.gpu.ctx, o.graph, { conv: o.conv });
  try {
    const explainers: Explainer[] = [];
    try {
      for (const a of o.analyzers) explainers.push(await Explainer.create(fm, a.composite));
      // The forward pass takes at most fm.maxBatch; each explainer splits its relevance pass further where its scratch needs.
      for (let n0 = 0; n0 < samples.length; n0 += fm.maxBatch) {
        const n = Math.min(fm.maxBatch, samples.length - n0);
        const acts = await fm.forward(input.subarray(n0 * per, (n0 + n) * per), n);
        try {
          for (let k = 0; k < o.analyzers.length; k++) {
            const ex = await explainers[k].explainActivations(acts, { targets: targets.slice(n0, n0 + n), init: 'logit' });
            maps.get(o.analyzers[k].name)!.set(ex.relevance, n0 * per);
          }
        } finally {
          acts.release();
        }
      }
    } finally {
      explainers.forEach((e) => e.destroy());
    }
  } finally {
    fm.destroy();
  }

  const rows: string[] = [];
  samples.forEach((s, n) => {
    const img = images[n];
    const resized = resampleRect(img, sourceRect(img.width, img.height, o.preprocess), w, h);
    const boxes = s.classes.flatMap((cl) => cl.boxes.map((b) => ({
      box: transformBox(b, img.width, img.height, o.preprocess), colour: BOX_COLOURS[cl.classIndex % BOX_COLOURS.length],
    }))).filter((b): b is { box: NonNullable<typeof b.box>; colour: [number, number, number] } => b.box !== null);
    const file = files.image.get(s.id)!;
    writeFileNamed(join(o.out, file), encodePng(enlarge(drawBoxes(resized, boxes), zoom)));
    const others = s.classes.length > 1 ? ` (+${s.classes.slice(1).map((cl) => escapeXml(cl.className)).join(', ')})` : '';
    const cells = [`<td><img src="${file}" alt="${escapeXml(s.id)}"><br>${escapeXml(s.id)}<br><b>${escapeXml(o.classNames[targets[n]] ?? String(targets[n]))}</b>${others}</td>`];
    for (const a of o.analyzers) {
      const plane = relevancePlane(maps.get(a.name)!, o.graph.input.shape, n);
      const pic = relevancePicture(plane, { ...o.render, image: img, spec: o.preprocess });
      const hm = files.heatmap.get(s.id)!.get(a.name)!;
      writeFileNamed(join(o.out, hm), encodePng(enlarge(pic.image, zoom)));
      cells.push(`<td><img src="${hm}" alt="${escapeXml(a.name)}"></td>`);
    }
    rows.push(`<tr>${cells.join('')}</tr>`);
  });
  // One bar for every map: each is scaled to its own clip, so the bar reads in units of it.
  const scale = heatmapScale({ data: new Float32Array([1, -1]) }, { ...o.render, overlay: null });
  const bar = colorbarSvg(scale, { relative: true, title: 'relevance' });
  const head = `<tr><th>image, boxes, explained class</th>${o.analyzers.map((a) => `<th>${escapeXml(a.name)}</th>`).join('')}</tr>`;
  const title = o.title ?? 'Heatmaps by analyzer';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{padding:4px;text-align:center;font-size:12px;vertical-align:top}img{image-rendering:pixelated}.bar{margin:0.5em 0 1em}</style>
</head><body>
<h1>${escapeXml(title)}</h1>
${o.subtitle ? `<p>${escapeXml(o.subtitle)}</p>\n` : ''}<p>Relevance of the first class of each image (its boxes drawn on the left), summed over colour channels, colour map
<code>${escapeXml(scale.cmap.name)}</code>, ${escapeXml(scale.mode)}${o.render.overlay ? ', over the image in grey' : ''}: each map runs from
${escapeXml(scaleDescription(scale))} (its own scale).</p>
<div class="bar">${bar}</div>
<table>${head}${rows.join('\n')}</table>
</body></html>
`;
  const path = join(o.out, 'index.html');
  writeFileNamed(path, html);
  return path;
}
