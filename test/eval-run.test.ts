/**
 * `lrp eval` end to end on a small VOC-format fixture written here (PNGs, XML, ImageSets/Main/test.txt)
 * with the 3×32×32 vgg-tiny test model: records and report, the kill-and-resume simulation, shards
 * and merge, faults (corrupt image, malformed XML, box outside its image, class not in the label
 * list) skipped and counted, bad composites and models refused before any work, and the occlusion
 * check.
 */
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskedSumsCpu } from '../src/eval/masked-sums.ts';
import { isPrepared } from '../src/eval/pairs.ts';
import type { EvalReport } from '../src/eval/report.ts';
import type { PairRecord } from '../src/eval/types.ts';
import { ForwardModel } from '../src/forward/model.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { openDataset } from '../src/node/datasets/index.ts';
import { readJsonl } from '../src/node/eval/files.ts';
import { mergeRuns } from '../src/node/eval/merge.ts';
import { runOcclusion } from '../src/node/eval/occlusion.ts';
import { runEval, type EvalOptions } from '../src/node/eval/run.ts';
import { loadAnalyzers, loadEvalModel, selectItems } from '../src/node/eval/setup.ts';
import { encodePng } from '../src/node/png.ts';
import { prepareSample } from '../src/node/prepare/index.ts';
import { useGpu } from './helpers/gpu.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';
import { Rng } from '../src/synth/rng.ts';

const MODEL = 'testvectors/zennit/vgg-tiny/model.onnx';
const have = haveShared('eval end to end', MODEL);
const gpu = useGpu();
const LABELS = ['aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow'];
const COMPOSITES = ['cmp-alpha2-flat,lrp-epsilon'];

let root: string;
let voc: string;
let labels: string;
let preprocess: string;

/** Deterministic uniform [0, 1): the synthetic generator's mulberry32. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

type Obj = [name: string, xmin: number, ymin: number, xmax: number, ymax: number, difficult?: boolean];

function xml(id: string, w: number, h: number, objects: Obj[]): string {
  const objs = objects.map(([name, x0, y0, x1, y1, d]) => `  <object><name>${name}</name><difficult>${d ? 1 : 0}</difficult>`
    + `<bndbox><xmin>${x0}</xmin><ymin>${y0}</ymin><xmax>${x1}</xmax><ymax>${y1}</ymax></bndbox></object>`).join('\n');
  return `<annotation><filename>${id}.png</filename><size><width>${w}</width><height>${h}</height><depth>3</depth></size>\n${objs}\n</annotation>\n`;
}

/** A VOC folder: 9 good images (some multi-label, one with two boxes of a class) and 4 faulty ones. */
function writeFixture(dir: string): void {
  for (const d of ['JPEGImages', 'Annotations', 'ImageSets/Main']) mkdirSync(join(dir, d), { recursive: true });
  const r = rng(3);
  const images: [string, number, number, Obj[]][] = [
    ['img_00', 48, 40, [['cat', 5, 6, 30, 35]]],
    ['img_01', 64, 64, [['dog_not_listed', 1, 1, 20, 20], ['car', 10, 12, 60, 50]]],
    ['img_02', 40, 56, [['bird', 1, 1, 40, 56]]],
    ['img_03', 50, 50, [['cow', 2, 3, 20, 40], ['cow', 30, 30, 50, 50], ['boat', 25, 1, 45, 12]]],
    ['img_04', 36, 36, [['bus', 10, 10, 28, 30]]],
    ['img_05', 60, 44, [['chair', 3, 3, 15, 40], ['bottle', 40, 5, 58, 42, true]]],
    ['img_06', 44, 44, [['aeroplane', 1, 1, 11, 11]]],
    ['img_07', 52, 38, [['bicycle', 20, 5, 52, 38], ['car', 1, 1, 80, 20]]], // car's box outside the image
    ['img_08', 40, 40, [['cat', 8, 8, 32, 32]]],
    ['img_09', 46, 46, [['dog', 2, 2, 30, 30]]],
    ['img_10', 40, 40, [['boat', 5, 5, 30, 30]]], // corrupt PNG
    ['img_11', 40, 40, [['cow', 5, 5, 30, 30]]], // malformed XML
    ['img_12', 38, 42, [['bird', 4, 4, 30, 39], ['cat', 10, 10, 20, 20]]],
  ];
  const ids: string[] = [];
  for (const [id, w, h, objs] of images) {
    ids.push(id);
    const data = new Uint8Array(w * h * 4);
    // Smooth colour fields plus noise, brighter inside the boxes.
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inBox = objs.some(([, x0, y0, x1, y1]) => x + 1 >= x0 && x + 1 <= x1 && y + 1 >= y0 && y + 1 <= y1);
        const i = 4 * (y * w + x);
        data[i] = Math.min(255, (x * 5 + (inBox ? 90 : 0) + r() * 40) | 0);
        data[i + 1] = Math.min(255, (y * 4 + r() * 60) | 0);
        data[i + 2] = Math.min(255, ((inBox ? 200 : 60) + r() * 50) | 0);
        data[i + 3] = 255;
      }
    }
    let png: Uint8Array = encodePng({ width: w, height: h, data });
    if (id === 'img_10') png = png.subarray(0, 60); // cut off: corrupt
    writeFileSync(join(dir, 'JPEGImages', `${id}.png`), png);
    const text = id === 'img_11' ? xml(id, w, h, objs).replace('</annotation>', '') : xml(id, w, h, objs);
    writeFileSync(join(dir, 'Annotations', `${id}.xml`), text);
  }
  writeFileSync(join(dir, 'ImageSets/Main/test.txt'), `${ids.join('\n')}\n`);
}

function options(out: string, extra: Partial<EvalOptions> = {}): EvalOptions {
  return {
    model: sharedPath(MODEL), dataset: `voc:${voc}`, labels, preprocess, composites: COMPOSITES, out, batch: 3,
    workers: 0, progress: false, log: () => {}, gpu: gpu.gpu, ...extra,
  };
}

/** report.json without the fields that depend on the moment and the machine. */
function stable(dir: string): Omit<EvalReport, 'timing'> {
  const r = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as EvalReport;
  const { timing: _t, ...rest } = r;
  return rest;
}

const records = (dir: string) => readJsonl<PairRecord>(join(dir, 'pairs.jsonl')).items;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lrp-eval-test-'));
  voc = join(root, 'VOC');
  writeFixture(voc);
  labels = join(root, 'labels.txt');
  writeFileSync(labels, `${LABELS.join('\n')}\n`);
  preprocess = join(root, 'tiny.json');
  writeFileSync(preprocess, JSON.stringify({ size: [32, 32], channels: 'RGB', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'rescale' }));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!have)('lrp eval end to end (vgg-tiny, VOC fixture)', () => {
  const plain = () => join(root, 'plain');

  it('writes records, skips and the report; the records are the relevance of each pair\'s true class', async () => {
    const res = await runEval(options(plain(), { saveRelevance: true }));
    const report = res.report!;
    expect(report).not.toBeNull();
    for (const f of ['pairs.jsonl', 'skips.jsonl', 'report.json', 'report.md', 'curve.csv', 'curve.svg', 'run.json']) {
      expect(existsSync(join(plain(), f)), f).toBe(true);
    }
    const recs = records(plain());
    // Pairs: 00 cat; 01 car; 02 bird; 03 cow (two boxes), boat; 04 bus; 05 chair, bottle; 06 aeroplane;
    // 07 bicycle; 08 cat; 12 bird, cat = 13. Skipped: dog (01), car outside (07), dog (09: its only
    // object, not listed), 10 corrupt, 11 malformed.
    expect(report.pairs).toBe(13);
    expect(recs.length).toBe(26);
    expect(report.records).toBe(26);
    expect(report.images).toBe(13);
    expect(report.imagesMeasured).toBe(10);
    expect(new Set(recs.map((r) => r.analyzer))).toEqual(new Set(['cmp-alpha2-flat', 'lrp-epsilon']));
    const reasons = report.skipped.entries.map((s) => `${s.id} ${s.className ?? ''} ${s.reason}`);
    expect(report.skipped.count).toBe(5);
    expect(reasons.find((r) => r.startsWith('img_01 dog_not_listed'))).toMatch(/not in the label list/);
    expect(reasons.find((r) => r.startsWith('img_07 car'))).toMatch(/not inside/);
    expect(reasons.find((r) => r.startsWith('img_09'))).toMatch(/not in the label list/);
    expect(reasons.find((r) => r.startsWith('img_10'))).toMatch(/PNG/);
    expect(reasons.find((r) => r.startsWith('img_11'))).toMatch(/malformed XML/);
    // Table rows by mu_w descending, Baseline included with mu_w = 1.
    expect(report.rows.map((r) => r.analyzer).sort()).toEqual(['Baseline', 'cmp-alpha2-flat', 'lrp-epsilon']);
    const muw = report.rows.map((r) => r.mu_w ?? -Infinity);
    expect([...muw].sort((a, b) => b - a)).toEqual(muw);
    expect(report.rows.find((r) => r.analyzer === 'Baseline')!.mu_w).toBe(1);
    expect(report.curve.pairs.reduce((s, n) => s + n, 0)).toBe(13);
    const md = readFileSync(join(plain(), 'report.md'), 'utf8');
    expect(md).toContain('| analyzer | mu_w | mu<=0.25 | mu<=0.5 | mu | pairs | degenerate |');
    expect(md).toContain('5 skipped');
    // Records in canonical order: image, class index, analyzer order.
    const keys = recs.map((r) => `${r.image} ${String(r.classIndex).padStart(2, '0')} ${r.analyzer === 'cmp-alpha2-flat' ? 0 : 1}`);
    expect([...keys].sort()).toEqual(keys);

    // Independent check of two pairs of one multi-label image: the relevance of the true class,
    // from the logit, reduced on the CPU in float64.
    const model = loadEvalModel(sharedPath(MODEL), preprocess);
    const [an] = loadAnalyzers(['lrp-epsilon'], model.graph, model.preprocess);
    const ds = await openDataset(`voc:${voc}`, { labels });
    const sample = ds.samples.find((s) => s.id === 'img_03')!;
    const prepared = await prepareSample(sample, model.preprocess);
    expect(isPrepared(prepared)).toBe(true);
    if (!isPrepared(prepared)) return;
    const fm = await ForwardModel.create(gpu.ctx, model.graph);
    const ex = await Explainer.create(fm, an.composite);
    try {
      for (const p of prepared.pairs) {
        const e = await ex.explain(prepared.input, 1, { targets: [p.classIndex], init: 'logit' });
        const want = maskedSumsCpu(e.relevance, 3, 32 * 32, p.mask);
        const got = recs.find((r) => r.image === 'img_03' && r.classIndex === p.classIndex && r.analyzer === 'lrp-epsilon')!;
        expect(got.S_in).toBe(want.S_in);
        expect(got.S_tot).toBe(1024);
        expect(Math.abs(got.R_tot - want.R_tot)).toBeLessThanOrEqual(1e-5 * Math.abs(want.R_tot));
        expect(Math.abs(got.R_in - want.R_in)).toBeLessThanOrEqual(1e-5 * Math.abs(want.R_tot));
        expect(got.mu).toBe(got.R_in / got.R_tot);
        // --save-relevance: the channel-summed map of that pair.
        const npy = readFileSync(join(plain(), 'relevance', 'lrp-epsilon', `img_03_${p.classIndex}.npy`));
        expect(npy.length).toBeGreaterThan(4 * 1024);
      }
    } finally {
      ex.destroy();
      fm.destroy();
    }
    expect(readdirSync(join(plain(), 'relevance', 'cmp-alpha2-flat')).length).toBe(13);
  });

  it('a killed run (after a batch, with a torn last line) resumes to exactly the plain run\'s records', async () => {
    const dir = join(root, 'killed');
    const stopped = await runEval(options(dir, { stopAfterBatches: 2 }));
    expect(stopped.report).toBeNull();
    expect(existsSync(join(dir, 'report.json'))).toBe(false);
    const partial = readFileSync(join(dir, 'pairs.jsonl'), 'utf8');
    expect(partial.length).toBeGreaterThan(0);
    // Tear the last line in half, as a crash mid-write would.
    truncateSync(join(dir, 'pairs.jsonl'), partial.length - 40);
    // Without --resume the folder is refused.
    await expect(runEval(options(dir))).rejects.toThrow(/--resume/);
    // With other settings it is refused too.
    await expect(runEval(options(dir, { resume: true, init: 'onehot' }))).rejects.toThrow(/init/);
    const resumed = await runEval(options(dir, { resume: true }));
    expect(resumed.report).not.toBeNull();
    expect(resumed.images).toBeLessThan(13);
    expect(readFileSync(join(dir, 'pairs.jsonl'), 'utf8')).toBe(readFileSync(join(plain(), 'pairs.jsonl'), 'utf8'));
    expect(stable(dir)).toEqual(stable(plain()));
    // Resuming a finished run does nothing new.
    const again = await runEval(options(dir, { resume: true }));
    expect(again.records).toBe(0);
    expect(records(dir).length).toBe(26);
    // A run killed before its first batch was written, with worker threads, resumes as well.
    const early = join(root, 'early');
    await runEval(options(early, { stopAfterBatches: 1, workers: 1 }));
    appendFileSync(join(early, 'pairs.jsonl'), '{"image":"img_0');
    await runEval(options(early, { resume: true, workers: 1, batch: 4 }));
    expect(stable(early)).toEqual(stable(plain()));
  });

  it('shards 0/2 and 1/2 merge into the plain run\'s report', async () => {
    const s0 = join(root, 'shard0'), s1 = join(root, 'shard1'), merged = join(root, 'merged');
    await runEval(options(s0, { shard: { index: 0, count: 2 } }));
    await runEval(options(s1, { shard: { index: 1, count: 2 }, batch: 2 }));
    const a = records(s0), b = records(s1);
    expect(a.length + b.length).toBe(26);
    expect(new Set(a.map((r) => r.image)).size + new Set(b.map((r) => r.image)).size).toBe(10);
    await expect(mergeRuns([s0], merged, { log: () => {} })).rejects.toThrow(/1\/2 missing/);
    await mergeRuns([s1, s0], merged, { log: () => {} });
    expect(stable(merged)).toEqual(stable(plain()));
    expect(readFileSync(join(merged, 'pairs.jsonl'), 'utf8')).toBe(readFileSync(join(plain(), 'pairs.jsonl'), 'utf8'));
    expect(stable(s0).shard).toEqual({ index: 0, count: 2 });
  });

  it('the shard split and --limit follow the sorted image list, broken images included', async () => {
    const ds = await openDataset(`voc:${voc}`, { labels });
    const all = selectItems(ds.samples, ds.skips, {});
    expect(all.map((i) => i.id)).toEqual(Array.from({ length: 13 }, (_, k) => `img_${String(k).padStart(2, '0')}`));
    expect(all.find((i) => i.id === 'img_11')!.sample).toBeNull();
    expect(selectItems(ds.samples, ds.skips, { shard: { index: 1, count: 3 } }).map((i) => i.id)).toEqual(['img_01', 'img_04', 'img_07', 'img_10']);
    expect(selectItems(ds.samples, ds.skips, { limit: 4, shard: { index: 0, count: 2 } }).map((i) => i.id)).toEqual(['img_00', 'img_02']);
  });

  it('a bad composite or model fails before any work, naming the problem', async () => {
    const dir = join(root, 'bad');
    await expect(runEval(options(dir, { composites: ['cmp-alpha2-flat,no-such-preset'] }))).rejects.toThrow(/no-such-preset/);
    await expect(runEval(options(dir, { composites: ['{"rules":[{"layers":"#9","rule":"z"}]}'] }))).rejects.toThrow(/#9/);
    await expect(runEval(options(dir, { model: join(root, 'missing.onnx') }))).rejects.toThrow(/no such model file/);
    await expect(runEval(options(dir, { preprocess: undefined }))).rejects.toThrow(/no preprocessing spec/);
    await expect(runEval(options(dir, { labels: undefined }))).rejects.toThrow(/20 classes but .* 10 outputs/);
    await expect(runEval(options(dir, { dataset: 'coco:/x' }))).rejects.toThrow(/unknown dataset kind/);
    expect(existsSync(dir)).toBe(false);
  });

  it('occlusion: object and context deltas per pair, curves and means', async () => {
    const out = join(root, 'occlusion');
    const res = await runOcclusion({
      model: sharedPath(MODEL), dataset: `voc:${voc}`, labels, preprocess, out, batch: 4, workers: 0, progress: false, log: () => {}, gpu: gpu.gpu,
    });
    expect(res.records.length).toBe(13);
    expect(res.summary.pairs).toBe(13);
    for (const r of res.records) {
      expect(Number.isFinite(r.f)).toBe(true);
      expect(r.delta_object).toBeCloseTo((r.f_object - r.f) / Math.abs(r.f), 6);
      expect(r.delta_context).toBeCloseTo((r.f_context - r.f) / Math.abs(r.f), 6);
    }
    // img_02's box is the whole image: occluding its context changes nothing.
    const whole = res.records.find((r) => r.image === 'img_02')!;
    expect(whole.S_in).toBe(1024);
    expect(whole.f_context).toBe(whole.f);
    expect(res.summary.meanDeltaObject).not.toBeNull();
    expect(res.summary.curve.object.count.reduce((s, n) => s + n, 0)).toBe(13 - res.summary.degenerate);
    for (const f of ['occlusion.jsonl', 'occlusion.json', 'occlusion.csv', 'occlusion.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(readFileSync(join(out, 'occlusion.csv'), 'utf8').split('\n')[0]).toBe('bin,lo,hi,object mean_delta,object n,context mean_delta,context n');
  });

  it('the CLI: lrp eval and lrp merge', async () => {
    const bin = fileURLToPath(new URL('../bin/lrp.js', import.meta.url));
    const run = promisify(execFile);
    const out = join(root, 'cli');
    const { stdout, stderr } = await run(process.execPath, [bin, 'eval', '--model', sharedPath(MODEL), '--dataset', `voc:${voc}`,
      '--labels', labels, '--preprocess', preprocess, '--composite', 'lrp-epsilon', '--limit', '3', '--batch', '2', '--out', out, '--workers', '0']);
    expect(stdout).toMatch(/lrp-epsilon/);
    expect(stdout).toMatch(/Baseline\s+1\.0000/);
    expect(stderr).toMatch(/eval: 3\/3 images/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as EvalReport;
    expect(report.images).toBe(3);
    expect(report.settings.limit).toBe(3);
    const bad = await run(process.execPath, [bin, 'merge', out, '--out', join(root, 'cli-merged')]).catch((e: { stderr: string; code: number }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toMatch(/whole run, not a shard/);
  });

  it('a real SIGKILL mid-run, then --resume: the plain run\'s records, none twice', async () => {
    const bin = fileURLToPath(new URL('../bin/lrp.js', import.meta.url));
    const out = join(root, 'sigkill');
    const argv = [bin, 'eval', '--model', sharedPath(MODEL), '--dataset', `voc:${voc}`, '--labels', labels, '--preprocess', preprocess,
      '--composite', ...COMPOSITES, '--batch', '1', '--out', out, '--workers', '0'];
    const child = spawn(process.execPath, argv, { stdio: 'ignore' });
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    // Kill as soon as the first batch is on disk (if the run is faster than the polling, it finished: still a valid resume).
    for (let i = 0; i < 3000; i++) {
      if (existsSync(join(out, 'pairs.jsonl')) && readFileSync(join(out, 'pairs.jsonl')).length > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await exited;
    const before = readJsonl<PairRecord>(join(out, 'pairs.jsonl')).items.length;
    await promisify(execFile)(process.execPath, [...argv, '--resume']);
    expect(before).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'pairs.jsonl'), 'utf8')).toBe(readFileSync(join(plain(), 'pairs.jsonl'), 'utf8'));
    expect(stable(out)).toEqual(stable(plain()));
  });
});
