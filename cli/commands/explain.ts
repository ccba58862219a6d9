import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { winogradSkips, type ConvMode } from '../../src/forward/winograd.ts';
import { dirname, extname, join } from 'node:path';
import { aopcOfBatch, checkAopcSettings, DEFAULT_AOPC } from '../../src/eval/region-perturbation.ts';
import { ForwardModel } from '../../src/forward/model.ts';
import { checkModelFits } from '../../src/forward/size-limits.ts';
import { numel, valueInfo } from '../../src/graph/ir.ts';
import { relevancePicture, relevancePlane, type HeatmapMode, type PictureSize } from '../../src/heatmap/index.ts';
import { formatComposite } from '../../src/lrp/composite.ts';
import { Explainer, type Init } from '../../src/lrp/explainer.ts';
import { loadAnalyzers } from '../../src/node/eval/setup.ts';
import { createNodeGpu } from '../../src/node/gpu.ts';
import { readImage } from '../../src/node/image-decode.ts';
import { loadInputs } from '../../src/node/inputs.ts';
import { loadModel } from '../../src/node/model-file.ts';
import { writeNpy } from '../../src/node/npy-file.ts';
import { writeFileAtomic } from '../../src/node/atomic-write.ts';
import { checkFolderWritable, checkOutputPlan, modelRunInputs, uniqueStems, type PlanInput, type PlannedOutput } from '../../src/node/output-plan.ts';
import { writePng } from '../../src/node/png.ts';
import { className, labelsFor, profileTable, Stages } from '../common.ts';
import {
  AOPC_OPTIONS, batchOption, COMPOSITE_OPTIONS, CONV_OPTION, defineCommand, MODEL_OPTIONS, parseTargets, PROFILE_OPTION, RENDER_OPTIONS, SIZE_OPTION,
  TARGET_OPTION, UsageError, VERBOSE_OPTION,
} from '../options.ts';

interface Args {
  model: string;
  output?: string;
  preprocess?: string;
  labels?: string;
  input: string[];
  composite: string[];
  epsilon?: number;
  'flat-layers'?: number;
  'classifier-layers'?: number;
  patterns?: string;
  target: string;
  init: Init;
  'relevance-out'?: string;
  heatmap: string | false;
  cmap: string;
  clip: number;
  mode: HeatmapMode;
  overlay: boolean;
  size: PictureSize;
  batch?: number;
  verbose: boolean;
  profile: boolean;
  'aopc-out'?: string;
  steps?: number;
  patch?: number;
  baseline?: string;
  conv: ConvMode;
}

/** With several composites, each output file gets the composite's name (a file-name stem) before its extension. */
function perComposite(path: string, stem: string, several: boolean): string {
  if (!several) return path;
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}.${stem}${ext}`;
}

/** The files a run reads, which no output may replace. */
function readFiles(args: Args): PlanInput[] {
  const files: PlanInput[] = modelRunInputs(args);
  if (args.patterns && existsSync(args.patterns) && statSync(args.patterns).isDirectory()) {
    for (const f of readdirSync(args.patterns)) files.push({ path: join(args.patterns, f), what: '--patterns' });
  }
  return files;
}

export const explainCommand = defineCommand<Args>({
  command: 'explain',
  describe: 'Compute LRP relevance for images or a .npy batch: heatmaps (PNG) and raw relevance (.npy)',
  options: [
    ...MODEL_OPTIONS,
    CONV_OPTION,
    { name: 'input', opt: { type: 'string', array: true, demandOption: true, describe: 'image files (JPEG, PNG), or one float32 NCHW .npy batch' } },
    ...COMPOSITE_OPTIONS,
    TARGET_OPTION,
    { name: 'init', opt: { choices: ['logit', 'onehot'] as const, default: 'logit' as Init, describe: 'relevance at the target: its logit (the paper) or 1' } },
    { name: 'relevance-out', opt: { type: 'string', describe: 'write the N×C×H×W input relevance (float32) to this .npy' } },
    {
      name: 'heatmap',
      opt: { type: 'string', default: 'heatmaps', describe: 'where the PNG heatmaps go: a folder (one per input, NAME.png), or a .png for one input; --no-heatmap for none' },
    },
    {
      name: 'aopc-out',
      opt: { type: 'string', describe: 'write region perturbation of every sample (--steps, --patch, --baseline) to this .json: {"samples": [{"target", "morf", "lerf", "aopc_morf", "aopc_lerf"}]}' },
    },
    ...AOPC_OPTIONS,
    ...RENDER_OPTIONS,
    SIZE_OPTION,
    batchOption('samples per GPU batch (default: 16, or fewer when the model is large)'),
    VERBOSE_OPTION,
    PROFILE_OPTION,
  ],
  examples: [
    ['explain --model squeezenet1.1.onnx --input cat.jpg --labels synset_words.txt --target tabby',
      'relevance for the class "tabby" as heatmaps/cat.png (bwr, clipped at the 99.5th percentile)'],
    ['explain --model vgg16.onnx --input a.jpg b.jpg --composite cmp-alpha2-flat,lrp-z --size original --overlay --cmap seismic',
      'two composites, heatmaps over the photos at their own size: heatmaps/a.cmp-alpha2-flat.png, ...'],
  ],
  check: (a) => {
    if (a.heatmap !== false && String(a.heatmap).trim() === '') return '--heatmap: give a folder or a .png (or --no-heatmap)';
    const set = (['steps', 'patch', 'baseline'] as const).filter((k) => a[k] !== undefined);
    if (set.length && !a['aopc-out']) return `${set.map((k) => `--${k}`).join(', ')} set region perturbation: give --aopc-out FILE.json`;
    return null;
  },
  handler: async (args) => {
    const stages = new Stages();
    const model = await stages.time('load', () => loadModel(args.model, { output: args.output, preprocess: args.preprocess }));
    const { graph } = model;
    const classes = numel(valueInfo(graph, graph.output).shape);
    const labels = labelsFor(args.labels, classes);
    const notes: string[] = [];
    const analyzers = loadAnalyzers(args.composite, graph, model.preprocess, {
      epsilon: args.epsilon, flatLayers: args['flat-layers'], classifierLayers: args['classifier-layers'], patterns: args.patterns, notes,
    });
    for (const note of notes) console.error(`note: ${note}`);
    const several = analyzers.length > 1;
    for (const a of analyzers) for (const note of a.composite.notes) console.error(`note: ${several && !note.startsWith(`${a.name}:`) ? `${a.name}: ` : ''}${note}`);
    const targets = parseTargets(args.target, labels, classes);
    const aopcSettings = args['aopc-out'] ? { steps: args.steps ?? DEFAULT_AOPC.steps, patch: args.patch ?? DEFAULT_AOPC.patch, baseline: args.baseline ?? DEFAULT_AOPC.baseline } : null;
    if (aopcSettings) {
      try {
        checkAopcSettings(aopcSettings, graph.input.shape);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }

    // The device first: the model's declared sizes are checked against its limits before any
    // image is decoded and resized to them.
    const gpu = await createNodeGpu();
    let failures: readonly unknown[] = [];
    try {
      checkModelFits(graph, { binding: gpu.ctx.maxBinding }, args.model);
      const inputs = await stages.time('prepare', () => loadInputs(args.input, graph, model.preprocess,
        `give --preprocess FILE or put ${args.model}.json beside the model`));
      for (const f of inputs.failures) console.error(`skipped ${f.message}`);
      failures = inputs.failures;
      if (targets.length !== 1 && targets.length !== args.input.length && targets.length !== inputs.count) {
        throw new UsageError(`--target gives ${targets.length} classes for ${inputs.count} samples (give one per sample, or one for all)`);
      }
      // Targets given per input follow their inputs when some could not be read.
      const sampleTargets = targets.length === 1 ? targets
        : targets.length === inputs.count ? targets
          : args.input.flatMap((p, i) => (inputs.failures.some((f) => f.path === p) ? [] : [targets[i]]));
      const imageInputs = inputs.paths.every((p) => p !== null);
      if ((args.size === 'original' || args.overlay) && !imageInputs) {
        throw new UsageError(`${args.size === 'original' ? '--size original' : '--overlay'} needs image inputs, not a .npy batch`);
      }
      const heatmap = args.heatmap === false ? null : String(args.heatmap);
      const single = heatmap !== null && extname(heatmap).toLowerCase() === '.png';
      if (single && inputs.count !== 1) throw new UsageError(`--heatmap ${heatmap} names one file, but there are ${inputs.count} samples: give a folder`);
      if (heatmap !== null && graph.input.shape.length !== 3) throw new Error(`heatmaps need a C×H×W input; the model takes ${graph.input.shape.join('×')} (use --relevance-out, or --no-heatmap)`);
      // Every file this run writes, decided and checked before any GPU work (output-plan.ts).
      const stems = uniqueStems(analyzers.map((a) => a.name));
      const relevanceFiles = args['relevance-out'] ? analyzers.map((_, k) => perComposite(args['relevance-out']!, stems[k], several)) : [];
      const heatmapFiles = heatmap === null ? [] : Array.from({ length: inputs.count }, (_, i) => analyzers.map((_a, k) => (
        perComposite(single ? heatmap : join(heatmap, `${inputs.stems[i]}.png`), stems[k], several))));
      if (heatmap !== null && !single) checkFolderWritable(heatmap, '--heatmap');
      const planned: PlannedOutput[] = [
        ...relevanceFiles.map((path, k) => ({ path, what: '--relevance-out', of: several ? analyzers[k].name : undefined })),
        ...(args['aopc-out'] ? [{ path: args['aopc-out'], what: '--aopc-out' }] : []),
        ...heatmapFiles.flatMap((row, i) => row.map((path, k) => ({
          path, what: '--heatmap', of: `${inputs.names[i]}${several ? ` with ${analyzers[k].name}` : ''}`,
        }))),
      ];
      checkOutputPlan(planned, readFiles(args));

      stages.compileClock = gpu.compile ? () => gpu.compile!.seconds() : null;
      const { fm, explainers } = await stages.time('upload', async () => {
        const f = await ForwardModel.create(gpu.ctx, graph, { conv: args.conv });
        if (args.conv === 'winograd') { const note = winogradSkips(f.methods()); if (note) console.error(note); }
        const ex: Explainer[] = [];
        for (const a of analyzers) ex.push(await Explainer.create(f, a.composite));
        return { fm: f, explainers: ex };
      });
      if (args.verbose) {
        analyzers.forEach((a, k) => {
          console.log(formatComposite(a.composite, graph));
          for (const d of explainers[k].describe()) console.log(`  ${d.layer.padEnd(20)} ${d.rule.padEnd(36)} ${d.passes}`);
        });
      }
      const per = numel(graph.input.shape);
      const relevance = analyzers.map(() => new Float32Array(inputs.count * per));
      const explained = analyzers.map(() => ({ targets: [] as number[], f0: [] as number[] }));
      // Each explainer splits its relevance pass where its scratch takes fewer samples than the forward.
      const batch = Math.max(1, Math.min(args.batch ?? 16, fm.maxBatch));
      const col = Math.max(24, ...inputs.names.map((n) => n.length));
      const aw = several ? Math.max(9, ...analyzers.map((a) => a.name.length)) : 0;
      console.log(`${'sample'.padEnd(col)} ${several ? `${'composite'.padEnd(aw)} ` : ''}${'target'.padStart(6)} ${'logit'.padStart(11)} ${'sum of R'.padStart(12)}${labels ? '  class' : ''}`);
      for (let n0 = 0; n0 < inputs.count; n0 += batch) {
        const n = Math.min(batch, inputs.count - n0);
        const t = sampleTargets.length === 1 ? sampleTargets : sampleTargets.slice(n0, n0 + n);
        const acts = await stages.time('forward', () => fm.forward(inputs.data.subarray(n0 * per, (n0 + n) * per), n));
        try {
          for (let k = 0; k < analyzers.length; k++) {
            const ex = await stages.time('relevance', () => explainers[k].explainActivations(acts, { targets: t, init: args.init }));
            relevance[k].set(ex.relevance, n0 * per);
            explained[k].targets.push(...ex.targets);
            explained[k].f0.push(...ex.targetLogits);
            gpu.compile?.clearLine();
            for (let i = 0; i < n; i++) {
              console.log(`${inputs.names[n0 + i].padEnd(col)} ${several ? `${analyzers[k].name.padEnd(aw)} ` : ''}${String(ex.targets[i]).padStart(6)} `
                + `${ex.targetLogits[i].toFixed(4).padStart(11)} ${ex.relevanceSums[i].toPrecision(6).padStart(12)}`
                + `${labels ? `  ${className(ex.targets[i], labels).replace(/^\d+ /, '')}` : ''}`);
            }
          }
        } finally {
          acts.release();
        }
      }
      if (aopcSettings && args['aopc-out']) {
        // The sample's position in the input list seeds uniform:SEED (src/eval/region-perturbation.ts).
        for (let k = 0; k < analyzers.length; k++) {
          const samples = await stages.time('aopc', () => aopcOfBatch(fm, { inputs: inputs.data, relevance: relevance[k], ...explained[k] }, aopcSettings, { batchSize: args.batch }));
          const path = perComposite(args['aopc-out']!, analyzers[k].name, several);
          mkdirSync(dirname(path), { recursive: true });
          writeFileAtomic(path, `${JSON.stringify({ steps: aopcSettings.steps, patch: aopcSettings.patch, baseline: aopcSettings.baseline, samples })}\n`);
          const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
          console.log(`wrote ${path}: ${analyzers[k].name} AOPC-MoRF ${mean(samples.map((x) => x.aopc_morf)).toFixed(4)}, AOPC-LeRF ${mean(samples.map((x) => x.aopc_lerf)).toFixed(4)} (mean of ${samples.length})`);
        }
      }
      explainers.forEach((e) => e.destroy());
      fm.destroy();

      await stages.time('write', async () => {
        if (args['relevance-out']) {
          for (let k = 0; k < analyzers.length; k++) {
            const path = relevanceFiles[k];
            mkdirSync(dirname(path), { recursive: true });
            await writeNpy(path, [inputs.count, ...graph.input.shape], relevance[k]);
            console.log(`wrote ${path} (${inputs.count}×${graph.input.shape.join('×')} float32)`);
          }
        }
        if (heatmap === null) return;
        mkdirSync(single ? dirname(heatmap) : heatmap, { recursive: true });
        for (let i = 0; i < inputs.count; i++) {
          const path = inputs.paths[i];
          const image = path && (args.overlay || args.size === 'original') ? await readImage(path) : null;
          for (let k = 0; k < analyzers.length; k++) {
            const plane = relevancePlane(relevance[k], graph.input.shape, i);
            const pic = relevancePicture(plane, {
              cmap: args.cmap, mode: args.mode, clip: args.clip, size: args.size, overlay: args.overlay, image, spec: model.preprocess,
            });
            const file = heatmapFiles[i][k];
            await writePng(file, pic.image);
            console.log(`wrote ${file}`);
          }
        }
      });
    } finally {
      gpu.close();
    }
    if (args.profile) console.error(`\n${profileTable(stages.times, stages.total)}`);
    if (failures.length) {
      console.error(`${failures.length} of ${args.input.length} inputs could not be read (listed above); the rest are done`);
      process.exitCode = 1;
    }
  },
});
