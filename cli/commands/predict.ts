import type { CommandModule } from 'yargs';
import { ForwardModel } from '../../src/forward/model.ts';
import { predict, topK } from '../../src/forward/predict.ts';
import { numel } from '../../src/graph/ir.ts';
import { createNodeGpu } from '../../src/node/gpu.ts';
import { loadInputs } from '../../src/node/inputs.ts';
import { readLabels } from '../../src/node/labels.ts';
import { loadModel } from '../../src/node/model-file.ts';
import { writeNpy } from '../../src/node/npy-file.ts';

interface Args {
  model: string;
  input: string[];
  output?: string;
  top: number;
  'logits-out'?: string;
  preprocess?: string;
  labels?: string;
  batch?: number;
}

export const predictCommand: CommandModule<object, Args> = {
  command: 'predict',
  describe: 'Classify a .npy batch or images and print the top classes',
  builder: (y) => y
    .option('model', { type: 'string', demandOption: true, describe: 'an .onnx file or a built-in (vgg16:random, ...)' })
    .option('input', { type: 'string', array: true, demandOption: true, describe: 'one float32 NCHW .npy, or image files (JPEG, PNG)' })
    .option('output', { type: 'string', describe: 'the graph output to read, for models with several' })
    .option('top', { type: 'number', default: 5, describe: 'how many classes to print per sample' })
    .option('logits-out', { type: 'string', describe: 'write the N×classes logits to this .npy' })
    .option('preprocess', { type: 'string', describe: 'preprocessing spec JSON (default: MODEL.onnx.json beside the model)' })
    .option('labels', { type: 'string', describe: 'class names: synset_words.txt, imagenet_class_index.json or one per line' })
    .option('batch', { type: 'number', describe: 'samples per GPU batch (default: as many as fit, at most 32)' }),
  handler: async (args) => {
    const model = loadModel(args.model, { output: args.output, preprocess: args.preprocess });
    const labels = args.labels ? readLabels(args.labels) : null;
    const inputs = await loadInputs(args.input, model.graph, model.preprocess,
      `give --preprocess FILE or put ${args.model}.json beside the model`);
    const gpu = await createNodeGpu();
    try {
      const fm = await ForwardModel.create(gpu.ctx, model.graph);
      const logits = await predict(fm, inputs.data, inputs.count, { batch: args.batch });
      const classes = numel(model.graph.values.get(model.graph.output)!.shape);
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
  },
};
