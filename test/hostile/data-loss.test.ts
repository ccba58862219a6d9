// Hostile cases, class "data loss" (issue 25, findings 1 and 2, and the demo's folder): a command
// never writes over an input of its own run, never writes two outputs to one file, and refuses an
// output it cannot write before any GPU work (src/node/output-plan.ts). Most cases test the
// planning directly; the CLI cases stop before the GPU opens, on the tiny demo model; one eval run
// on two 64-pixel images checks the relevance files of ids the sanitiser makes alike.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/io/npy.ts';
import { runDemo } from '../../src/node/demo/run.ts';
import { runOcclusion } from '../../src/node/eval/occlusion.ts';
import { runEval } from '../../src/node/eval/run.ts';
import { galleryFiles } from '../../src/node/gallery.ts';
import { uniqueNames } from '../../src/node/inputs.ts';
import { checkOutputPlan, uniqueStems } from '../../src/node/output-plan.ts';
import { writeSynthDataset } from '../../src/node/synth-dataset.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'lrp.js');
const DEMO = join(ROOT, 'models', 'demo', 'demo.onnx');
const DEMO_PNG = join(ROOT, 'models', 'demo', 'demo.png');

const tmp = mkdtempSync(join(tmpdir(), 'lrp-hostile-loss-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => {
  const d = join(tmp, `${name}-${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

interface Result { code: number; stdout: string; stderr: string }
function lrp(args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('file names from ids (uniqueStems)', () => {
  it('gives ids that differ only in replaced characters their own names, stable run to run', () => {
    const a = uniqueStems(['img+1', 'img=1', 'img_1', 'plain']);
    expect(a[2]).toBe('img_1');
    expect(a[3]).toBe('plain');
    expect(a[0]).toMatch(/^img_1-[0-9a-f]{8}$/);
    expect(a[1]).toMatch(/^img_1-[0-9a-f]{8}$/);
    expect(new Set(a).size).toBe(4);
    // The suffix is the id's own: another order, or a shard holding only these two, names them alike.
    expect(uniqueStems(['img=1', 'img+1'])).toEqual([a[1], a[0]]);
    // Alone, an id keeps its sanitised name, as before.
    expect(uniqueStems(['my photo (1)'])).toEqual(['my_photo_1_']);
  });

  it('separates names that differ only in case (one file on a case-insensitive disk)', () => {
    const [x, y] = uniqueStems(['Img1', 'img1']);
    expect(x.toLowerCase()).not.toBe(y.toLowerCase());
  });

  it('gives two input files of one folder that sanitise alike two heatmap names (and keeps a_img for folders)', () => {
    const names = uniqueNames(['/d/a+b.png', '/d/a=b.png']);
    expect(names[0]).not.toBe(names[1]);
    expect(uniqueNames(['/d/a/img.jpg', '/d/b/img.jpg'])).toEqual(['a_img', 'b_img']);
  });
});

describe('the output plan (checkOutputPlan)', () => {
  it('refuses an output that is an input, however spelled (path, symlink, hard link)', () => {
    const d = fresh('plan');
    const input = join(d, 'in.png');
    writeFileSync(input, 'precious');
    symlinkSync(input, join(d, 'link.png'));
    linkSync(input, join(d, 'hard.png'));
    for (const out of [input, join(d, '.', 'in.png'), join(d, 'link.png'), join(d, 'hard.png')]) {
      expect(() => checkOutputPlan([{ path: out, what: '--heatmap' }], [{ path: input, what: '--input' }]), out)
        .toThrow(/--heatmap: writing .* would replace the input .*in\.png \(--input\)/);
    }
    expect(() => checkOutputPlan([{ path: join(d, 'other.png'), what: '--heatmap' }], [{ path: input, what: '--input' }])).not.toThrow();
  });

  it('refuses two outputs to one file, naming what each was for', () => {
    const d = fresh('plan');
    expect(() => checkOutputPlan([
      { path: join(d, 'x.png'), what: 'the gallery', of: 'a' }, { path: join(d, 'sub', '..', 'x.png'), what: 'the gallery', of: 'b' },
    ], [])).toThrow(/x\.png would be written twice, for a and for b/);
  });

  it('refuses an output under a regular file, naming the file', () => {
    const d = fresh('plan');
    writeFileSync(join(d, 'file'), '');
    expect(() => checkOutputPlan([{ path: join(d, 'file', 'x.png'), what: '--heatmap' }], []))
      .toThrow(`--heatmap: ${join(d, 'file')} is a file, not a folder`);
  });

  it('the gallery refuses names that would overwrite one another (an id x_lrp-z beside x explained by lrp-z)', () => {
    const d = fresh('gallery');
    expect(() => galleryFiles([{ id: 'x' }, { id: 'x_lrp-z' }], ['lrp-z'], d)).toThrow(/x_lrp-z\.png would be written twice/);
    const f = galleryFiles([{ id: 'img+1' }, { id: 'img=1' }], ['lrp-z'], d);
    expect(f.image.get('img+1')).not.toBe(f.image.get('img=1'));
  });
});

describe.skipIf(!existsSync(DEMO))('lrp explain refuses before any GPU work', () => {
  it('--heatmap at the folder holding the input PNG: refused, the input kept', async () => {
    const d = fresh('explain');
    const input = join(d, 'x.png');
    copyFileSync(DEMO_PNG, input);
    const before = readFileSync(input);
    const r = await lrp(['explain', '--model', DEMO, '--input', input, '--heatmap', d]);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/--heatmap: writing .*x\.png .*would replace the input .*x\.png \(--input\)/);
    expect(readFileSync(input).equals(before)).toBe(true);
    // The same for the input file itself named as the heatmap.
    const r2 = await lrp(['explain', '--model', DEMO, '--input', input, '--heatmap', input]);
    expect(r2.stderr).toMatch(/would replace the input/);
    expect(readFileSync(input).equals(before)).toBe(true);
  }, 240_000);

  it('--relevance-out naming the input .npy: refused, the input kept', async () => {
    const d = fresh('explain');
    const input = join(d, 'batch.npy');
    writeFileSync(input, encodeNpy([1, 3, 64, 64], new Float32Array(3 * 64 * 64).fill(0.5)));
    const before = readFileSync(input);
    const r = await lrp(['explain', '--model', DEMO, '--input', input, '--relevance-out', input, '--no-heatmap']);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/--relevance-out: writing .*batch\.npy would replace the input .*batch\.npy \(--input\)/);
    expect(readFileSync(input).equals(before)).toBe(true);
  }, 240_000);

  it('--heatmap under a regular file: refused naming it, before the GPU work', async () => {
    const d = fresh('explain');
    writeFileSync(join(d, 'notes.txt'), 'mine');
    const r = await lrp(['explain', '--model', DEMO, '--input', DEMO_PNG, '--heatmap', join(d, 'notes.txt', 'maps')]);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toContain(`--heatmap: cannot create the folder ${join(d, 'notes.txt', 'maps')}: ${join(d, 'notes.txt')} is a file`);
    // Refused before any work: the table of results never printed.
    expect(r.stdout).not.toMatch(/sum of R/);
  }, 240_000);
});

describe.skipIf(!existsSync(DEMO))('lrp eval --save-relevance', () => {
  it('writes one file per pair for ids that differ only in replaced characters', async () => {
    const d = fresh('eval');
    const data = join(d, 'data');
    writeSynthDataset(data, { images: 2, size: 64, seed: 5, split: 'test' });
    const ids = ['img+1', 'img=1'];
    readdirSync(join(data, 'JPEGImages')).sort().forEach((f, i) => {
      const old = f.replace(/\.png$/, '');
      renameSync(join(data, 'JPEGImages', f), join(data, 'JPEGImages', `${ids[i]}.png`));
      renameSync(join(data, 'Annotations', `${old}.xml`), join(data, 'Annotations', `${ids[i]}.xml`));
    });
    writeFileSync(join(data, 'ImageSets', 'Main', 'test.txt'), `${ids.join('\n')}\n`);
    const out = join(d, 'out');
    const r = await runEval({
      model: DEMO, dataset: `voc:${data}`, labels: join(data, 'classes.txt'), composites: ['lrp-z'], out,
      saveRelevance: true, progress: false, log: () => {},
    });
    const files = readdirSync(join(out, 'relevance', 'lrp-z')).sort();
    expect(files.length).toBe(r.report!.records);
    expect(new Set(files.map((f) => f.replace(/_\d+\.npy$/, ''))).size).toBe(2);
  }, 300_000);
});

describe.skipIf(!existsSync(DEMO))('lrp occlusion --out', () => {
  it('under a regular file: refused naming it before the forward passes', async () => {
    const d = fresh('occlusion');
    writeSynthDataset(join(d, 'data'), { images: 1, size: 64, seed: 1, split: 'test' });
    writeFileSync(join(d, 'file'), 'mine');
    await expect(runOcclusion({
      model: DEMO, dataset: `voc:${join(d, 'data')}`, labels: join(d, 'data', 'classes.txt'), out: join(d, 'file', 'occ'), progress: false, log: () => {},
    })).rejects.toThrow(`--out: cannot create the folder ${join(d, 'file', 'occ')}: ${join(d, 'file')} is a file`);
  });
});

describe('lrp demo --out', () => {
  it('refuses a folder of the user\'s own, whose data/ a run would delete', async () => {
    const d = fresh('demo');
    mkdirSync(join(d, 'data'));
    writeFileSync(join(d, 'data', 'thesis.tex'), 'years of work');
    await expect(runDemo({ out: d, images: 2, gallery: 0, batch: 2, patternImages: 2, log: () => {}, progress: false }))
      .rejects.toThrow(/holds files the demo did not write \(data\)/);
    expect(readFileSync(join(d, 'data', 'thesis.tex'), 'utf8')).toBe('years of work');
  }, 300_000);
});

describe('lrp synth --out', () => {
  it('refuses a real dataset\'s folder, whose split list and classes.txt it would replace', () => {
    const d = fresh('synth');
    mkdirSync(join(d, 'ImageSets', 'Main'), { recursive: true });
    writeFileSync(join(d, 'ImageSets', 'Main', 'test.txt'), '000001\n');
    expect(() => writeSynthDataset(d, { images: 1, size: 32, seed: 1, split: 'test' })).toThrow(/--out .* holds files that are not a synthetic set/);
    expect(readFileSync(join(d, 'ImageSets', 'Main', 'test.txt'), 'utf8')).toBe('000001\n');
    // A synthetic set may be written again over itself.
    const again = fresh('synth');
    writeSynthDataset(again, { images: 1, size: 32, seed: 1, split: 'test' });
    expect(() => writeSynthDataset(again, { images: 2, size: 32, seed: 1, split: 'test' })).not.toThrow();
  });
});
