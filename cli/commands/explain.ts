import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { CommandModule } from 'yargs';
import { ForwardModel } from '../../src/forward/model.ts';
import { numel } from '../../src/graph/ir.ts';
import { channelSum, heatmap } from '../../src/io/heatmap.ts';
import { formatComposite, parseComposite, resolveComposite } from '../../src/lrp/composite.ts';
import { Explainer, type Init, type Target } from '../../src/lrp/explainer.ts';
import { createNodeGpu } from '../../src/node/gpu.ts';
import { readImage } from '../../src/node/image-decode.ts';
import { loadInputs } from '../../src/node/inputs.ts';
import { loadModel } from '../../src/node/model-file.ts';
import { patternsFor } from '../../src/node/eval/setup.ts';
import { writeNpy } from '../../src/node/npy-file.ts';
import { writePng } from '../../src/node/png.ts';
import { sourceRect } from '../../src/preprocess/geometry.ts';
import { resampleRect } from '../../src/preprocess/image.ts';

interface Args {
  model: string;
  input: string[];
  composite: string;
  target: string;
  init: Init;
  'relevance-out'?: string;
  heatmap?: string;
  overlay: boolean;
  'flat-layers'?: number;
  epsilon?: number;
  output?: string;
  preprocess?: string;
  patterns?: string;
  batch?: number;
  verbose: boolean;
}

/** A composite argument: a preset name, a JSON file, or inline JSON. */
export function readCompositeArg(arg: string): { value: unknown; source: string } {
  const t = arg.trim();
  if (t.startsWith('{')) return { value: t, source: '--composite (inline JSON)' };
  if (extname(t) === '.json' || existsSync(t)) {
    if (!existsSync(t)) throw new Error(`${t}: no such composite file`);
    return { value: readFileSync(t, 'utf8'), source: t };
  }
  return { value: t, source: '--composite' };
}

export function parseTargets(arg: string): Target[] {
  return arg.split(',').map((s) => {
    const t = s.trim();
    if (t === 'predicted') return 'predicted';
    const n = Number(t);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--target: '${t}' is neither a class index nor 'predicted'`);
    return n;
  });
}

export const explainCommand: CommandModule<object, Args> = {
  command: 'explain',
  describe: 'Compute LRP relevance for a .npy batch or images, as .npy and heatmaps',
  builder: (y) => y
    .option('model', { type: 'string', demandOption: true, describe: 'an .onnx file or a built-in (vgg16:random, ...)' })
    .option('input', { type: 'string', array: true, demandOption: true, describe: 'one float32 NCHW .npy, or image files' })
    .option('composite', { type: 'string', default: 'cmp-alpha2-flat', describe: 'a preset name, a composite .json file, or inline JSON' })
    .option('target', { type: 'string', default: 'predicted', describe: 'class per sample (3,17) or one for all, or "predicted"' })
    .option('init', { choices: ['logit', 'onehot'] as const, default: 'logit' as Init, describe: 'relevance at the target: its logit (the paper) or 1' })
    .option('relevance-out', { type: 'string', describe: 'write the N×C×H×W input relevance (float32) to this .npy' })
    .option('heatmap', { type: 'string', describe: 'write one PNG heatmap per sample: a folder, or a .png for one sample' })
    .option('overlay', { type: 'boolean', default: false, describe: 'draw heatmaps over the (resized) input image' })
    .option('flat-layers', { type: 'number', describe: 'turn the first N linear layers to the flat rule' })
    .option('epsilon', { type: 'number', describe: 'epsilon of the presets that use one (default 0.1)' })
    .option('output', { type: 'string', describe: 'the graph output to explain, for models with several' })
    .option('preprocess', { type: 'string', describe: 'preprocessing spec JSON (default: MODEL.onnx.json beside the model)' })
    .option('patterns', { type: 'string', describe: 'learned patterns for --composite pattern-attribution (a folder lrp patterns wrote)' })
    .option('batch', { type: 'number', describe: 'samples per GPU batch' })
    .option('verbose', { type: 'boolean', default: false, describe: 'print the rule and the passes of every layer' }),
  handler: async (args) => {
    const model = loadModel(args.model, { output: args.output, preprocess: args.preprocess });
    const { graph } = model;
    const { value, source } = readCompositeArg(args.composite);
    const spec = parseComposite(value, source);
    const notes: string[] = [];
    const patterns = patternsFor([spec], graph, { patterns: args.patterns, notes });
    const composite = resolveComposite(spec, graph, {
      flatLayers: args['flat-layers'], epsilon: args.epsilon, preprocess: model.preprocess, patterns,
    });
    for (const note of [...notes, ...composite.notes]) console.log(`note: ${note}`);
    const targets = parseTargets(args.target);
    const inputs = await loadInputs(args.input, graph, model.preprocess,
      `give --preprocess FILE or put ${args.model}.json beside the model`);
    if (targets.length !== 1 && targets.length !== inputs.count) {
      throw new Error(`--target gives ${targets.length} classes for ${inputs.count} samples (give one per sample, or one for all)`);
    }
    const gpu = await createNodeGpu();
    try {
      const fm = await ForwardModel.create(gpu.ctx, graph);
      const explainer = await Explainer.create(fm, composite);
      if (args.verbose) {
        console.log(formatComposite(composite, graph));
        for (const d of explainer.describe()) console.log(`  ${d.layer.padEnd(20)} ${d.rule.padEnd(36)} ${d.passes}`);
      }
      const per = numel(graph.input.shape);
      const relevance = new Float32Array(inputs.count * per);
      const batch = Math.max(1, Math.min(args.batch ?? 16, fm.maxBatch));
      console.log(`${'sample'.padEnd(32)} ${'target'.padStart(6)} ${'logit'.padStart(11)} ${'sum of R'.padStart(12)}`);
      for (let n0 = 0; n0 < inputs.count; n0 += batch) {
        const n = Math.min(batch, inputs.count - n0);
        const t = targets.length === 1 ? targets : targets.slice(n0, n0 + n);
        const ex = await explainer.explain(inputs.data.subarray(n0 * per, (n0 + n) * per), n, { targets: t, init: args.init });
        relevance.set(ex.relevance, n0 * per);
        for (let i = 0; i < n; i++) {
          console.log(`${inputs.names[n0 + i].padEnd(32)} ${String(ex.targets[i]).padStart(6)} ${ex.targetLogits[i].toFixed(4).padStart(11)} ${ex.relevanceSums[i].toPrecision(6).padStart(12)}`);
        }
      }
      if (args['relevance-out']) {
        await writeNpy(args['relevance-out'], [inputs.count, ...graph.input.shape], relevance);
        console.log(`wrote ${args['relevance-out']} (${inputs.count}×${graph.input.shape.join('×')} float32)`);
      }
      if (args.heatmap) await writeHeatmaps(args, inputs.names, relevance, graph.input.shape, model.preprocess);
      explainer.destroy();
      fm.destroy();
    } finally {
      gpu.close();
    }
  },
};

async function writeHeatmaps(args: Args, names: string[], relevance: Float32Array, shape: readonly number[],
  preprocess: import('../../src/preprocess/spec.ts').PreprocessSpec | null): Promise<void> {
  const [c, h, w] = shape;
  if (shape.length !== 3) throw new Error(`--heatmap needs a C×H×W input, the model takes ${shape.join('×')}`);
  const single = names.length === 1 && extname(args.heatmap!).toLowerCase() === '.png';
  if (!single) mkdirSync(args.heatmap!, { recursive: true });
  const per = c * h * w;
  for (let n = 0; n < names.length; n++) {
    let overlay;
    if (args.overlay && preprocess && extname(args.input[0]).toLowerCase() !== '.npy') {
      const img = await readImage(args.input[n]);
      overlay = resampleRect(img, sourceRect(img.width, img.height, preprocess), w, h);
    }
    const map = channelSum(relevance.subarray(n * per, (n + 1) * per), c, h, w);
    const path = single ? args.heatmap! : join(args.heatmap!, `${basename(names[n], extname(names[n])).replace(/[^\w.-]+/g, '_')}.png`);
    await writePng(path, heatmap(map, h, w, { overlay }));
    console.log(`wrote ${path}`);
  }
}
