import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPrepared, type PrepareFailure, type PrepareResult } from '../src/eval/pairs.ts';
import type { PreparedSample, Sample } from '../src/eval/types.ts';
import { openDataset } from '../src/node/datasets/index.ts';
import { readImage } from '../src/node/image-decode.ts';
import { prepareSamples, type PrepareOptions } from '../src/node/prepare/index.ts';
import { preprocessImage } from '../src/preprocess/image.ts';
import { parsePreprocessSpec, type PreprocessSpec } from '../src/preprocess/spec.ts';
import { sharedPath } from './helpers/shared.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = sharedPath('data/');
const IMAGENET = join(DATA, 'imagenet-val-sample');
const haveImageNet = existsSync(join(IMAGENET, 'annotations')) && existsSync(join(DATA, 'labels', 'synset_words.txt'));
if (!haveImageNet) console.warn(`prepare.test: ${IMAGENET} is absent; skipping the tests on the real ImageNet sample`);

const spec = (o: object): PreprocessSpec => parsePreprocessSpec(o, 'test');
const RESCALE = spec({ size: [5, 10], channels: 'RGB', resize: 'rescale' }); // h 5, w 10: scale 1/2 both ways for 20x10
const CROP = spec({ size: [10, 10], channels: 'BGR', mean: [1, 2, 3], resize: 'shorter-side-crop' }); // the square [5, 15) x [0, 10)
const CROP_SHORTER = spec({ size: [10, 10], channels: 'RGB', resize: 'shorter-side-crop', shorter: 20 }); // [7.5, 12.5) x [2.5, 7.5), x2

/** A mask from rows of '0'/'1'. */
const rows = (...r: string[]) => Uint8Array.from(r.join(''), (c) => Number(c));
const zeros = (w: number) => '0'.repeat(w);
/** Bitwise equality of typed arrays; vitest's toEqual walks them element by element, slowly. */
const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
const sameBits = (a: ArrayBufferView, b: ArrayBufferView) => a.byteLength === b.byteLength && bytes(a).equals(bytes(b));
const samePairs = (a: PreparedSample, b: PreparedSample) =>
  a.pairs.length === b.pairs.length && a.pairs.every((p, i) => p.classIndex === b.pairs[i].classIndex && p.className === b.pairs[i].className && sameBits(p.mask, b.pairs[i].mask));

async function collect(it: AsyncIterable<PrepareResult>): Promise<PrepareResult[]> {
  const out: PrepareResult[] = [];
  for await (const r of it) out.push(r);
  return out;
}

function pngBytes(w: number, h: number, seed = 0): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) png.data.set([(x * 13 + seed) & 255, (y * 29 + seed) & 255, (x * y + seed) & 255, 255], (y * w + x) * 4);
  }
  return PNG.sync.write(png);
}

let dir: string;
const img = (name: string) => join(dir, name);
const sample = (id: string, file: string, w: number, h: number, classes: [string, [number, number, number, number][]][]): Sample => ({
  id, imagePath: img(file), annotationPath: join(dir, `${id}.xml`), width: w, height: h,
  classes: classes.map(([name, boxes], i) => ({ classIndex: i, className: name, boxes: boxes.map(([xmin, ymin, xmax, ymax]) => ({ xmin, ymin, xmax, ymax })) })),
});

// A 20x10 image. a: one box in the top-left corner; b: a box that maps to [0.5, 1.5) under rescale (a
// left edge on a pixel centre is in, a right edge is out) plus one in the bottom-right corner; c: two
// boxes touching the image border; d: a one-pixel-wide sliver that covers no input pixel centre.
let S20: Sample;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'prepare-test-'));
  await writeFile(img('20x10.png'), pngBytes(20, 10));
  await writeFile(img('big.png'), pngBytes(900, 700, 7));
  await writeFile(img('small.png'), pngBytes(12, 12, 3));
  const corrupt = pngBytes(20, 10);
  corrupt.fill(0x55, 40, corrupt.length - 20);
  await writeFile(img('corrupt.png'), corrupt);
  S20 = sample('s20', '20x10.png', 20, 10, [
    ['a', [[1, 1, 4, 4]]],
    ['b', [[2, 1, 3, 2], [17, 7, 20, 10]]],
    ['c', [[3, 2, 8, 5], [14, 9, 20, 10]]],
  ]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('masks and inputs, both resize modes, hand-computed', () => {
  for (const workers of [0, 1]) {
    it(`rescale, ${workers} worker(s): one mask per class, unions, half-open edges, the input tensor`, async () => {
      const [r] = await collect(prepareSamples([S20], RESCALE, { workers }));
      expect(isPrepared(r)).toBe(true);
      const p = r as PreparedSample;
      expect(p.sample).toBe(S20);
      expect(p.skips).toEqual([]);
      expect(p.pairs.map((q) => [q.classIndex, q.className])).toEqual([[0, 'a'], [1, 'b'], [2, 'c']]);
      expect(p.pairs[0].mask).toEqual(rows('1100000000', '1100000000', zeros(10), zeros(10), zeros(10)));
      expect(p.pairs[1].mask).toEqual(rows('1000000000', zeros(10), zeros(10), '0000000011', '0000000011'));
      expect(p.pairs[2].mask).toEqual(rows('0111000000', '0111000000', zeros(10), zeros(10), '0000001111'));
      expect(sameBits(p.input, preprocessImage(await readImage(S20.imagePath), RESCALE))).toBe(true);
      expect(p.input.length).toBe(3 * 5 * 10);
    });
  }

  it('shorter-side crop: boxes clipped to the crop; a class whose boxes all lie outside is a Skip', async () => {
    const [r] = await collect(prepareSamples([S20], CROP, { workers: 1 }));
    const p = r as PreparedSample;
    expect(p.pairs.map((q) => q.className)).toEqual(['c']);
    expect(p.pairs[0].mask).toEqual(rows(zeros(10), ...Array(4).fill('1110000000'), ...Array(3).fill(zeros(10)), '0000000011', '0000000011'));
    expect(p.skips).toEqual([
      { id: 's20', classIndex: 0, className: 'a', reason: `${img('20x10.png')}: a: its box lies outside the 10x10 centre crop of the 20x10 image` },
      { id: 's20', classIndex: 1, className: 'b', reason: `${img('20x10.png')}: b: all 2 boxes lie outside the 10x10 centre crop of the 20x10 image` },
    ]);
    expect(sameBits(p.input, preprocessImage(await readImage(S20.imagePath), CROP))).toBe(true);
  });

  it('shorter-side crop with "shorter": the smaller centred square', async () => {
    const [r] = await collect(prepareSamples([S20], CROP_SHORTER, { workers: 0 }));
    const p = r as PreparedSample;
    expect(p.pairs.map((q) => q.className)).toEqual(['c']);
    expect(p.pairs[0].mask).toEqual(rows(...Array(5).fill('1000000000'), ...Array(5).fill(zeros(10))));
  });

  it('a sample with no pair left is a failure carrying one Skip per pair', async () => {
    const s = sample('only-a', '20x10.png', 20, 10, [['a', [[1, 1, 4, 4]]], ['d', [[3, 1, 3, 10]]]]);
    const [crop] = await collect(prepareSamples([s], CROP, { workers: 0 }));
    expect(isPrepared(crop)).toBe(false);
    expect((crop as PrepareFailure).skips.map((k) => k.className)).toEqual(['a', 'd']);
    expect((crop as PrepareFailure).reason).toBe(`${img('20x10.png')}: no pair left after preprocessing`);
    // rescale: a is fine, the sliver d covers no pixel centre
    const [res] = await collect(prepareSamples([s], RESCALE, { workers: 0 }));
    expect((res as PreparedSample).pairs.map((q) => q.className)).toEqual(['a']);
    expect((res as PreparedSample).skips).toEqual([{ id: 'only-a', classIndex: 1, className: 'd', reason: `${img('20x10.png')}: d: the boxes cover no pixel centre of the 10x5 input (too thin after resizing)` }]);
  });

  it('checks the decoded size against the annotation, and boxes against the image when the annotation had no size', async () => {
    const wrong = sample('wrong-size', '20x10.png', 20, 11, [['a', [[1, 1, 4, 4]]]]);
    const unknown = sample('no-size', '20x10.png', 0, 0, [['a', [[1, 1, 4, 4]]], ['b', [[1, 1, 22, 4]]]]);
    const [w, u] = await collect(prepareSamples([wrong, unknown], RESCALE, { workers: 1 }));
    expect((w as PrepareFailure).reason).toBe(`${img('20x10.png')}: decoded size 20x10 differs from the annotation's 20x11 (${wrong.annotationPath})`);
    expect((w as PrepareFailure).skips).toEqual([{ id: 'wrong-size', classIndex: 0, className: 'a', reason: (w as PrepareFailure).reason }]);
    expect((u as PreparedSample).pairs.map((q) => q.className)).toEqual(['a']);
    expect((u as PreparedSample).skips[0].reason).toMatch(/b: box \(xmin 1, ymin 1, xmax 22, ymax 4\) is not inside the 20x10 image: xmax > width 20/);
  });
});

describe('the stream', () => {
  const many = () => Array.from({ length: 24 }, (_, i) => (i % 3 === 0
    ? sample(`s${String(i).padStart(2, '0')}`, 'big.png', 900, 700, [['x', [[1, 1, 450, 350]]]])
    : sample(`s${String(i).padStart(2, '0')}`, 'small.png', 12, 12, [['x', [[2, 2, 12, 12]]]])));

  it('keeps the input order with several workers, and matches the single-thread results bit for bit', async () => {
    const samples = many();
    const stream = prepareSamples(samples, CROP, { workers: 3, prefetch: 9 });
    const got = await collect(stream);
    expect(got.map((r) => r.sample.id)).toEqual(samples.map((s) => s.id));
    expect(got.every((r, i) => r.sample === samples[i])).toBe(true);
    expect(stream.stats).toMatchObject({ workers: 3, prefetch: 9, dispatched: 24, yielded: 24, crashes: 0, started: 3, running: 0 });
    const inline = await collect(prepareSamples(samples, CROP, { workers: 0 }));
    for (let i = 0; i < got.length; i++) {
      const a = got[i] as PreparedSample, b = inline[i] as PreparedSample;
      expect(sameBits(a.input, b.input), a.sample.id).toBe(true);
      expect(samePairs(a, b), a.sample.id).toBe(true);
    }
  });

  it('holds at most `prefetch` samples in flight, and fills up to it while the caller is busy', async () => {
    const stream = prepareSamples(many(), CROP, { workers: 2, prefetch: 3 });
    expect(stream.stats.dispatched).toBe(3); // started eagerly
    let n = 0;
    for await (const r of stream) {
      expect(isPrepared(r)).toBe(true);
      expect(stream.stats.dispatched - stream.stats.yielded).toBeLessThanOrEqual(3);
      if (++n < 22) expect(stream.stats.dispatched - stream.stats.yielded).toBe(3);
      await new Promise((res) => setTimeout(res, 5));
    }
    expect(n).toBe(24);
    expect(stream.stats.maxInFlight).toBe(3);
    expect(stream.stats.running).toBe(0);
  });

  it('a corrupt or missing image is a failure naming the file; the run goes on', async () => {
    const samples = [
      S20,
      sample('bad', 'corrupt.png', 20, 10, [['a', [[1, 1, 4, 4]]], ['b', [[1, 1, 4, 4]]]]),
      sample('gone', 'missing.png', 20, 10, [['a', [[1, 1, 4, 4]]]]),
      S20,
    ];
    const got = await collect(prepareSamples(samples, RESCALE, { workers: 2 }));
    expect(got.map(isPrepared)).toEqual([true, false, false, true]);
    const bad = got[1] as PrepareFailure;
    expect(bad.reason).toMatch(new RegExp(`^${img('corrupt.png')}: corrupt PNG`));
    expect(bad.skips.map((k) => [k.classIndex, k.reason])).toEqual([[0, bad.reason], [1, bad.reason]]);
    expect((got[2] as PrepareFailure).reason).toMatch(new RegExp(`^${img('missing.png')}: cannot read image`));
  });

  it('a worker that dies turns its samples into failures and is replaced', async () => {
    const entry = join(dir, 'crashing-entry.mjs');
    const real = new URL('../src/node/prepare/worker-entry.mjs', import.meta.url).href;
    await writeFile(entry, `import { parentPort } from 'node:worker_threads';
parentPort.on('message', (m) => {
  if (m.sample.id === 'exit') process.exit(7);
  if (m.sample.id === 'throw') setImmediate(() => { throw new Error('boom in the worker'); });
});
await import(${JSON.stringify(real)});
`);
    const ok = (id: string) => ({ ...S20, id });
    const samples = [ok('ok1'), ok('exit'), ok('ok2'), ok('throw'), ok('ok3')];
    const stream = prepareSamples(samples, RESCALE, { workers: 1, prefetch: 1, workerEntry: pathToFileURL(entry) });
    const got = await collect(stream);
    expect(got.map((r) => [r.sample.id, isPrepared(r)])).toEqual([['ok1', true], ['exit', false], ['ok2', true], ['throw', false], ['ok3', true]]);
    expect((got[1] as PrepareFailure).reason).toMatch(/the preparation worker died \(exit code 7\)/);
    expect((got[3] as PrepareFailure).reason).toMatch(/the preparation worker died \(Error: boom in the worker\)/);
    expect((got[1] as PrepareFailure).skips).toHaveLength(3);
    expect(stream.stats).toMatchObject({ crashes: 2, started: 3, running: 0 });
  });

  it('a worker that cannot start makes the iteration throw instead of hanging', async () => {
    const entry = join(dir, 'broken-entry.mjs');
    await writeFile(entry, `throw new Error('cannot load the worker');\n`);
    const stream = prepareSamples([S20, S20], RESCALE, { workers: 2, workerEntry: pathToFileURL(entry) });
    await expect(collect(stream)).rejects.toThrow(/a worker thread failed to start .*cannot load the worker/);
    expect(stream.stats.running).toBe(0);
  });

  it('return() ends the workers', async () => {
    const stream = prepareSamples(many(), CROP, { workers: 2, prefetch: 4 });
    for await (const r of stream) {
      expect(r.sample.id).toBe('s00');
      break;
    }
    expect(stream.stats.running).toBe(0);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
  });

  it('an empty list starts no worker', async () => {
    const stream = prepareSamples([], RESCALE, { workers: 2 });
    expect(await collect(stream)).toEqual([]);
    expect(stream.stats).toMatchObject({ started: 0, running: 0, dispatched: 0 });
  });

  it('refuses bad options', () => {
    expect(() => prepareSamples([], RESCALE, { workers: -1 })).toThrow(/workers/);
    expect(() => prepareSamples([], RESCALE, { prefetch: 0 } as PrepareOptions)).toThrow(/prefetch/);
  });

  it('leaks no handle: a process that breaks out early, or drops the stream without return(), exits by itself', async () => {
    const script = join(dir, 'exit-check.mts');
    const index = new URL('../src/node/prepare/index.ts', import.meta.url).href;
    await writeFile(script, `import { prepareSamples } from ${JSON.stringify(index)};
const s = ${JSON.stringify(S20)};
const samples = Array.from({ length: 12 }, (_, i) => ({ ...s, id: 'x' + i }));
const spec = ${JSON.stringify(RESCALE)};
const stream = prepareSamples(samples, spec, { workers: 2, prefetch: 4 });
if (process.argv[2] === 'break') {
  for await (const r of stream) break;
  console.log('running', stream.stats.running);
} else {
  const first = await stream.next();
  console.log('dropped after', first.value.sample.id);
}
`);
    for (const mode of ['break', 'drop']) {
      const t0 = Date.now();
      const r = spawnSync(process.execPath, ['--import', 'tsx', script, mode], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect(r.signal, `${mode}: the process did not exit by itself (${r.stderr})`).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(mode === 'break' ? /running 0/ : /dropped after x0/);
      expect(Date.now() - t0).toBeLessThan(60_000);
    }
  });
});

describe.skipIf(!haveImageNet)('the real ImageNet sample', () => {
  it('prepares all 14 images at 224 (VGG-16 crop) with 2 workers, identical to the single-thread results', async () => {
    const ds = await openDataset(`imagenet:${IMAGENET}`, { labels: join(DATA, 'labels', 'synset_words.txt') });
    const vgg = spec({ size: [224, 224], channels: 'BGR', mean: [103.939, 116.779, 123.68], resize: 'shorter-side-crop' });
    const t0 = performance.now();
    const got = await collect(prepareSamples(ds.samples, vgg, { workers: 2 }));
    const ms = performance.now() - t0;
    console.log(`prepare.test: 14 ImageNet images, 2 workers: ${ms.toFixed(0)} ms including worker start-up`);
    expect(got.map((r) => r.sample.id)).toEqual(ds.samples.map((s) => s.id));
    expect(got.every(isPrepared)).toBe(true);
    const inline = await collect(prepareSamples(ds.samples, vgg, { workers: 0 }));
    for (let i = 0; i < got.length; i++) {
      const a = got[i] as PreparedSample, b = inline[i] as PreparedSample;
      expect(a.input.length).toBe(3 * 224 * 224);
      expect(sameBits(a.input, b.input), a.sample.id).toBe(true);
      expect(samePairs(a, b), a.sample.id).toBe(true);
      expect(a.pairs).toHaveLength(1);
      const inside = a.pairs[0].mask.reduce((n, v) => n + v, 0);
      expect(inside, a.sample.id).toBeGreaterThan(0);
      expect(inside, a.sample.id).toBeLessThanOrEqual(224 * 224);
    }
    // ILSVRC2012_val_00004182: 500x500, one box (51, 68)-(492, 442): scale 224/500, no crop
    const k = got.findIndex((r) => r.sample.id === 'ILSVRC2012_val_00004182');
    const m = (got[k] as PreparedSample).pairs[0].mask;
    const colsIn = (v: number) => Array.from({ length: 224 }, (_, u) => m[v * 224 + u]).reduce((a, b) => a + b, 0);
    // x: [50, 492) * 0.448 = [22.4, 220.416): centres 22.5 .. 219.5, 198 columns; y: [67, 442) * 0.448 = [30.016, 198.016): rows 30..197
    expect(colsIn(100)).toBe(198);
    expect(m[100 * 224 + 22]).toBe(1);
    expect(m[100 * 224 + 21]).toBe(0);
    expect(colsIn(29)).toBe(0);
    expect(colsIn(30)).toBe(198);
    expect(colsIn(197)).toBe(198);
    expect(colsIn(198)).toBe(0);
  });
});
