import type { CommandModule } from 'yargs';
import { formatReports } from '../../src/graph/canonize/index.ts';
import { formatCount, formatSummary, summarizeGraph } from '../../src/graph/summary.ts';
import { BUILTIN_MODELS } from '../../src/graph/zoo.ts';
import { loadModel } from '../../src/node/model-file.ts';

interface Args {
  model: string;
  output?: string;
}

export const inspectCommand: CommandModule<object, Args> = {
  command: 'inspect <model>',
  describe: 'List a model\'s layers, shapes, parameters and multiply-adds, and what the canonizer did to it',
  builder: (y) => y
    .positional('model', { type: 'string', demandOption: true, describe: `an .onnx file or a built-in: ${BUILTIN_MODELS.map((m) => `${m}:random`).join(', ')}` })
    .option('output', { type: 'string', describe: 'the graph output to use, for models with several' }),
  handler: (args) => {
    const m = loadModel(args.model, { output: args.output });
    const { graph } = m;
    console.log(`model ${args.model}: input '${graph.input.name}' N×${graph.input.shape.join('×')}, output '${graph.output}'`
      + (graph.outputs.length > 1 ? ` (outputs: ${graph.outputs.join(', ')})` : ''));
    console.log(`preprocessing: ${m.preprocessSource ?? 'none found (give --preprocess FILE, or put MODEL.onnx.json beside the model)'}`);
    const before = summarizeGraph(m.original);
    console.log(`parameters: ${formatCount(before.totalParams)} before canonization (weights, declared biases, BatchNorm's scale and shift; not its running statistics)`);
    if (m.foldedConstants.size > 0) {
      const total = [...m.foldedConstants.values()].reduce((a, b) => a + b, 0);
      console.log(`import: evaluated ${total} constant node${total === 1 ? '' : 's'} (${[...m.foldedConstants].map(([op, n]) => `${n} ${op}`).join(', ')})`);
    }
    console.log(`canonizer (${m.original.layers.length} layers → ${graph.layers.length}):`);
    console.log(formatReports(m.canonization));
    console.log('');
    console.log(formatSummary(summarizeGraph(graph)));
  },
};
