import { ForwardModel } from '../../src/forward/model.ts';
import { checkModelFits } from '../../src/forward/size-limits.ts';
import { winogradSkips, type ConvMode } from '../../src/forward/winograd.ts';
import { predict, topK } from '../../src/forward/predict.ts';
import { numel, valueInfo } from '../../src/graph/ir.ts';
import { createNodeGpu } from '../../src/node/gpu.ts';
import { loadInputs } from '../../src/node/inputs.ts';
import { loadModel } from '../../src/node/model-file.ts';
import { writeNpy } from '../../src/node/npy-file.ts';
import { checkOutputPlan, modelRunInputs } from '../../src/node/output-plan.ts';
import { labelsFor } from '../common.ts';
import { batchOption, CONV_OPTION, defineCommand, MODEL_OPTIONS, TOP_OPTION, VERBOSE_OPTION } from '../options.ts';

interface Args {
  model: string;
  input: string[];
  output?: string;
  top: number;
  'logits-out'?: string;
  preprocess?: string;
  labels?: string;
  batch?: number;
  verbose: boolean;
  conv: ConvMode;
}

export const predictCommand = defineCommand<Args>({
  command: 'predict',
  describe: 'Classify images or a .npy batch and print the top classes',
  options: [
    ...MODEL_OPTIONS,
    CONV_OPTION,
    { name: 'input', opt: { type: 'string', array: true, demandOption: true, describe: 'image files (JPEG, PNG), or one float32 NCHW .npy batch' } },
    TOP_OPTION,
    { name: 'logits-out', opt: { type: 'string', describe: 'write the N×classes logits to this .npy' } },
    batchOption('samples per GPU batch (default: as many as fit, at most 32)'),
    VERBOSE_OPTION,
  ],
  examples: [
    ['predict --model squeezenet1.1.onnx --input cat.jpg dog.jpg --labels synset_words.txt', 'the top 5 classes of each image, with names'],
    ['predict --model vgg16.onnx --input batch.npy --top 1 --logits-out logits.npy', 'the arg-max of each sample, and every logit as .npy'],
  ],
  handler: async (args) => {
    const model = loadModel(args.model, { output: args.output, preprocess: args.preprocess });
    const classes = numel(valueInfo(model.graph, model.graph.output).shape);
    const labels = labelsFor(args.labels, classes);
    // The device first: the model's declared sizes are checked against its limits before any
    // image is decoded and resized to them.
    const gpu = await createNodeGpu();
    let failures: readonly unknown[] = [];
    try {
      checkModelFits(model.graph, { binding: gpu.ctx.maxBinding }, args.model);
      const inputs = await loadInputs(args.input, model.graph, model.preprocess,
        `give --preprocess FILE or put ${args.model}.json beside the model`);
      for (const f of inputs.failures) console.error(`skipped ${f.message}`);
      failures = inputs.failures;
      if (args['logits-out']) {
        checkOutputPlan([{ path: args['logits-out'], what: '--logits-out' }], modelRunInputs(args));
      }
      const fm = await ForwardModel.create(gpu.ctx, model.graph, { conv: args.conv });
      if (args.conv === 'winograd') { const note = winogradSkips(fm.methods()); if (note) console.error(note); }
      const logits = await predict(fm, inputs.data, inputs.count, { batch: args.batch });
      gpu.compile?.clearLine();
      for (let n = 0; n < inputs.count; n++) {
        const row = logits.subarray(n * classes, (n + 1) * classes);
        console.log(inputs.names[n]);
        for (const r of topK(row, Math.min(args.top, classes))) {
          const name = labels?.[r.index] ? `  ${labels[r.index]}` : '';
          console.log(`  ${String(r.index).padStart(5)}  logit ${r.logit.toFixed(4).padStart(10)}  p ${r.probability.toFixed(5)}${name}`);
        }
      }
      if (args['logits-out']) {
        await writeNpy(args['logits-out'], [inputs.count, classes], logits);
        console.log(`wrote ${args['logits-out']} (${inputs.count}×${classes} float32)`);
      }
      fm.destroy();
    } finally {
      gpu.close();
    }
    if (failures.length) {
      console.error(`${failures.length} of ${args.input.length} inputs could not be read (listed above); the rest are done`);
      process.exitCode = 1;
    }
  },
});
