/**
 * Drawing the input, the heatmap with its colour bar, the top classes and the download links, from
 * page state and the rendering controls. A click on a class row is handled by main.ts (it runs
 * again), so drawing never starts a run.
 */
import {
  colorbarSvg, croppedImage, drawHeatmap, heatmapScale, relevancePicture, relevancePlane, scaleDescription, tensorToNpy, topClasses,
  type HeatmapMode, type PictureSize, type Plane, type PreprocessSpec, type RgbaImage,
} from '../src/index.ts';
import { effectivePreprocess, imageShape } from './model-info.ts';
import { ui } from './page.ts';
import { state, type RunResult } from './state.ts';

export function draw(canvas: HTMLCanvasElement, img: RgbaImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.classList.toggle('smooth', img.width >= 160);
  const g = canvas.getContext('2d');
  if (!g) throw new Error('no 2D canvas context');
  g.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
}

/** A C×H×W sample as pixels: undoing the preprocessing when there is one, else min-max scaled. */
function tensorPixels(sample: Float32Array, c: number, h: number, w: number, spec: PreprocessSpec | null): RgbaImage {
  const plane = h * w;
  const out = new Uint8Array(4 * plane);
  const specFits = spec && (spec.channels === 'GRAY' ? c === 1 : c === 3) && spec.size[0] === h && spec.size[1] === w;
  let lo = Infinity;
  let hi = -Infinity;
  if (!specFits) for (const v of sample) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const range = hi > lo ? hi - lo : 1;
  const value = (ch: number, i: number): number => {
    const x = sample[ch * plane + i];
    if (specFits) return (x * spec.std[ch] + spec.mean[ch]) / spec.scale;
    return (255 * (x - lo)) / range;
  };
  const rgbFrom = spec?.channels === 'BGR' && specFits ? [2, 1, 0] : [0, 1, 2];
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) {
      let v: number;
      if (c === 3) v = value(rgbFrom[k], i);
      else if (c === 1) v = value(0, i);
      else { v = 0; for (let ch = 0; ch < c; ch++) v += value(ch, i) / c; }
      out[4 * i + k] = Math.max(0, Math.min(255, Math.round(v)));
    }
    out[4 * i + 3] = 255;
  }
  return { width: w, height: h, data: out };
}

/** The input as the model sees it (cropped and resized), sample `n` of a batch. */
function inputPixels(n: number): RgbaImage | null {
  const model = state.model;
  const input = state.input;
  if (!input) return null;
  const chw = model ? imageShape(model.facts) : null;
  if (input.kind === 'image') {
    const spec = model ? effectivePreprocess(model).spec : null;
    return spec ? croppedImage(input.rgba, spec) : input.rgba;
  }
  const s = chw ?? (input.shape.length === 4 ? [input.shape[1], input.shape[2], input.shape[3]] : input.shape.length === 3 ? input.shape : null);
  if (!s || s.length !== 3) return null;
  const [c, h, w] = s;
  const per = c * h * w;
  if (input.data.length < (n + 1) * per) return null;
  // Only a real preprocessing spec can be undone; a guessed one would clip the values.
  return tensorPixels(input.data.subarray(n * per, (n + 1) * per), c, h, w, model?.preprocess ?? null);
}

export function drawInputPreview(): void {
  const px = inputPixels(0);
  if (px) draw(ui.inputCanvas, px);
}

export function currentSample(): number {
  const n = Number(ui.sample.value);
  const batch = state.last?.batch ?? 1;
  return Number.isInteger(n) && n >= 0 && n < batch ? n : 0;
}

/** The rendering controls as options of relevancePicture. */
function renderOptions(): { cmap: string; mode: HeatmapMode; clip: number; size: PictureSize; overlay: boolean } {
  return {
    cmap: ui.cmap.value, mode: ui.mode.value as HeatmapMode, clip: Number(ui.clip.value),
    size: ui.size.value as PictureSize, overlay: ui.overlay.checked,
  };
}

/**
 * Sample `n`'s heatmap as the controls ask: the image and its preprocessing are there for image
 * inputs (overlay, original size); a tensor input falls back to a plain map at the input size.
 */
export function picture(plane: Plane, n: number) {
  const opts = renderOptions();
  const model = state.model;
  const input = state.input;
  if (input?.kind === 'image' && model) {
    const spec = effectivePreprocess(model).spec;
    if (spec) return relevancePicture(plane, { ...opts, image: input.rgba, spec });
  }
  // A tensor: the map at the input size, over the de-normalised input when asked.
  const px = opts.overlay ? inputPixels(n) : null;
  const under = px && px.width === plane.width && px.height === plane.height ? px : null;
  const scale = heatmapScale(plane, { cmap: opts.cmap, mode: opts.mode, clip: opts.clip });
  return { image: drawHeatmap(plane, scale, { overlay: under }), scale };
}

let downloadUrls: string[] = [];
/** Points the download links at the shown heatmap (PNG) and the sample's relevance (.npy, 1×C×H×W float32). */
function refreshDownloads(r: RunResult, n: number): void {
  for (const u of downloadUrls) URL.revokeObjectURL(u);
  downloadUrls = [];
  const per = r.shape.reduce((a, b) => a * b, 1);
  const stem = `${(state.input?.name ?? 'input').replace(/\.[^.]*$/, '')}${r.batch > 1 ? `_${n}` : ''}.${r.composite}`;
  const npy = tensorToNpy({ data: r.relevance.slice(n * per, (n + 1) * per), shape: [1, ...r.shape] });
  const npyUrl = URL.createObjectURL(new Blob([npy as BlobPart], { type: 'application/octet-stream' }));
  downloadUrls.push(npyUrl);
  ui.downloadNpy.href = npyUrl;
  ui.downloadNpy.download = `${stem}.npy`;
  ui.downloadNpy.hidden = false;
  ui.heatmapCanvas.toBlob((blob) => {
    if (!blob) return;
    const url = URL.createObjectURL(blob);
    downloadUrls.push(url);
    ui.downloadPng.href = url;
    ui.downloadPng.download = `${stem}.png`;
    ui.downloadPng.hidden = false;
  }, 'image/png');
}

export function render(): void {
  const r = state.last;
  const n = currentSample();
  const px = inputPixels(n);
  if (px) draw(ui.inputCanvas, px);
  if (!r) return;
  const shape = r.shape.length === 3 ? r.shape : [1, 1, r.shape.reduce((a, b) => a * b, 1)];
  const pic = picture(relevancePlane(r.relevance, shape, n), n);
  draw(ui.heatmapCanvas, pic.image);
  ui.colorbar.innerHTML = colorbarSvg(pic.scale, { width: 280 });
  ui.scaleText.textContent = `(${pic.scale.cmap.name}, ${pic.scale.mode}: colours span ${scaleDescription(pic.scale)})`;
  refreshDownloads(r, n);

  const labels = state.model?.labels ?? null;
  const label = (i: number) => (labels?.[i] !== undefined ? `${labels[i]} (${i})` : `class ${i}`);
  const row = r.logits.subarray(n * r.classes, (n + 1) * r.classes);
  const top = topClasses(row, Math.min(5, r.classes));
  const target = r.targets[n];
  if (!top.some((t) => t.index === target)) {
    top.push(...topClasses(row, r.classes).filter((t) => t.index === target));
  }
  const body = ui.topClasses.tBodies[0];
  body.replaceChildren(...top.map((t, k) => {
    const tr = document.createElement('tr');
    tr.dataset.class = String(t.index);
    tr.classList.toggle('target', t.index === target);
    tr.title = t.index === target ? 'the explained class' : 'explain this class';
    const rank = k < 5 ? String(k + 1) : '·';
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.max(1, Math.round(60 * t.probability))}px`;
    const cells = [rank, label(t.index), `${(100 * t.probability).toFixed(1)}%`, t.logit.toFixed(3)].map((text, i) => {
      const td = document.createElement('td');
      if (i === 2) td.append(bar);
      td.append(text);
      if (i >= 2) td.className = 'num';
      return td;
    });
    tr.append(...cells);
    return tr;
  }));
  ui.summary.textContent = `explained ${label(target)} (logit ${r.targetLogits[n].toFixed(4)}, init ${ui.init.value}) `
    + `with ${r.composite}: sum of relevance ${r.relevanceSums[n].toPrecision(6)}`
    + (r.batch > 1 ? `; sample ${n} of ${r.batch}` : '') + ` — ${r.ms.toFixed(0)} ms`;
}
