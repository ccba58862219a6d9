import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeImage, detectImageFormat, readImage } from '../src/node/image-decode.ts';
import { sourceRect } from '../src/preprocess/geometry.ts';
import { preprocessImage, resampleRect } from '../src/preprocess/image.ts';
import { parsePreprocessSpec } from '../src/preprocess/spec.ts';
import { sharedPath } from './helpers/shared.ts';

const IMAGES = sharedPath('data/imagenet-val-sample/images/');
const haveImages = existsSync(IMAGES);
if (!haveImages) console.warn(`image-decode.test: ${IMAGES} is absent; skipping the tests on real JPEGs`);
const jpegs = haveImages ? readdirSync(IMAGES).filter((f) => f.endsWith('.JPEG')).sort() : [];

// Sizes and per-channel means from Pillow 12.3 (libjpeg). We decode with libjpeg-turbo too, so
// the means agree to the printed digits (a pure-JS decoder ran ~0.3-0.5 levels low).
const PIL_REFERENCE: Record<string, [number, number, [number, number, number]]> = {
  'ILSVRC2012_val_00000008.JPEG': [500, 375, [140.241, 125.979, 117.513]],
  'ILSVRC2012_val_00002675.JPEG': [375, 500, [86.313, 104.16, 115.714]],
  'ILSVRC2012_val_00004182.JPEG': [500, 500, [100.058, 96.433, 61.506]],
  'ILSVRC2012_val_00033712.JPEG': [768, 1024, [120.661, 119.378, 120.251]],
};

function pngBytes(w: number, h: number, px: (x: number, y: number) => number[], colorType: 0 | 2 | 6 = 6): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) png.data.set(px(x, y), (y * w + x) * 4);
  return PNG.sync.write(png, { colorType });
}

describe.skipIf(!haveImages)('real ImageNet JPEGs', () => {
  it('decodes every sample image to RGBA of the right size', async () => {
    expect(jpegs.length).toBeGreaterThan(0);
    for (const f of jpegs) {
      const img = await readImage(join(IMAGES, f));
      expect(img.width * img.height * 4, f).toBe(img.data.length);
      expect(img.width, f).toBeGreaterThan(0);
      const alpha = img.data.filter((_, i) => i % 4 === 3);
      expect(alpha.every((a) => a === 255), f).toBe(true);
      const ref = PIL_REFERENCE[f];
      if (!ref) continue;
      expect([img.width, img.height], f).toEqual([ref[0], ref[1]]);
      const mean = [0, 1, 2].map((c) => {
        let s = 0;
        for (let i = c; i < img.data.length; i += 4) s += img.data[i];
        return s / (img.width * img.height);
      });
      for (let c = 0; c < 3; c++) expect(Math.abs(mean[c] - ref[2][c]), `${f} channel ${c}`).toBeLessThan(0.0006);
    }
  });

  it('feeds the preprocessing: SqueezeNet spec gives a finite 3x227x227 tensor', async () => {
    const img = await readImage(join(IMAGES, jpegs[0]));
    const spec = parsePreprocessSpec({ size: [227, 227], channels: 'BGR', mean: [104, 117, 123], resize: 'shorter-side-crop', shorter: 256 }, 's');
    const t = preprocessImage(img, spec);
    expect(t.length).toBe(3 * 227 * 227);
    expect(t.every(Number.isFinite)).toBe(true);
    expect(t.reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(-123);
    expect(t.reduce((a, b) => Math.max(a, b))).toBeLessThanOrEqual(255 - 104);
    // Channel 0 is blue minus 104, at the pixels of the centred crop.
    const px = resampleRect(img, sourceRect(img.width, img.height, spec), 227, 227).data;
    for (const i of [0, 1000, 227 * 227 - 1]) {
      expect(t[i]).toBe(px[4 * i + 2] - 104);
      expect(t[2 * 227 * 227 + i]).toBe(px[4 * i] - 123);
    }
  });

  it('names the file and the cause for truncated and corrupt JPEGs', async () => {
    const bytes = readFileSync(join(IMAGES, jpegs[0]));
    for (const n of [bytes.length >> 1, 2000, 600, 20, 3]) {
      await expect(decodeImage(bytes.subarray(0, n), 'cut.jpg'), `${n} bytes`).rejects.toThrow(/^cut\.jpg: truncated JPEG \(no end marker\): /);
    }
    // A header that lies about the tables: garbage right after SOI.
    const bad = new Uint8Array(bytes);
    for (let i = 2; i < 400; i++) bad[i] = (i * 131) & 255;
    bad[2] = 0xff;
    await expect(decodeImage(bad, 'bad.jpg')).rejects.toThrow(/^bad\.jpg: corrupt JPEG: /);
  });
});

describe('decodeImage', () => {
  it('decodes a PNG made with pngjs (RGBA, grey, and RGB colour types)', async () => {
    const px = (x: number, y: number) => [x * 40, y * 60, 255 - x * 10, 100 + x + y];
    const rgba = await decodeImage(pngBytes(5, 3, px), 'a.png');
    expect(rgba.width).toBe(5);
    expect(rgba.height).toBe(3);
    expect(Array.from(rgba.data.subarray((2 * 5 + 4) * 4, (2 * 5 + 4) * 4 + 4))).toEqual(px(4, 2));
    const opaque = (x: number, y: number) => [x * 40, y * 60, 255 - x * 10, 255];
    const rgb = await decodeImage(pngBytes(5, 3, opaque, 2), 'rgb.png');
    expect(Array.from(rgb.data.subarray(4, 8))).toEqual([40, 0, 245, 255]);
    const grey = await decodeImage(pngBytes(2, 1, (x) => [x * 99, x * 99, x * 99, 255], 0), 'grey.png');
    expect(Array.from(grey.data)).toEqual([0, 0, 0, 255, 99, 99, 99, 255]);
  });

  it('detects the format by content, not name', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'decode-test-'));
    try {
      const path = join(dir, 'really-a-png.JPEG');
      await writeFile(path, pngBytes(2, 2, () => [1, 2, 3, 4]));
      const img = await readImage(path);
      expect(Array.from(img.data.subarray(0, 4))).toEqual([1, 2, 3, 4]);
      await expect(readImage(join(dir, 'missing.jpg'))).rejects.toThrow(/missing\.jpg: cannot read image/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the source and the cause for bad input', async () => {
    const png = pngBytes(4, 4, (x, y) => [x, y, 0, 255]);
    await expect(decodeImage(png.subarray(0, png.length - 20), 'cut.png')).rejects.toThrow(/^cut\.png: truncated PNG \(no end marker\): /);
    const flipped = Buffer.from(png);
    flipped[40] ^= 0xff;
    await expect(decodeImage(flipped, 'crc.png')).rejects.toThrow(/^crc\.png: corrupt PNG: /);
    await expect(decodeImage(new Uint8Array(0), 'empty.jpg')).rejects.toThrow(/^empty\.jpg: empty file/);
    await expect(decodeImage(new TextEncoder().encode('GIF89a....'), 'x.gif')).rejects.toThrow(/^x\.gif: unsupported image format \(GIF\)/);
    await expect(decodeImage(new TextEncoder().encode('hello world'), 'x.txt')).rejects.toThrow(/^x\.txt: unsupported image format \(unrecognised content\)/);
    expect(detectImageFormat(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('WebP');
    expect(detectImageFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
  });
});
