/**
 * Memory of explaining a batch: per composite, the buffer pool's peak beyond the weights (every
 * activation, relevance tensor and scratch buffer of one explain() call, a batch over the
 * explainer's maxBatch in its chunks), the weight copies the model and explainer hold, and the
 * process's peak RSS at the end (on lavapipe GPU memory is host memory, so RSS is the machine's
 * figure). One explain() per composite: memory, not time.
 *
 *   npx tsx bench/memory.ts [--model vgg16:random] [--batch 1,16] [--composite cmp-alpha2-flat,lrp-z]
 *                           [--conv auto|direct|winograd]
 *
 * The pool keeps buffers for reuse, so each composite starts from a trimmed pool and its peak is
 * its own; peak RSS only grows, so it is the largest of everything run before it in the process
 * (run one composite and batch per process to read RSS per analyzer).
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { ForwardModel } from '../src/forward/model.ts';
import { CONV_MODES, type ConvMode } from '../src/forward/winograd.ts';
import { numel } from '../src/graph/ir.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { loadModel } from '../src/node/model-file.ts';
import { mib, table } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16:random' },
    batch: { type: 'string', default: '1' },
    composite: { type: 'string', default: 'cmp-alpha2-flat,lrp-z' },
    conv: { type: 'string', default: 'auto' },
  },
});
const conv = args.conv as ConvMode;
if (!CONV_MODES.includes(conv)) throw new Error(`--conv ${args.conv}: expected one of ${CONV_MODES.join(', ')}`);
const batches = args.batch!.split(',').map(Number);
const composites = args.composite!.split(',').map((s) => s.trim());
const rssMiB = () => `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`;

const gpu = await createNodeGpu();
try {
  const model = loadModel(args.model!);
  const fm = await ForwardModel.create(gpu.ctx, model.graph, { conv });
  console.log(`adapter: ${gpu.adapterName}; model ${model.graph.name}; --conv ${conv}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const rows: string[][] = [];
  try {
    for (const batch of batches) {
      const input = new Float32Array(batch * numel(model.graph.input.shape));
      for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 12.9898) * 2;
      for (const name of composites) {
        const ex = await Explainer.create(fm, resolveComposite(parseComposite(name, '--composite'), model.graph, { preprocess: model.preprocess }));
        try {
          gpu.ctx.pool.trim();
          gpu.ctx.pool.peakBytes = gpu.ctx.pool.stats.live;
          const t0 = performance.now();
          await ex.explain(input, batch, { targets: 'predicted', init: 'logit' });
          rows.push([name, String(batch), String(Math.min(batch, ex.maxBatch)), mib(gpu.ctx.pool.stats.peak), mib(fm.weights.stats.bytes), rssMiB(),
            ((performance.now() - t0) / 1000).toFixed(1)]);
          console.log(`  ${rows.at(-1)!.join('  ')}`);
        } finally {
          ex.destroy();
        }
      }
    }
  } finally {
    fm.destroy();
  }
  console.log(`\n${table(['composite', 'batch', 'chunk', 'pool peak', 'weight copies', 'peak RSS so far', 's'], rows, [false, true, true, true, true, true, true])}`);
} finally {
  gpu.close();
}
