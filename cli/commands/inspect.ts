import type { CommandModule } from 'yargs';
import { formatSummary, summarizeGraph } from '../../src/graph/summary.ts';
import { loadModel } from '../../src/node/model-file.ts';

interface Args {
  model: string;
  output?: string;
}

export const inspectCommand: CommandModule<object, Args> = {
  command: 'inspect <model>',
  describe: 'List a model\'s layers, shapes, parameters and multiply-adds',
  builder: (y) => y
    .positional('model', { type: 'string', demandOption: true, describe: 'an .onnx file or a built-in: vgg16:random, vgg11:random, alexnet:random, caffenet:random' })
    .option('output', { type: 'string', describe: 'the graph output to use, for models with several' }),
  handler: (args) => {
    const { graph, preprocessSource } = loadModel(args.model, { output: args.output });
    console.log(`model ${args.model}: input '${graph.input.name}' N×${graph.input.shape.join('×')}, output '${graph.output}'`
      + (graph.outputs.length > 1 ? ` (outputs: ${graph.outputs.join(', ')})` : ''));
    console.log(`preprocessing: ${preprocessSource ?? 'none found (give --preprocess FILE, or put MODEL.onnx.json beside the model)'}`);
    console.log(formatSummary(summarizeGraph(graph)));
  },
};
