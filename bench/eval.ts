/**
 * End-to-end throughput of the evaluation loop (`lrp eval`): decode + preprocess (worker threads),
 * forward, activation replication, relevance, GPU metrics and record writing, in images/s, and
 * where the time goes. The images are synthetic (VOC layout in a temporary folder: JPEGs of VOC's
 * typical size, 1 to 3 boxes of 1 or 2 classes each, labels named class_0...), so no dataset is
 * needed. Defaults suit lavapipe (CPU): 16 images at batch 4; raise them on a real GPU.
 *
 *   npx tsx bench/eval.ts [--model vgg16:random] [--images 16] [--batch 4] [--composite cmp-alpha2-flat[,lrp-z,...]]
 *                         [--workers N] [--format jpeg|png] [--multi 0.5] [--save-relevance] [--keep DIR]
 *                         [--preprocess SPEC.json]   (for an ONNX model without MODEL.onnx.json beside it)
 *                         [--patterns DIR]           (pattern-attribution's; without it they are learned
 *                                                     first over the bench's own images, timed apart)
 *
 * The paper's nine analyzers at once (Table 1: the composites, LRP-z, alpha-beta, guided backprop,
 * PatternAttribution): --composite paper.
 *
 * The cost of region perturbation (`--metrics mu,aopc`): --aopc [--steps 100] [--patch 8]
 * [--baseline zero] runs the same eval twice, without and with aopc, and prints pairs/s of both
 * (each pair costs 2L more forward passes per analyzer, and 2L for the random order).
 *
 * Stages (seconds of the main thread, so they add up to the loop's wall time):
 *   prepare   waiting for the next prepared sample (decode and preprocessing run on worker
 *             threads in parallel with the GPU work; this is only the part the GPU waited for)
 *   forward   the forward pass of each image batch (upload included)
 *   expand    replicating activations to the batch's (image, class) pairs
 *   relevance the relevance passes, one per analyzer and pair chunk (logit read-back included)
 *   metrics   the masked sums on the GPU and their read-back
 *   maps      channel sums and read-back for --save-relevance
 *   write     records (and maps) to disk with fsync
 *   setup, report: before the loop (model upload, pipelines, dataset listing) and after it
 * A separate pass times decode + preprocess alone over the same images (all workers busy), to
 * show how far the CPU side is from being the bottleneck.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { numel, valueInfo } from '../src/graph/ir.ts';
import { openDataset } from '../src/node/datasets/index.ts';
import { DEMO_ANALYZERS } from '../src/node/demo/run.ts';
import { runEval } from '../src/node/eval/run.ts';
import { runPatterns } from '../src/node/patterns/run.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { loadModel } from '../src/node/model-file.ts';
import { defaultWorkerCount, prepareSamples } from '../src/node/prepare/index.ts';
import { Rng } from '../src/synth/rng.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16:random' },
    images: { type: 'string', default: '16' },
    batch: { type: 'string', default: '4' },
    composite: { type: 'string', default: 'cmp-alpha2-flat' },
    workers: { type: 'string' },
    format: { type: 'string', default: 'jpeg' },
    multi: { type: 'string', default: '0.5' },
    'save-relevance': { type: 'boolean', default: false },
    keep: { type: 'string' },
    preprocess: { type: 'string' },
    patterns: { type: 'string' },
    aopc: { type: 'boolean', default: false },
    steps: { type: 'string', default: '100' },
    patch: { type: 'string', default: '8' },
    baseline: { type: 'string', default: 'zero' },
  },
});

const nImages = Number(args.images);
const batch = Number(args.batch);
const workers = args.workers !== undefined ? Number(args.workers) : defaultWorkerCount();
const multi = Number(args.multi);
const format = args.format === 'png' ? 'png' : 'jpeg';
const composites = args.composite === 'paper' ? [...DEMO_ANALYZERS] : args.composite!.split(',');

/** Deterministic uniform [0, 1): the synthetic generator's mulberry32. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** A VOC folder of synthetic images: smooth gradients with brighter boxes, VOC's usual sizes. */
async function writeDataset(dir: string, classes: number): Promise<{ pairs: number }> {
  for (const d of ['JPEGImages', 'Annotations', 'ImageSets/Main']) mkdirSync(join(dir, d), { recursive: true });
  const r = rng(1);
  const ids: string[] = [];
  let pairs = 0;
  for (let k = 0; k < nImages; k++) {
    const id = `synth_${String(k).padStart(6, '0')}`;
    ids.push(id);
    const [w, h] = r() < 0.7 ? [500, 375] : [375, 500];
    const nClasses = r() < multi ? 2 : 1;
    const objects: string[] = [];
    const boxes: [number, number, number, number][] = [];
    for (let c = 0; c < nClasses; c++) {
      const cls = Math.floor(r() * classes);
      const nBoxes = 1 + Math.floor(r() * 2);
      for (let b = 0; b < nBoxes; b++) {
        const bw = Math.floor(w * (0.1 + 0.6 * r())), bh = Math.floor(h * (0.1 + 0.6 * r()));
        const x0 = 1 + Math.floor(r() * (w - bw)), y0 = 1 + Math.floor(r() * (h - bh));
        boxes.push([x0, y0, x0 + bw - 1, y0 + bh - 1]);
        objects.push(`<object><name>class_${cls}</name><difficult>0</difficult><bndbox><xmin>${x0}</xmin><ymin>${y0}</ymin><xmax>${x0 + bw - 1}</xmax><ymax>${y0 + bh - 1}</ymax></bndbox></object>`);
      }
      pairs++;
    }
    const px = Buffer.alloc(w * h * 3);
    const phase = r() * 6.28;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inBox = boxes.some(([a, b, c, d]) => x + 1 >= a && x + 1 <= c && y + 1 >= b && y + 1 <= d);
        const i = 3 * (y * w + x);
        px[i] = 128 + 100 * Math.sin(x / 37 + phase);
        px[i + 1] = 128 + 100 * Math.cos(y / 23 + phase);
        px[i + 2] = inBox ? 220 : (x * y) & 0xff;
      }
    }
    const img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
    const bytes = format === 'jpeg' ? await img.jpeg({ quality: 90 }).toBuffer() : await img.png().toBuffer();
    writeFileSync(join(dir, 'JPEGImages', `${id}.${format === 'jpeg' ? 'jpg' : 'png'}`), bytes);
    writeFileSync(join(dir, 'Annotations', `${id}.xml`),
      `<annotation><filename>${id}.jpg</filename><size><width>${w}</width><height>${h}</height><depth>3</depth></size>${objects.join('')}</annotation>\n`);
  }
  writeFileSync(join(dir, 'ImageSets/Main/test.txt'), `${ids.join('\n')}\n`);
  return { pairs };
}

const root = args.keep ?? mkdtempSync(join(tmpdir(), 'lrp-bench-eval-'));
try {
  const model = loadModel(args.model, { preprocess: args.preprocess });
  const classes = numel(valueInfo(model.graph, model.graph.output).shape);
  const weightBytes = model.graph.layers.reduce((n, l) => n + ('weight' in l ? 4 * (l.weight.length + l.bias.length) : 0), 0);
  const voc = join(root, 'VOC');
  const labels = join(root, 'labels.txt');
  writeFileSync(labels, `${Array.from({ length: classes }, (_, i) => `class_${i}`).join('\n')}\n`);
  let t = performance.now();
  const { pairs } = await writeDataset(voc, classes);
  console.log(`wrote ${nImages} synthetic ${format.toUpperCase()} images (${pairs} pairs) in ${((performance.now() - t) / 1000).toFixed(1)} s to ${voc}`);

  // Decode + preprocess alone.
  const ds = await openDataset(`voc:${voc}`, { labels });
  if (!model.preprocess) throw new Error(`${args.model}: no preprocessing spec`);
  t = performance.now();
  let prepared = 0;
  for await (const r of prepareSamples(ds.samples, model.preprocess, { workers })) if ('input' in r) prepared++;
  const prepSeconds = (performance.now() - t) / 1000;
  console.log(`decode + preprocess alone: ${prepared} images in ${prepSeconds.toFixed(2)} s = ${(prepared / prepSeconds).toFixed(1)} images/s with ${workers} worker(s)`);

  const gpu = await createNodeGpu();
  console.log(`adapter: ${gpu.adapterName}`);
  try {
    let patterns = args.patterns;
    if (composites.includes('pattern-attribution') && patterns === undefined) {
      patterns = join(root, 'patterns');
      const learned = await runPatterns({
        model: args.model, dataset: `voc:${voc}`, labels, out: patterns, batch, workers, preprocess: args.preprocess,
        checkpointSeconds: 1e9, progress: false, gpu, log: () => {},
      });
      console.log(`pattern-attribution: patterns learned over the same ${learned.samples} images first in ${learned.seconds.toFixed(1)} s`
        + ` (${(learned.samples / learned.seconds).toFixed(3)} images/s; not part of the eval figures below)`);
    }
    const out = join(root, 'out');
    const evalOpts = {
      model: args.model, dataset: `voc:${voc}`, labels, composites, batch, workers, preprocess: args.preprocess,
      saveRelevance: args['save-relevance'], gpu, log: () => {}, ...(patterns !== undefined ? { patterns } : {}),
    };
    const res = await runEval({ ...evalOpts, out });
    const loopOf = (r: typeof res) => r.seconds - (r.stages.setup ?? 0) - (r.stages.report ?? 0) - (r.stages.compile ?? 0);
    const report = res.report!;
    const analyzers = report.settings.analyzers.length;
    console.log(`\n${args.model}, ${nImages} images, ${report.pairs} pairs, ${analyzers} analyzer(s) (${report.settings.analyzers.join(', ')}), batch ${batch}`);
    const loop = res.seconds - (res.stages.setup ?? 0) - (res.stages.report ?? 0);
    console.log(`eval loop: ${loop.toFixed(2)} s = ${(nImages / loop).toFixed(3)} images/s, ${(report.pairs * analyzers / loop).toFixed(3)} relevance maps/s`
      + ` (${res.seconds.toFixed(2)} s with setup and report)`);
    const stages = Object.entries(res.stages);
    const accounted = stages.reduce((s, [, v]) => s + v, 0);
    console.log(`\n${'stage'.padEnd(12)} ${'seconds'.padStart(9)} ${'share'.padStart(7)} ${'ms/image'.padStart(10)}`);
    for (const [k, v] of [...stages, ['other', Math.max(0, res.seconds - accounted)] as [string, number]]) {
      console.log(`${k.padEnd(12)} ${v.toFixed(3).padStart(9)} ${`${((100 * v) / res.seconds).toFixed(1)}%`.padStart(7)} ${((1000 * v) / nImages).toFixed(1).padStart(10)}`);
    }
    console.log(`${'total'.padEnd(12)} ${res.seconds.toFixed(3).padStart(9)}`);
    console.log(`GPU buffer pool peak: ${(gpu.ctx.pool.stats.peak / 2 ** 20).toFixed(0)} MiB (activations, relevance, scratch: beyond the weights)`);
    // On lavapipe GPU memory is process memory: the peak RSS is the whole run's footprint.
    console.log(`process peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (weights ${(weightBytes / 2 ** 20).toFixed(0)} MiB as stored in the model)`);
    console.log(`pipelines: ${gpu.ctx.pipelines.size} (each one LLVM compile on lavapipe with a cold shader cache)`);
    if (args.aopc) {
      const aopc = { steps: Number(args.steps), patch: Number(args.patch), baseline: args.baseline! };
      // A warm-up of the aopc kernels and batch shapes on one image, so that neither figure pays a compile.
      await runEval({ ...evalOpts, out: join(root, 'out-aopc-warm'), limit: 1, metrics: ['mu', 'aopc'], ...aopc });
      const withAopc = await runEval({ ...evalOpts, out: join(root, 'out-aopc'), metrics: ['mu', 'aopc'], ...aopc });
      const pairs = report.pairs;
      const a = loopOf(res), b = loopOf(withAopc);
      console.log(`\nregion perturbation (--steps ${aopc.steps} --patch ${aopc.patch} --baseline ${aopc.baseline}; ${2 * aopc.steps} forward passes per pair and analyzer, ${2 * aopc.steps} per pair for the random order):`);
      console.log(`  without aopc: ${pairs} pairs in ${a.toFixed(2)} s = ${(pairs / a).toFixed(3)} pairs/s`);
      console.log(`  with aopc:    ${pairs} pairs in ${b.toFixed(2)} s = ${(pairs / b).toFixed(3)} pairs/s (${(b / a).toFixed(1)} times the time; aopc stage ${(withAopc.stages.aopc ?? 0).toFixed(2)} s)`);
      const fwd = pairs * (analyzers + 1) * 2 * aopc.steps;
      console.log(`  perturbed inputs: ${fwd} through the forward pass, ${(fwd / (withAopc.stages.aopc ?? 1)).toFixed(1)} per second of the aopc stage`);
    }
  } finally {
    gpu.close();
  }
} finally {
  if (!args.keep) rmSync(root, { recursive: true, force: true });
}
