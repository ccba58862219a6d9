// `lrp explain` and `lrp inspect` as a user runs them: child processes of bin/lrp.js, checked by
// exit status, the printed table, the .npy written and the PNG heatmap, plus the error messages of
// a composite that does not fit the model, a missing input file and an unknown preset.
//
// The model is ../shared/models/squeezenet1.1.onnx on an ImageNet sample image. When that file is
// absent the happy path runs on the built-in caffenet:random instead (the same 227x227 Caffe
// preprocessing, so the same shapes), with a warning; without the sample images it is skipped.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { npyToFloat32, parseNpy } from '../src/io/npy.ts';
import { relL2 } from './helpers/gpu.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = join(ROOT, 'bin', 'lrp.js');
const IMAGES = 'data/imagenet-val-sample/images';
const SQUEEZENET = 'models/squeezenet1.1.onnx';
const TOP5 = 'models/squeezenet1.1_onnxruntime_top5.csv';

const haveImages = haveShared('lrp explain CLI', IMAGES);
const haveSqueezenet = haveShared('lrp explain CLI (falling back to caffenet:random)', SQUEEZENET);
const MODEL = haveSqueezenet ? sharedPath(SQUEEZENET) : 'caffenet:random';
const image = haveImages ? readdirSync(sharedPath(IMAGES)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort()[0] : undefined;
if (haveImages && !image) console.warn(`lrp explain CLI: no image in ${sharedPath(IMAGES)}; skipping the explain runs`);
const imagePath = image ? join(sharedPath(IMAGES), image) : '';

/** onnxruntime's top-1 class and logit for the image, when SqueezeNet and its CSV are there. */
function onnxruntimeTop1(): { top1: number; logit: number } | null {
  if (!haveSqueezenet || !image || !haveShared('lrp explain CLI (top-1 cross-check)', TOP5)) return null;
  const [head, ...rows] = readFileSync(sharedPath(TOP5), 'utf8').trim().split(/\r?\n/).map((r) => r.split(',').map((c) => c.trim()));
  const row = rows.find((r) => r[head.indexOf('image')] === image);
  return row ? { top1: Number(row[head.indexOf('top1')]), logit: Number(row[head.indexOf('logit_top1')]) } : null;
}

interface Result { code: number; stdout: string; stderr: string }

// Warm, an explain run takes seconds; with a cold Mesa shader cache (a kernel just edited) every
// pipeline is an LLVM compile, which on a busy 2-core machine can add minutes.
const RUN_TIMEOUT = 570_000;

/** Runs `node bin/lrp.js ...args` from the repository root; never rejects. */
function lrp(args: string[], timeoutMs = RUN_TIMEOUT, cwd = ROOT): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'lrp-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const show = (r: Result): string => `exit ${r.code}${r.code === -1 ? ' (killed: timed out)' : ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

describe.skipIf(!image)(`lrp explain ${haveSqueezenet ? 'squeezenet1.1.onnx' : 'caffenet:random'} on ${image}`, () => {
  const relevance = new Map<string, Float32Array>();

  for (const preset of ['cmp-alpha2-flat', 'guided-backprop']) {
    it(preset, async () => {
      const npyPath = join(tmp, `${preset}.npy`);
      const heatDir = join(tmp, `heat-${preset}`);
      const r = await lrp(['explain', '--model', MODEL, '--input', imagePath, '--composite', preset,
        '--relevance-out', npyPath, '--heatmap', heatDir, '--overlay']);
      expect(r.code, show(r)).toBe(0);

      // The table: a header, then "<image> <target> <logit> <sum of R>".
      expect(r.stdout).toMatch(/sample\s+target\s+logit\s+sum of R/);
      const line = r.stdout.split('\n').find((l) => l.startsWith(image!));
      expect(line, show(r)).toBeDefined();
      const m = /^(\S+)\s+(\d+)\s+(-?\d+\.\d{4})\s+(\S+)\s*$/.exec(line!);
      expect(m, `table line '${line}'`).not.toBeNull();
      const target = Number(m![2]);
      const logit = Number(m![3]);
      const sum = Number(m![4]);
      expect(target).toBeGreaterThanOrEqual(0);
      expect(target).toBeLessThan(1000);
      expect(Number.isFinite(logit) && Number.isFinite(sum)).toBe(true);
      console.log(`${preset}: ${line}`);
      const ort = onnxruntimeTop1();
      if (ort) {
        // The predicted target is onnxruntime's top-1; its logit agrees up to the image resampling
        // (models.test.ts: about 2.5% on average, 10% allowed).
        expect(target).toBe(ort.top1);
        expect(Math.abs(logit - ort.logit)).toBeLessThanOrEqual(0.1 * Math.abs(ort.logit));
      }

      // The .npy: N×C×H×W float32, finite, not all zero, and its sum is the printed one.
      const npy = parseNpy(new Uint8Array(readFileSync(npyPath)), npyPath);
      expect(npy.shape).toEqual([1, 3, 227, 227]);
      expect(npy.dtype).toBe('<f4');
      const data = npyToFloat32(npy);
      expect(data.every(Number.isFinite)).toBe(true);
      expect(data.some((v) => v !== 0)).toBe(true);
      let total = 0;
      for (const v of data) total += v;
      expect(Math.abs(total - sum), `npy sums to ${total}, the table says ${sum}`).toBeLessThanOrEqual(1e-5 * Math.abs(total) + 1e-6);
      if (preset === 'cmp-alpha2-flat' && !haveSqueezenet) {
        // caffenet:random has zero biases: only the dense layers' epsilon 0.1 absorbs relevance.
        expect(Math.abs(sum - logit), `sum ${sum} vs logit ${logit}`).toBeLessThanOrEqual(0.05 * Math.abs(logit));
      }
      relevance.set(preset, data);

      // The heatmap: one 227x227 PNG named after the image, not a uniform picture.
      expect(r.stdout).toContain('wrote ');
      const pngs = readdirSync(heatDir).filter((f) => f.endsWith('.png'));
      expect(pngs).toHaveLength(1);
      const png = PNG.sync.read(readFileSync(join(heatDir, pngs[0])));
      expect([png.width, png.height]).toEqual([227, 227]);
      const px = new Uint32Array(png.data.buffer, png.data.byteOffset, png.width * png.height);
      const distinct = new Set(px);
      expect(distinct.size, 'distinct colours in the heatmap').toBeGreaterThan(50);
    }, RUN_TIMEOUT + 30_000);
  }

  it('the two presets give different relevance', () => {
    const a = relevance.get('cmp-alpha2-flat');
    const b = relevance.get('guided-backprop');
    if (!a || !b) throw new Error('an explain run above failed');
    expect(relL2(a, b)).toBeGreaterThan(0.1);
  });
});

describe.skipIf(!image || !haveSqueezenet)('lrp explain with default options, several inputs', () => {
  it('heatmaps/NAME.png in the working folder; same-named inputs kept apart; a bad input skipped, exit 1; no Dawn warnings', async () => {
    const work = join(tmp, 'defaults');
    for (const d of ['a', 'b']) mkdirSync(join(work, d), { recursive: true });
    copyFileSync(imagePath, join(work, 'a', image!));
    copyFileSync(imagePath, join(work, 'b', image!));
    writeFileSync(join(work, 'broken.jpg'), 'not a JPEG');
    const r = await lrp(['explain', '--model', MODEL, '--input', join(work, 'a', image!), join(work, 'b', image!), join(work, 'broken.jpg'),
      '--size', 'original', '--cmap', 'seismic'], RUN_TIMEOUT, work);
    expect(r.code, show(r)).toBe(1);
    expect(r.stderr).toContain(`skipped ${join(work, 'broken.jpg')}`);
    expect(r.stderr).toMatch(/1 of 3 inputs could not be read/);
    expect(r.stderr).not.toMatch(/artificially reduced/);
    const stem = image!.replace(/\.[^.]+$/, '');
    const pngs = readdirSync(join(work, 'heatmaps')).sort();
    expect(pngs).toEqual([`a_${stem}.png`, `b_${stem}.png`]);
    // --size original: the picture has the photo's own size.
    const meta = await sharp(imagePath).metadata();
    const png = PNG.sync.read(readFileSync(join(work, 'heatmaps', pngs[0])));
    expect([png.width, png.height]).toEqual([meta.width, meta.height]);
    // Both copies are the same image: the same relevance, the same picture.
    expect(readFileSync(join(work, 'heatmaps', pngs[1])).equals(readFileSync(join(work, 'heatmaps', pngs[0])))).toBe(true);
  }, RUN_TIMEOUT + 30_000);
});

describe('lrp explain errors', () => {
  // They fail before the GPU: a built-in model keeps them independent of the shared files.
  const model = haveSqueezenet ? sharedPath(SQUEEZENET) : 'caffenet:random';
  const input = imagePath || join(ROOT, 'package.json');

  it('a composite entry that matches no layer: non-zero exit, the entry named', async () => {
    const r = await lrp(['explain', '--model', model, '--input', input, '--composite', '{"rules":[{"layers":"#99","rule":"flat"}]}']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain('rules[0]');
    expect(r.stderr).toContain('#99');
    expect(r.stdout).not.toMatch(/sum of R/);
  });

  it('a missing input file is named', async () => {
    const missing = join(tmp, 'no-such-image.JPEG');
    const r = await lrp(['explain', '--model', model, '--input', missing, '--composite', 'lrp-z']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain(missing);
  });

  it('an unknown preset lists the presets', async () => {
    const r = await lrp(['explain', '--model', model, '--input', input, '--composite', 'no-such-preset']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain('no-such-preset');
    for (const p of ['lrp-z', 'cmp-alpha2-flat', 'epsilon-gamma-box', 'guided-backprop']) expect(r.stderr).toContain(p);
  });
});

describe('lrp inspect', () => {
  it('vgg16:random has 138,357,544 parameters', async () => {
    const r = await lrp(['inspect', 'vgg16:random']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^total\s+138,357,544\s/m);
  });

  it("resnet50:random: torchvision's 25,557,032 parameters before canonization, and what the canonizer did", async () => {
    const r = await lrp(['inspect', 'resnet50:random']);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('parameters: 25,557,032 before canonization');
    expect(r.stdout).toMatch(/^ {2}fold-batchnorm +folded 53 BatchNorm into conv layers$/m);
    expect(r.stdout).toMatch(/^layer4\.2\.add\s+add\s/m);
  });
});
