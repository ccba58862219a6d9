import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { vec2 } from 'gl-matrix';
import { describe, expect, it } from 'vitest';
import { boxMask, inputTransform, sourceRect, transformBox, type Box } from '../src/preprocess/geometry.ts';
import { preprocessImage, resampleRect, type RgbaImage } from '../src/preprocess/image.ts';
import { parsePreprocessSpec, parsePreprocessSpecText, type PreprocessSpec } from '../src/preprocess/spec.ts';
import { sharedPath } from './helpers/shared.ts';

const MODELS = sharedPath('models/');
const haveModels = existsSync(join(MODELS, 'squeezenet1.1.onnx.json'));
if (!haveModels) console.warn(`preprocess.test: ${MODELS} is absent; skipping the shipped-spec tests`);

const spec = (o: object): PreprocessSpec => parsePreprocessSpec({ channels: 'RGB', ...o }, 'test.json');

function image(w: number, h: number, px: (x: number, y: number) => [number, number, number]): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    data.set([...px(x, y), 255], (y * w + x) * 4);
  }
  return { width: w, height: h, data };
}
const rgb = (img: RgbaImage) => Array.from(img.data).filter((_, i) => i % 4 !== 3);

describe('parsePreprocessSpec', () => {
  it.skipIf(!haveModels)('reads the shipped model specs', () => {
    const read = (f: string) => parsePreprocessSpecText(readFileSync(join(MODELS, f), 'utf8'), f);
    expect(read('squeezenet1.1.onnx.json')).toEqual({
      size: [227, 227], channels: 'BGR', scale: 1, mean: [104, 117, 123], std: [1, 1, 1], resize: 'shorter-side-crop', shorter: 256,
    });
    expect(read('mnist-7.onnx.json')).toEqual({
      size: [28, 28], channels: 'GRAY', scale: 1, mean: [0], std: [1], resize: 'rescale',
    });
  });

  it('fills the defaults', () => {
    expect(parsePreprocessSpec({ size: [10, 20], channels: 'BGR' }, 's')).toEqual({
      size: [10, 20], channels: 'BGR', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], resize: 'rescale',
    });
    expect(parsePreprocessSpec({ size: [4, 4], channels: 'GRAY', resize: 'shorter-side-crop' }, 's'))
      .toEqual({ size: [4, 4], channels: 'GRAY', scale: 1, mean: [0], std: [1], resize: 'shorter-side-crop' });
  });

  it('names the file and the field in every error', () => {
    const ok = { size: [8, 8], channels: 'RGB' };
    const cases: [unknown, RegExp][] = [
      [[1, 2], /m\.json: preprocessing spec must be a JSON object/],
      [null, /m\.json: preprocessing spec must be a JSON object/],
      [{ channels: 'RGB' }, /m\.json: .*"size" must be two positive integers/],
      [{ ...ok, size: [8] }, /"size" must be two positive integers/],
      [{ ...ok, size: [8, 0] }, /"size" must be two positive integers/],
      [{ ...ok, size: [8, 7.5] }, /"size" must be two positive integers/],
      [{ ...ok, size: '8x8' }, /"size" must be two positive integers/],
      [{ size: [8, 8] }, /m\.json: .*"channels" must be "RGB", "BGR" or "GRAY", got undefined/],
      [{ ...ok, channels: 'rgb' }, /"channels" must be .* got "rgb"/],
      [{ ...ok, scale: '1' }, /"scale" must be a positive number/],
      [{ ...ok, scale: 0 }, /"scale" must be a positive number/],
      [{ ...ok, mean: [1, 2] }, /m\.json: .*"mean" has 2 values but "channels" RGB has 3/],
      [{ ...ok, channels: 'GRAY', mean: [1, 2, 3] }, /"mean" has 3 values but "channels" GRAY has 1/],
      [{ ...ok, mean: [1, 'x', 3] }, /"mean" must be an array of numbers/],
      [{ ...ok, std: [1, 0, 1] }, /m\.json: .*"std" must be positive/],
      [{ ...ok, std: [1, -1, 1] }, /"std" must be positive/],
      [{ ...ok, std: [1, 1] }, /"std" has 2 values/],
      [{ ...ok, resize: 'crop' }, /"resize" must be "rescale" or "shorter-side-crop", got "crop"/],
      [{ ...ok, size: [8, 9], resize: 'shorter-side-crop' }, /"size" must be square for "resize": "shorter-side-crop"/],
      [{ ...ok, shorter: 10 }, /"shorter" is only meaningful with "resize": "shorter-side-crop"/],
      [{ ...ok, resize: 'shorter-side-crop', shorter: 7 }, /"shorter" must be at least the input size 8, got 7/],
      [{ ...ok, resize: 'shorter-side-crop', shorter: '256' }, /"shorter" must be a number/],
      [{ ...ok, chanels: 'BGR' }, /m\.json: preprocessing spec field "chanels" is not a known field/],
    ];
    for (const [json, re] of cases) expect(() => parsePreprocessSpec(json, 'm.json'), JSON.stringify(json)).toThrow(re);
    expect(() => parsePreprocessSpecText('{ "size": [1, 1], }', 'bad.json')).toThrow(/bad\.json: preprocessing spec is not valid JSON/);
  });
});

describe('geometry', () => {
  // 500 x 375 image, as most VOC and ImageNet photos.
  const W = 500, H = 375;

  it('rescale maps each axis by its own factor; size is [height, width]', () => {
    const s = spec({ size: [250, 100] }); // w 100 = 500/5, h 250 = 375*2/3
    expect(sourceRect(W, H, s)).toEqual({ xmin: 0, ymin: 0, xmax: 500, ymax: 375 });
    expect(transformBox({ xmin: 51, ymin: 76, xmax: 100, ymax: 150 }, W, H, s)).toEqual({ xmin: 10, ymin: 50, xmax: 20, ymax: 100 });
    expect(transformBox({ xmin: 1, ymin: 1, xmax: 500, ymax: 375 }, W, H, s)).toEqual({ xmin: 0, ymin: 0, xmax: 100, ymax: 250 });
    // Annotations reaching past the image are clipped; one wholly beyond it is dropped.
    expect(transformBox({ xmin: 451, ymin: -10, xmax: 520, ymax: 75 }, W, H, s)).toEqual({ xmin: 90, ymin: 0, xmax: 100, ymax: 50 });
    expect(transformBox({ xmin: 502, ymin: 1, xmax: 600, ymax: 375 }, W, H, s)).toBeNull();
    const m = boxMask([transformBox({ xmin: 51, ymin: 76, xmax: 100, ymax: 150 }, W, H, s)!], 100, 250);
    expect(m.reduce((a, b) => a + b, 0)).toBe(10 * 50);
    expect(m[50 * 100 + 10]).toBe(1);
    expect(m[50 * 100 + 9]).toBe(0);
    expect(m[49 * 100 + 10]).toBe(0);
    expect(m[99 * 100 + 19]).toBe(1);
    expect(m[100 * 100 + 19]).toBe(0);
    expect(m[99 * 100 + 20]).toBe(0);
  });

  it('an edge landing exactly on a pixel centre gets its exact value (left in, right out)', () => {
    const s = spec({ size: [227, 227] });
    const b = transformBox({ xmin: 251, ymin: 1, xmax: 250, ymax: 375 }, W, H, s); // [250, 250): empty
    expect(b).toBeNull();
    const right = transformBox({ xmin: 1, ymin: 1, xmax: 250, ymax: 375 }, W, H, s)!;
    expect(right.xmax).toBe(113.5); // 250 * 227 / 500 exactly
    const left = transformBox({ xmin: 251, ymin: 1, xmax: 500, ymax: 375 }, W, H, s)!;
    expect(left.xmin).toBe(113.5);
    const mr = boxMask([right], 227, 227), ml = boxMask([left], 227, 227);
    expect([mr[112], mr[113], ml[112], ml[113]]).toEqual([1, 0, 0, 1]);
    // Together the two halves tile the input.
    for (let i = 0; i < 227 * 227; i++) if (mr[i] + ml[i] !== 1) throw new Error(`pixel ${i} covered ${mr[i] + ml[i]} times`);
  });

  it('shorter-side-crop takes the centred square (shorter = S)', () => {
    const s = spec({ size: [227, 227], resize: 'shorter-side-crop' });
    const k = 227 / 375; // m = 375, x0 = 62.5, y0 = 0
    expect(sourceRect(W, H, s)).toEqual({ xmin: 62.5, ymin: 0, xmax: 437.5, ymax: 375 });
    // Wholly in the cut-off left strip: dropped.
    expect(transformBox({ xmin: 1, ymin: 1, xmax: 62, ymax: 375 }, W, H, s)).toBeNull();
    // Half a pixel into the crop: kept, though no pixel centre lies in it.
    const sliver = transformBox({ xmin: 1, ymin: 1, xmax: 63, ymax: 375 }, W, H, s)!;
    expect(sliver).toEqual({ xmin: 0, ymin: 0, xmax: (63 - 62.5) * 227 / 375, ymax: 227 });
    expect(boxMask([sliver], 227, 227).every((v) => v === 0)).toBe(true);
    const inner = transformBox({ xmin: 101, ymin: 11, xmax: 400, ymax: 200 }, W, H, s)!;
    expect(inner.xmin).toBeCloseTo(37.5 * k, 12);
    expect(inner.ymin).toBeCloseTo(10 * k, 12);
    expect(inner.xmax).toBeCloseTo(337.5 * k, 12);
    expect(inner.ymax).toBeCloseTo(200 * k, 12);
    // Crossing the right crop edge: clipped to the input.
    const right = transformBox({ xmin: 401, ymin: 1, xmax: 500, ymax: 375 }, W, H, s)!;
    expect(right.xmin).toBeCloseTo(337.5 * k, 12);
    expect(right.xmax).toBe(227);
    // Portrait image: the crop is vertical.
    expect(sourceRect(H, W, s)).toEqual({ xmin: 0, ymin: 62.5, xmax: 375, ymax: 437.5 });
    expect(transformBox({ xmin: 1, ymin: 440, xmax: 375, ymax: 500 }, H, W, s)).toBeNull();
  });

  it('shorter-side-crop with shorter = 256 crops a smaller square on both axes', () => {
    const s = spec({ size: [227, 227], resize: 'shorter-side-crop', shorter: 256 });
    const m = 375 * 227 / 256, x0 = (500 - m) / 2, y0 = (375 - m) / 2;
    expect(x0).toBe(83.740234375);
    expect(y0).toBe(21.240234375);
    const r = sourceRect(W, H, s);
    expect(r.xmin).toBe(x0);
    expect(r.ymin).toBe(y0);
    expect(r.xmax).toBeCloseTo(500 - x0, 9);
    // Top strip: rows 0..20 are cut, row 21 (= [20, 21)) too, row 22 reaches 0.76 px into the crop.
    expect(transformBox({ xmin: 100, ymin: 1, xmax: 200, ymax: 21 }, W, H, s)).toBeNull();
    const top = transformBox({ xmin: 100, ymin: 1, xmax: 200, ymax: 22 }, W, H, s)!;
    expect(top.ymin).toBe(0);
    expect(top.ymax).toBeCloseTo((22 - y0) * 227 / m, 12); // 0.5187: covers the centre of row 0
    const mask = boxMask([top], 227, 227);
    expect(mask.subarray(227, 2 * 227).every((v) => v === 0)).toBe(true);
    expect(mask.subarray(0, 227).some((v) => v === 1)).toBe(true);
    expect(transformBox({ xmin: 1, ymin: 1, xmax: 500, ymax: 375 }, W, H, s)).toEqual({ xmin: 0, ymin: 0, xmax: 227, ymax: 227 });
  });

  it('inputTransform agrees with transformBox and maps sourceRect onto the input', () => {
    for (const s of [
      spec({ size: [250, 100] }),
      spec({ size: [227, 227], resize: 'shorter-side-crop' }),
      spec({ size: [227, 227], resize: 'shorter-side-crop', shorter: 256 }),
    ]) {
      const t = inputTransform(W, H, s);
      expect(t).toBeInstanceOf(Float64Array);
      const r = sourceRect(W, H, s);
      const a = vec2.transformMat2d(new Float64Array(2), [r.xmin, r.ymin], t);
      const b = vec2.transformMat2d(new Float64Array(2), [r.xmax, r.ymax], t);
      for (const [got, want] of [[a[0], 0], [a[1], 0], [b[0], s.size[1]], [b[1], s.size[0]]]) expect(got).toBeCloseTo(want, 9);
      const box = transformBox({ xmin: 201, ymin: 101, xmax: 300, ymax: 250 }, W, H, s)!;
      const p = vec2.transformMat2d(new Float64Array(2), [200, 100], t);
      const q = vec2.transformMat2d(new Float64Array(2), [300, 250], t);
      expect([p[0], p[1], q[0], q[1]].map((v) => +v.toFixed(9))).toEqual([box.xmin, box.ymin, box.xmax, box.ymax].map((v) => +v.toFixed(9)));
    }
  });

  it('boxMask: centres, half-open edges, union', () => {
    const boxes: Box[] = [{ xmin: 1, ymin: 1, xmax: 3, ymax: 2 }, { xmin: 2.4, ymin: 0.5, xmax: 3.6, ymax: 1.6 }];
    expect(Array.from(boxMask(boxes, 5, 3))).toEqual([
      0, 0, 1, 1, 0,
      0, 1, 1, 1, 0,
      0, 0, 0, 0, 0,
    ]);
    expect(Array.from(boxMask([{ xmin: 0, ymin: 0, xmax: 0.5, ymax: 3 }], 2, 1))).toEqual([0, 0]);
    expect(Array.from(boxMask([{ xmin: 0.5, ymin: 0, xmax: 0.5000001, ymax: 3 }], 2, 1))).toEqual([1, 0]);
    expect(Array.from(boxMask([], 2, 2))).toEqual([0, 0, 0, 0]);
    expect(Array.from(boxMask([{ xmin: 0, ymin: 0, xmax: 2, ymax: 2 }], 2, 2))).toEqual([1, 1, 1, 1]);
  });
});

describe('resampleRect', () => {
  // Reference bytes from Pillow 12.3: Image.resize(size, Image.BILINEAR, box=box) on this 7x5 RGB image.
  const img = image(7, 5, (x, y) => [(x * 37 + y * 91) % 256, (x * x * 13 + y * 7) % 256, (x * y * 29 + 50) % 256]);

  it('matches Pillow BILINEAR byte for byte (downscale, fractional box, upscale)', () => {
    expect(rgb(resampleRect(img, { xmin: 0, ymin: 0, xmax: 7, ymax: 5 }, 3, 2)))
      .toEqual([99, 24, 75, 129, 121, 112, 129, 157, 125, 106, 38, 108, 118, 135, 119, 128, 171, 134]);
    expect(rgb(resampleRect(img, { xmin: 0.5, ymin: 0.25, xmax: 6.5, ymax: 4.75 }, 4, 3))).toEqual([
      75, 17, 62, 128, 73, 82, 171, 166, 105, 125, 136, 126, 142, 27, 95, 77, 83, 162,
      111, 176, 115, 125, 146, 131, 92, 38, 115, 145, 94, 119, 117, 187, 93, 128, 157, 154,
    ]);
    const up = rgb(resampleRect(img, { xmin: 1, ymin: 0.5, xmax: 5.5, ymax: 4 }, 10, 8));
    expect(up.slice(0, 30)).toEqual([47, 11, 55, 63, 22, 57, 80, 39, 60, 97, 59, 63, 113, 88, 66, 130, 117, 69, 147, 158, 72, 163, 199, 75, 162, 165, 77, 153, 102, 80]);
    expect(up.slice(-12)).toEqual([139, 179, 89, 123, 220, 100, 131, 186, 133, 148, 123, 176]);
    expect(up.reduce((a, b) => a + b, 0)).toBe(27656);
  });

  it('keeps a constant image constant, in both modes', () => {
    const c = image(500, 375, () => [10, 200, 77]);
    for (const s of [spec({ size: [227, 227] }), spec({ size: [227, 227], resize: 'shorter-side-crop', shorter: 256 })]) {
      const out = resampleRect(c, sourceRect(500, 375, s), 227, 227);
      for (let i = 0; i < 227 * 227; i++) {
        if (out.data[4 * i] !== 10 || out.data[4 * i + 1] !== 200 || out.data[4 * i + 2] !== 77 || out.data[4 * i + 3] !== 255) {
          throw new Error(`pixel ${i} is ${Array.from(out.data.subarray(4 * i, 4 * i + 4))}`);
        }
      }
    }
  });

  it('averages a checkerboard when downscaling (antialiasing, no aliasing to 0 or 255)', () => {
    const board = image(64, 64, (x, y) => ((x + y) % 2 ? [255, 255, 255] : [0, 0, 0]));
    const out = resampleRect(board, { xmin: 0, ymin: 0, xmax: 64, ymax: 64 }, 8, 8);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
      const v = out.data[(y * 8 + x) * 4];
      const interior = x > 0 && x < 7 && y > 0 && y < 7;
      expect(v, `(${x}, ${y})`).toBeGreaterThanOrEqual(interior ? 127 : 110);
      expect(v, `(${x}, ${y})`).toBeLessThanOrEqual(interior ? 128 : 145);
    }
  });

  it('copies pixels exactly at scale 1, even from an offset rectangle', () => {
    const out = resampleRect(img, { xmin: 2, ymin: 1, xmax: 6, ymax: 4 }, 4, 3);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) {
      expect(Array.from(out.data.subarray((y * 4 + x) * 4, (y * 4 + x) * 4 + 4)))
        .toEqual(Array.from(img.data.subarray(((y + 1) * 7 + x + 2) * 4, ((y + 1) * 7 + x + 2) * 4 + 4)));
    }
  });

  it('resizes 500x375 to 227x227 in a few ms', () => {
    const photo = image(500, 375, (x, y) => [(x * 7 + y) & 255, (x * y) & 255, (x ^ y) & 255]);
    const s = spec({ size: [227, 227], resize: 'shorter-side-crop', shorter: 256 });
    for (let i = 0; i < 5; i++) preprocessImage(photo, s); // warm up the JIT
    const n = 20;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) preprocessImage(photo, s);
    const ms = (performance.now() - t0) / n;
    console.info(`preprocessImage 500x375 -> 227x227: ${ms.toFixed(2)} ms`);
    expect(ms).toBeLessThan(50); // generous: shared CI machines; a few ms on a desktop
  });
});

describe('preprocessImage', () => {
  const c = image(6, 4, () => [10, 20, 30]);

  it('normalises in the spec channel order, CHW', () => {
    const out = preprocessImage(c, spec({ size: [4, 6], channels: 'BGR', mean: [1, 2, 3], std: [2, 4, 6] }));
    expect(out.length).toBe(3 * 4 * 6);
    expect(out[0]).toBeCloseTo((30 - 1) / 2, 6);
    expect(out[24]).toBeCloseTo((20 - 2) / 4, 6);
    expect(out[48]).toBeCloseTo((10 - 3) / 6, 6);
    const t = preprocessImage(c, spec({ size: [2, 3], scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }));
    expect(t.length).toBe(18);
    expect(t[0]).toBeCloseTo((10 / 255 - 0.485) / 0.229, 5);
    expect(t[17]).toBeCloseTo((30 / 255 - 0.406) / 0.225, 5);
  });

  it('GRAY is the luma 0.299 R + 0.587 G + 0.114 B, one channel', () => {
    const out = preprocessImage(c, spec({ size: [2, 2], channels: 'GRAY', mean: [1], std: [2] }));
    expect(out.length).toBe(4);
    for (const v of out) expect(v).toBeCloseTo((0.299 * 10 + 0.587 * 20 + 0.114 * 30 - 1) / 2, 5);
    const grey = image(3, 3, (x, y) => [x * 50 + y, x * 50 + y, x * 50 + y]);
    expect(Array.from(preprocessImage(grey, spec({ size: [3, 3], channels: 'GRAY' }))).map((v) => Math.round(v * 1e4) / 1e4))
      .toEqual([0, 50, 100, 1, 51, 101, 2, 52, 102]);
  });

  it('keeps the width axis last and takes the centre for shorter-side-crop', () => {
    // 30 x 10: red | green | blue thirds; the centred 10 x 10 square is the green one.
    const thirds = image(30, 10, (x) => (x < 10 ? [255, 0, 0] : x < 20 ? [0, 255, 0] : [0, 0, 255]));
    const out = preprocessImage(thirds, spec({ size: [10, 10], resize: 'shorter-side-crop' }));
    expect(out.subarray(0, 100).every((v) => v === 0)).toBe(true);
    expect(out.subarray(100, 200).every((v) => v === 255)).toBe(true);
    expect(out.subarray(200, 300).every((v) => v === 0)).toBe(true);
    // Rescale keeps all three thirds, left to right along the last axis (blended by the filter).
    const r = preprocessImage(thirds, spec({ size: [2, 3] }));
    for (const row of [0, 3]) {
      expect(r[row]).toBeGreaterThan(r[row + 2]); // red fades left to right
      expect(r[6 + row + 1]).toBeGreaterThan(r[6 + row]); // green peaks in the middle
      expect(r[12 + row + 2]).toBeGreaterThan(r[12 + row]); // blue grows left to right
    }
  });
});
