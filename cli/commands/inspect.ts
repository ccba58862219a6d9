import { formatReports } from '../../src/graph/canonize/index.ts';
import { formatCount, formatSummary, summarizeGraph } from '../../src/graph/summary.ts';
import { numel, valueInfo } from '../../src/graph/ir.ts';
import { loadModel } from '../../src/node/model-file.ts';
import { labelsFor } from '../common.ts';
import { defineCommand, MODEL_OPTIONS, VERBOSE_OPTION } from '../options.ts';

interface Args {
  path?: string;
  model?: string;
  output?: string;
  preprocess?: string;
  labels?: string;
  verbose: boolean;
}

export const inspectCommand = defineCommand<Args>({
  command: 'inspect [path]',
  describe: 'List a model\'s layers, shapes, parameters and multiply-adds, and what the canonizer did to it',
  positionals: [['path', { type: 'string', describe: 'the model (or give --model)' }]],
  // --model as everywhere else, here also as the positional: one of the two.
  options: MODEL_OPTIONS.map((s) => (s.name === 'model' ? { ...s, opt: { ...s.opt, demandOption: false } } : s)).concat(VERBOSE_OPTION),
  examples: [
    ['inspect squeezenet1.1.onnx', 'layers, shapes, parameters and multiply-adds'],
    ['inspect --model vgg16.onnx --labels synset_words.txt --output logits', 'the same with --model, checking the labels against the output'],
  ],
  check: (a) => (a.path === undefined && a.model === undefined ? 'name the model: lrp inspect MODEL, or --model MODEL'
    : a.path !== undefined && a.model !== undefined && a.path !== a.model ? `two models given (${a.path} and --model ${a.model}): give one` : null),
  handler: (args) => {
    const spec = (args.model ?? args.path)!;
    const m = loadModel(spec, { output: args.output, preprocess: args.preprocess });
    const { graph, preprocessSource } = m;
    const classes = numel(valueInfo(graph, graph.output).shape);
    const labels = labelsFor(args.labels, classes);
    console.log(`model ${spec}: input '${graph.input.name}' N×${graph.input.shape.join('×')}, output '${graph.output}' (${classes} values)`
      + (graph.outputs.length > 1 ? ` (outputs: ${graph.outputs.join(', ')}; choose with --output)` : ''));
    console.log(`preprocessing: ${preprocessSource ?? 'none found (give --preprocess FILE, or put MODEL.onnx.json beside the model)'}`);
    if (labels) console.log(`labels: ${args.labels}, ${labels.length} classes (${labels.slice(0, 3).join('; ')}; ...)`);
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
});
