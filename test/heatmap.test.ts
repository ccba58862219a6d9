// Heatmaps: zennit's colour maps (hand-computed entries, and every palette byte against zennit
// itself when Python, numpy and ../shared/peers/zennit-0.5.1 are there), percentile clipping,
// the three modes and the overlay on hand-computed pixels, and the inverse preprocessing geometry
// that draws maps at the original image's size.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  colorbarSvg, colormap, COLORMAP_NAMES, drawHeatmap, heatColour, heatmapScale, percentileScale, planeToImage, relevancePicture,
  renderHeatmap, type Plane,
} from '../src/heatmap/index.ts';
import { imagePoint, inputPixelOfImagePixels, transformBox } from '../src/preprocess/geometry.ts';
import type { PreprocessSpec } from '../src/preprocess/spec.ts';
import { pickGallery } from '../src/node/gallery.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';

const entry = (name: string, k: number) => Array.from(colormap(name).palette.subarray(3 * k, 3 * k + 3));
const px = (img: { data: ArrayLike<number>; width: number }, x: number, y = 0) => Array.from({ length: 4 }, (_, c) => img.data[4 * (y * img.width + x) + c]);
const plane = (values: number[], width = values.length): Plane => ({ width, height: values.length / width, data: Float32Array.from(values) });

describe('colour maps', () => {
  it('bwr by hand: blue, white at 0x80, red; entries between interpolate and truncate', () => {
    expect(entry('bwr', 0)).toEqual([0, 0, 255]);
    expect(entry('bwr', 255)).toEqual([255, 0, 0]);
    expect(entry('bwr', 128)).toEqual([255, 255, 255]);
    // 127: 127/128 of the way from 00f to fff: 255 * 127 / 128 = 253.0 → 253.
    expect(entry('bwr', 127)).toEqual([253, 253, 255]);
    // 64: half way: 127.5 → 127.
    expect(entry('bwr', 64)).toEqual([127, 127, 255]);
    // 192: 64/127 of the way from fff (at 128) to f00 (at 255): 255 * 63 / 127 = 126.5 → 126.
    expect(entry('bwr', 192)).toEqual([255, 126, 126]);
    expect(entry('gray', 127)).toEqual([127, 127, 127]);
    expect(entry('seismic', 128)).toEqual([0xd0, 0xd0, 0xd0]);
    // coldnhot is black at 0x80, cyan and white at the ends.
    expect(entry('coldnhot', 128)).toEqual([0, 0, 0]);
    expect(entry('coldnhot', 0)).toEqual([0, 255, 255]);
    expect(entry('coldnhot', 255)).toEqual([255, 255, 255]);
    expect(colormap('bwr').diverging).toBe(true);
    expect(colormap('wred').diverging).toBe(false);
  });

  it('parses cmsl sources and rejects bad ones by name', () => {
    expect(entry('000,80:f00,ff0', 128)).toEqual([255, 0, 0]);
    expect(() => colormap('viridis')).toThrow(/unknown colour map 'viridis' \(zennit's: gray, wred, .*bwr/);
    expect(() => colormap('00f,80:zz,f00')).toThrow(/unknown colour map/);
    expect(() => colormap('00f,80:fff,40:f00')).toThrow(/indices must ascend/);
  });

  const zennit = haveShared('heatmap: zennit palettes', 'peers/zennit-0.5.1/zennit/image.py');
  const python = zennit && spawnSync('/usr/bin/python3', ['-c', 'import numpy, PIL'], { encoding: 'utf8' }).status === 0;
  if (zennit && !python) console.warn('heatmap: /usr/bin/python3 with numpy and PIL is missing; skipping the byte comparison with zennit');
  it.skipIf(!python)('every palette equals zennit\'s, byte for byte', () => {
    const sources = [...COLORMAP_NAMES, '000,80:f00,ff0', '0f0,40:ff0,c0:f0f,fff'];
    const r = spawnSync('/usr/bin/python3', ['-c', `
import json, sys
import zennit.image as im
print(json.dumps({n: im.palette(n).reshape(-1).tolist() for n in json.loads(sys.argv[1])}))
`, JSON.stringify(sources)], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: sharedPath('peers/zennit-0.5.1') } });
    expect(r.status, r.stderr).toBe(0);
    const ref = JSON.parse(r.stdout) as Record<string, number[]>;
    for (const n of sources) expect(Array.from(colormap(n).palette), n).toEqual(ref[n]);
  });
});

describe('scaling and modes', () => {
  // 996 pixels at |R| = 1 (alternating sign), 4 outliers at 100: the 99.5th percentile is entry
  // floor(0.995 * 1000) = 995 of the sorted magnitudes, a 1.
  const values: number[] = Array.from({ length: 1000 }, (_, i) => (i < 4 ? 100 : i % 2 ? 1 : -1));
  values[10] = 0.5;
  values[11] = 0;

  it('clips at the 99.5th percentile of |R| by default, at the largest with clip 100', () => {
    expect(percentileScale(values, 'signed', 99.5)).toBe(1);
    expect(percentileScale(values, 'signed', 100)).toBe(100);
    const { image, scale } = renderHeatmap(plane(values, 100));
    expect(scale.vmax).toBe(1);
    expect(scale.vmin).toBe(-1);
    expect(px(image, 0)).toEqual([255, 0, 0, 255]); // 100, clipped to the top
    expect(px(image, 12)).toEqual([0, 0, 255, 255]); // -1
    expect(px(image, 13)).toEqual([255, 0, 0, 255]); // +1
    // 0.5: t = 0.75, entry floor(191.25) = 191: 63/127 of the way from white: 255 * 64 / 127 = 128.5 → 128.
    expect(px(image, 10)).toEqual([255, 128, 128, 255]);
    // 0: t = 0.5, entry 127, as zennit draws zero.
    expect(px(image, 11)).toEqual([253, 253, 255, 255]);
    // Scaled by the largest value (zennit's max-abs), +1 is nearly white: t = 101/200, entry 128.
    const full = renderHeatmap(plane(values, 100), { clip: 100 });
    expect(px(full.image, 13)).toEqual([255, 255, 255, 255]);
  });

  it('positive: only R > 0, on the upper half of a diverging map; absolute: |R| on a sequential one', () => {
    const pos = renderHeatmap(plane(values, 100), { mode: 'positive' });
    expect(pos.scale.vmin).toBe(0);
    expect(pos.scale.paletteRange).toEqual([127, 255]);
    expect(px(pos.image, 12)).toEqual([253, 253, 255, 255]); // -1 shows as zero
    expect(px(pos.image, 10)).toEqual([255, 128, 128, 255]); // 0.5: t = 0.75
    const abs = renderHeatmap(plane(values, 100), { mode: 'absolute', cmap: 'gray' });
    expect(abs.scale.paletteRange).toEqual([0, 255]);
    expect(px(abs.image, 12)).toEqual([255, 255, 255, 255]); // |-1| = vmax: white
    expect(px(abs.image, 10)).toEqual([127, 127, 127, 255]); // 0.5: entry floor(127.5)
    expect(px(abs.image, 11)).toEqual([0, 0, 0, 255]);
  });

  it('an all-zero map draws in the zero colour; a bad option is named', () => {
    const z = renderHeatmap(plane([0, 0, 0, 0], 2));
    expect(px(z.image, 1)).toEqual([253, 253, 255, 255]);
    expect(() => heatmapScale(plane([1]), { clip: 0 })).toThrow(/clip must be a percentile in \(0, 100\], got 0/);
    expect(() => heatmapScale(plane([1]), { mode: 'both' as never })).toThrow(/mode must be one of signed, positive, absolute/);
  });

  it('overlay: heat over the grey image, alpha = |R| / vmax', () => {
    const under = { width: 2, height: 1, data: new Uint8Array([100, 150, 200, 255, 100, 150, 200, 255]) };
    const scale = heatmapScale(plane([0.5, 0, -1, 1], 4)); // vmax 1
    const img = drawHeatmap(plane([0.5, 0], 2), scale, { overlay: under });
    // luma = 0.299 * 100 + 0.587 * 150 + 0.114 * 200 = 140.75; colour (255, 128, 128) at alpha 0.5.
    expect(px(img, 0)).toEqual([Math.round(0.5 * 255 + 0.5 * 140.75), Math.round(0.5 * 128 + 0.5 * 140.75), Math.round(0.5 * 128 + 0.5 * 140.75), 255]);
    expect(px(img, 0)).toEqual([198, 134, 134, 255]);
    expect(px(img, 1)).toEqual([141, 141, 141, 255]); // R = 0: the grey image
    expect(heatColour(0.5, scale)).toEqual([255, 128, 128]);
  });

  it('draws a colour bar with the scale\'s ends', () => {
    const scale = heatmapScale(plane([-2, 4]), { clip: 100 });
    const svg = colorbarSvg(scale, { title: 'relevance' });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('stop-color="#0000ff"');
    expect(svg).toContain('stop-color="#ff0000"');
    expect(svg).toContain('>−4</text>');
    expect(svg).toContain('>4</text>');
    expect(colorbarSvg(scale, { relative: true })).toContain('>+1</text>');
  });
});

describe('the original image\'s geometry', () => {
  const rescale: PreprocessSpec = { size: [224, 224], channels: 'RGB', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], resize: 'rescale' };
  const crop: PreprocessSpec = { ...rescale, resize: 'shorter-side-crop' };
  const W = 500, H = 375;

  it('maps input points back into the image, both resize modes', () => {
    expect(imagePoint(0, 0, W, H, rescale)).toEqual([0, 0]);
    expect(imagePoint(224, 224, W, H, rescale)).toEqual([500, 375]);
    // The centred 375 × 375 square: its left edge at (500 - 375) / 2 = 62.5.
    expect(imagePoint(0, 0, W, H, crop)).toEqual([62.5, 0]);
    expect(imagePoint(224, 224, W, H, crop)).toEqual([437.5, 375]);
  });

  for (const [mode, spec] of [['rescale', rescale], ['shorter-side-crop', crop]] as const) {
    it(`a box's corner goes to the right original pixel (${mode})`, () => {
      // VOC box: 1-based inclusive pixels 101..300 × 51..200, i.e. 0-based pixels 100..299 × 50..199.
      const box = transformBox({ xmin: 101, ymin: 51, xmax: 300, ymax: 200 }, W, H, spec)!;
      const [x0, y0] = imagePoint(box.xmin, box.ymin, W, H, spec);
      const [x1, y1] = imagePoint(box.xmax, box.ymax, W, H, spec);
      expect(x0).toBeCloseTo(100, 9);
      expect(y0).toBeCloseTo(50, 9);
      expect(x1).toBeCloseTo(300, 9);
      expect(y1).toBeCloseTo(200, 9);
      // The input pixel holding the box's top-left corner covers original pixel (100, 50)'s centre,
      // or its neighbour when the corner falls past it: the first pixel it lights has that corner.
      const u = Math.floor(box.xmin), v = Math.floor(box.ymin);
      const index = inputPixelOfImagePixels(W, H, spec);
      const lit: [number, number][] = [];
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (index[y * W + x] === v * 224 + u) lit.push([x, y]);
      const [ix, iy] = imagePoint(u, v, W, H, spec);
      expect(lit[0]).toEqual([Math.ceil(ix - 0.5), Math.ceil(iy - 0.5)]);
      const [ex, ey] = imagePoint(u + 1, v + 1, W, H, spec);
      expect(lit[lit.length - 1]).toEqual([Math.ceil(ex - 0.5) - 1, Math.ceil(ey - 0.5) - 1]);
    });
  }

  it('crop margins are outside: -1, transparent in the picture, grey under an overlay', () => {
    const index = inputPixelOfImagePixels(W, H, crop);
    expect(index[61]).toBe(-1); // centre 61.5 < 62.5
    expect(index[62]).toBe(0); // centre 62.5: input column 0
    expect(index[436]).toBe(223);
    expect(index[437]).toBe(-1); // centre 437.5 maps to input 224
    const data = new Float32Array(224 * 224).fill(1);
    const big = planeToImage({ width: 224, height: 224, data }, W, H, crop);
    expect(Number.isNaN(big.data[0])).toBe(true);
    expect(big.data[100]).toBe(1);
    const photo = { width: W, height: H, data: new Uint8Array(4 * W * H).fill(100) };
    const pic = relevancePicture({ width: 224, height: 224, data }, { size: 'original', image: photo, spec: crop });
    expect([pic.image.width, pic.image.height]).toEqual([W, H]);
    expect(px(pic.image, 0)).toEqual([0, 0, 0, 0]);
    expect(px(pic.image, 100)).toEqual([255, 0, 0, 255]);
    const over = relevancePicture({ width: 224, height: 224, data }, { size: 'original', overlay: true, image: photo, spec: crop });
    expect(px(over.image, 0)).toEqual([100, 100, 100, 255]);
    expect(() => relevancePicture({ width: 224, height: 224, data }, { size: 'original' })).toThrow(/needs the image and its preprocessing/);
  });
});

describe('gallery choice', () => {
  it('the same seed picks the same images, shown in id order; another seed others', () => {
    const samples = Array.from({ length: 50 }, (_, i) => ({ id: `img_${String(49 - i).padStart(3, '0')}` }));
    const a = pickGallery(samples, 12, 0).map((s) => s.id);
    expect(a).toHaveLength(12);
    expect(pickGallery([...samples].reverse(), 12, 0).map((s) => s.id)).toEqual(a);
    expect([...a].sort()).toEqual(a);
    expect(new Set(a).size).toBe(12);
    expect(pickGallery(samples, 12, 1).map((s) => s.id)).not.toEqual(a);
    expect(pickGallery(samples, 80, 0)).toHaveLength(50);
  });
});
