// The synthetic boxes dataset: deterministic bytes, exact boxes, VOC XML that says what was drawn,
// multi-label images and balanced classes.
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSynthDataset } from '../src/node/synth-dataset.ts';
import { imageSeed, Rng } from '../src/synth/rng.ts';
import { DISTRACTOR_KINDS, insideLocal, rasterize, SYNTH_CLASSES } from '../src/synth/shapes.ts';
import { MIN_VISIBLE, synthesize, type SynthSample, type VocBox } from '../src/synth/generate.ts';
import { classesText, labelVector, vocXml } from '../src/synth/voc.ts';

const tmp = mkdtempSync(join(tmpdir(), 'lrp-synth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function filesOf(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesOf(p) : [p];
  }).sort();
}

/** path → sha256 of every file under `dir`. */
function hashTree(dir: string): Map<string, string> {
  return new Map(filesOf(dir).map((p) => [relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex')]));
}

/** The tight VOC box (1-based, inclusive) of pixel indices in a `width`-wide image. */
function tightBox(pixels: ArrayLike<number>, width: number): VocBox {
  let xmin = Infinity, ymin = Infinity, xmax = -Infinity, ymax = -Infinity;
  for (let i = 0; i < pixels.length; i++) {
    const x = pixels[i] % width, y = Math.floor(pixels[i] / width);
    xmin = Math.min(xmin, x); xmax = Math.max(xmax, x);
    ymin = Math.min(ymin, y); ymax = Math.max(ymax, y);
  }
  return { xmin: xmin + 1, ymin: ymin + 1, xmax: xmax + 1, ymax: ymax + 1 };
}

const samples = (seed: number, n: number, size?: number): SynthSample[] =>
  Array.from({ length: n }, (_, i) => synthesize(seed, i + 1, { size }));

describe('the PRNG', () => {
  it('is a fixed stream per seed, uniform enough', () => {
    const a = new Rng(42), b = new Rng(42), c = new Rng(43);
    const xs = Array.from({ length: 1000 }, () => a.next());
    expect(Array.from({ length: 1000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c.next())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
    // Regression pins: the stream and the image seeds must never change, or every dataset would.
    expect(new Rng(1).u32()).toBe(new Rng(1).u32());
    expect(imageSeed(1, 1)).not.toBe(imageSeed(1, 2));
    expect(imageSeed(1, 1)).not.toBe(imageSeed(2, 1));
    expect(imageSeed(2 ** 40, 1)).not.toBe(imageSeed(0, 1));
  });

  it('rejects bad seeds and image numbers', () => {
    expect(() => imageSeed(-1, 1)).toThrow(/seed/);
    expect(() => imageSeed(1.5, 1)).toThrow(/seed/);
    expect(() => synthesize(1, 0)).toThrow(/image number/);
    expect(() => synthesize(1, 1, { size: 16 })).toThrow(/size/);
  });
});

describe('lrp synth writes a deterministic VOC folder', () => {
  const opts = { images: 12, size: 64, seed: 5, split: 'test' };
  const a = join(tmp, 'a'), b = join(tmp, 'b'), c = join(tmp, 'c');

  it('the same seed gives byte-identical files; another seed different images', () => {
    writeSynthDataset(a, opts);
    writeSynthDataset(b, opts);
    writeSynthDataset(c, { ...opts, seed: 6 });
    const ha = hashTree(a), hb = hashTree(b), hc = hashTree(c);
    expect(ha.size).toBe(12 * 2 + 2);
    expect([...ha.keys()]).toContain('JPEGImages/synth_000001.png');
    expect([...ha.keys()]).toContain('Annotations/synth_000012.xml');
    expect([...ha.keys()]).toContain('ImageSets/Main/test.txt');
    expect([...ha.keys()]).toContain('classes.txt');
    expect(hb).toEqual(ha);
    const images = [...ha.keys()].filter((k) => k.startsWith('JPEGImages/'));
    expect(images.every((k) => hc.get(k) !== ha.get(k))).toBe(true);
    expect(hc.get('classes.txt')).toBe(ha.get('classes.txt'));
  });

  it('image i does not depend on how many images are written', () => {
    const d = join(tmp, 'd');
    writeSynthDataset(d, { ...opts, images: 3 });
    const hd = hashTree(d), ha = hashTree(a);
    for (const k of ['JPEGImages/synth_000003.png', 'Annotations/synth_000003.xml']) expect(hd.get(k)).toBe(ha.get(k));
  });

  it('lists the split, the classes and annotations that match the generator', () => {
    expect(readFileSync(join(a, 'ImageSets/Main/test.txt'), 'utf8'))
      .toBe(`${Array.from({ length: 12 }, (_, i) => `synth_${String(i + 1).padStart(6, '0')}`).join('\n')}\n`);
    expect(readFileSync(join(a, 'classes.txt'), 'utf8')).toBe(`${SYNTH_CLASSES.join('\n')}\n`);
    expect(classesText().trim().split('\n')).toEqual([...SYNTH_CLASSES]);
    const parser = new XMLParser({ parseTagValue: false, isArray: (name) => name === 'object' });
    for (const s of samples(5, 12)) {
      const xml = readFileSync(join(a, 'Annotations', `${s.name}.xml`), 'utf8');
      expect(xml).toBe(vocXml(s, `${s.name}.png`));
      const ann = parser.parse(xml).annotation;
      expect(ann.filename).toBe(`${s.name}.png`);
      expect(ann.size).toEqual({ width: '64', height: '64', depth: '3' });
      expect(ann.object).toHaveLength(s.objects.length);
      ann.object.forEach((o: Record<string, unknown>, i: number) => {
        const want = s.objects[i];
        expect(o.name).toBe(want.name);
        expect(o.pose).toBe('Unspecified');
        expect(o.truncated).toBe('0');
        expect(o.difficult).toBe('0');
        const bb = o.bndbox as Record<string, string>;
        expect({ xmin: +bb.xmin, ymin: +bb.ymin, xmax: +bb.xmax, ymax: +bb.ymax }).toEqual(want.box);
      });
      // The PNG decodes to the generated pixels.
      const png = readFileSync(join(a, 'JPEGImages', `${s.name}.png`));
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(png.readUInt32BE(16)).toBe(64);
      expect(png.readUInt32BE(20)).toBe(64);
    }
  });
});

describe('the images', () => {
  const set = samples(1, 400);

  it('boxes are the tight boxes of each object drawn alone, and the visible pixels lie in them', () => {
    let objects = 0;
    for (const s of set) {
      const { width: w, height: h } = s.image;
      expect(s.objects.length).toBeGreaterThanOrEqual(1);
      expect(s.objects.length).toBeLessThanOrEqual(3);
      s.objects.forEach((o, k) => {
        objects++;
        expect(SYNTH_CLASSES[o.classIndex]).toBe(o.name);
        expect(o.shape.kind).toBe(o.name);
        const alone = rasterize(o.shape, w, h);
        expect(alone.length).toBe(o.area);
        expect(o.box, `${s.name} object ${k + 1}`).toEqual(tightBox(alone, w));
        // Wholly inside the image (truncated 0) and not hugging a side it would be cut by.
        expect(o.box.xmin).toBeGreaterThanOrEqual(1);
        expect(o.box.ymin).toBeGreaterThanOrEqual(1);
        expect(o.box.xmax).toBeLessThanOrEqual(w);
        expect(o.box.ymax).toBeLessThanOrEqual(h);
        // The pixels where it is on top: a subset of its own pixels, at least MIN_VISIBLE of them.
        const own = new Set(alone);
        let visible = 0;
        for (let p = 0; p < w * h; p++) {
          if (s.objectIds[p] !== k + 1) continue;
          visible++;
          expect(own.has(p)).toBe(true);
        }
        expect(visible).toBe(o.visible);
        expect(visible / o.area).toBeGreaterThanOrEqual(MIN_VISIBLE);
        // The topmost object's pixels on top of it are exactly its pixels not covered later.
        if (k === s.objects.length - 1) expect(visible).toBe(o.area);
      });
    }
    expect(objects).toBeGreaterThan(700);
  });

  it('objects are painted: their pixels differ from a render without them', () => {
    // Painting is the last step, so an object's visible pixels hold its colours (two shades and
    // a little noise): check that within each object the colours cluster, i.e. they are not the
    // background's. Cheap proxy: the mean distance to the object's mean colour is small compared
    // with the contrast the generator demands against the background.
    for (const s of set.slice(0, 100)) {
      const d = s.image.data;
      s.objects.forEach((o, k) => {
        if (o.texture !== 'solid') return;
        const px: number[] = [];
        for (let p = 0; p < s.objectIds.length; p++) if (s.objectIds[p] === k + 1) px.push(p);
        const mean = [0, 1, 2].map((c) => px.reduce((t, p) => t + d[4 * p + c], 0) / px.length);
        const spread = px.reduce((t, p) => t + Math.hypot(d[4 * p] - mean[0], d[4 * p + 1] - mean[1], d[4 * p + 2] - mean[2]), 0) / px.length;
        expect(spread, `${s.name} object ${k + 1}`).toBeLessThan(20);
      });
    }
  });

  it('has several classes per image often, and every class about equally often', () => {
    const perClass = new Array<number>(SYNTH_CLASSES.length).fill(0);
    let multi = 0;
    const textures = new Map<string, number>();
    for (const s of set) {
      const y = labelVector(s);
      y.forEach((v, c) => { perClass[c] += v; });
      if (y.reduce((a, b) => a + b, 0) > 1) multi++;
      for (const o of s.objects) textures.set(o.texture, (textures.get(o.texture) ?? 0) + 1);
    }
    expect(multi / set.length).toBeGreaterThan(0.4);
    const mean = perClass.reduce((a, b) => a + b, 0) / perClass.length;
    for (const n of perClass) expect(Math.abs(n - mean) / mean).toBeLessThan(0.25);
    expect([...textures.keys()].sort()).toEqual(['dots', 'solid', 'stripes']);
  });

  it('is pinned: the demo model was trained and measured on exactly these pictures', () => {
    // If the generator changes on purpose, retrain the demo model (training/README.md) and update these.
    const h = createHash('sha256');
    for (const s of set.slice(0, 3)) h.update(s.image.data);
    expect(h.digest('hex')).toBe('c3fcf453eedc11ab2164fe191bef153196b127414096f224f58c9f59bb49fd9b');
    expect(set[0].objects.map((o) => [o.name, o.box])).toEqual([
      ['square', { xmin: 20, ymin: 23, xmax: 40, ymax: 44 }],
      ['ring', { xmin: 32, ymin: 6, xmax: 57, ymax: 30 }],
      ['circle', { xmin: 21, ymin: 4, xmax: 39, ymax: 22 }],
    ]);
  });

  it('images differ from each other and use the whole colour range', () => {
    const hashes = new Set(set.map((s) => createHash('sha256').update(s.image.data).digest('hex')));
    expect(hashes.size).toBe(set.length);
    const s = set[0];
    expect(s.image.width).toBe(64);
    expect(s.image.data.length).toBe(64 * 64 * 4);
    for (let i = 3; i < s.image.data.length; i += 4) expect(s.image.data[i]).toBe(255);
  });

  it('other sizes scale the scene, with exact boxes too', () => {
    for (const s of samples(3, 20, 96)) {
      expect(s.image.width).toBe(96);
      for (const o of s.objects) expect(o.box).toEqual(tightBox(rasterize(o.shape, 96, 96), 96));
    }
  });

  it('generates fast', () => {
    const t0 = performance.now();
    samples(9, 300);
    const perSecond = 300 / ((performance.now() - t0) / 1000);
    expect(perSecond).toBeGreaterThan(100); // about 1,000/s on one idle core
  });
});

describe('shapes', () => {
  it('every shape fits the unit disc and covers a good part of it', () => {
    for (const kind of [...SYNTH_CLASSES, ...DISTRACTOR_KINDS]) {
      let inside = 0, outside = 0;
      const n = 200;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const u = -1.2 + (2.4 * (i + 0.5)) / n, v = -1.2 + (2.4 * (j + 0.5)) / n;
          if (insideLocal(kind, u, v)) {
            inside++;
            if (u * u + v * v > 1) outside++;
          }
        }
      }
      expect(outside, kind).toBe(0);
      const fraction = inside / (n * n) * (2.4 * 2.4) / Math.PI;
      expect(fraction, kind).toBeGreaterThan(0.1);
    }
  });

  it('a rotation turns the shape (a square at 45 degrees has a wider box)', () => {
    const h = Math.SQRT1_2;
    const upright = rasterize({ kind: 'square', cx: 32, cy: 32, r: 20, cos: 1, sin: 0 }, 64, 64);
    const turned = rasterize({ kind: 'square', cx: 32, cy: 32, r: 20, cos: h, sin: h }, 64, 64);
    const a = tightBox(upright, 64), b = tightBox(turned, 64);
    expect(a.xmax - a.xmin + 1).toBe(28);
    expect(b.xmax - b.xmin + 1).toBeGreaterThan(36);
    expect(Math.abs(turned.length - upright.length)).toBeLessThan(upright.length * 0.05);
  });
});
