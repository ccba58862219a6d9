/**
 * webgpu-lrp beside zennit on the same machine, the same model and the same weights: one table of
 * images/s per model, batch and composite (the forward pass alone too). A bench, not a test: it
 * needs Debian's python3-torch and python3-torchvision (or any PyTorch with torchvision) and
 * zennit's source in ../shared/peers/zennit-0.5.1; CI does not run it.
 *
 *   npx tsx bench/peers/compare.ts [--model vgg16|resnet50] [--batch 1,8] [--composite cmp-alpha2-flat,lrp-z]
 *                                  [--threads 2] [--device cpu|cuda] [--repeat 3] [--dir bench/peers/.work]
 *                                  [--python /usr/bin/python3] [--zennit ../shared/peers/zennit-0.5.1]
 *                                  [--conv auto|direct|winograd] [--winograd-tile 2|4] [--skip-zennit]
 *
 * 1. zennit_bench.py export: the torchvision model with fixed-seed random weights, saved as a
 *    state dict and exported to ONNX (with its preprocessing spec) into --dir (once; reused).
 * 2. zennit_bench.py run: PyTorch with --threads threads (CPU) or CUDA times the forward pass and
 *    each composite's attribution (forward + modified backward, relevance back on the host).
 * 3. This process: the ONNX file through webgpu-lrp (canonized as `lrp` does: a ResNet's export
 *    has its BatchNorms fused already, zennit merges them with its ResNetCanonizer), timing
 *    forward() with the logits read back, and explain() (forward + relevance pass + input
 *    relevance read back): the same work. A batch over what one relevance pass takes (alpha-beta
 *    on VGG-16 in 128 MiB bindings: 5) runs in chunks inside explain(), as a user's would.
 * Both sides: random inputs, the predicted class seeded with its logit, wall clock, median of
 * --repeat after a warm-up run. The two sides run one after the other, so a machine shared with
 * other work can favour either: rerun on a quiet machine before quoting a ratio.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ForwardModel } from '../../src/forward/model.ts';
import { CONV_MODES, type ConvMode, type WinogradTile } from '../../src/forward/winograd.ts';
import { numel } from '../../src/graph/ir.ts';
import { parseComposite, resolveComposite } from '../../src/lrp/composite.ts';
import { Explainer } from '../../src/lrp/explainer.ts';
import { createNodeGpu } from '../../src/node/gpu.ts';
import { loadModel } from '../../src/node/model-file.ts';
import { median, table } from '../lib.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16' },
    batch: { type: 'string', default: '1' },
    composite: { type: 'string', default: 'cmp-alpha2-flat,lrp-z' },
    threads: { type: 'string', default: '2' },
    device: { type: 'string', default: 'cpu' },
    repeat: { type: 'string', default: '3' },
    dir: { type: 'string', default: 'bench/peers/.work' },
    python: { type: 'string', default: '/usr/bin/python3' },
    zennit: { type: 'string', default: '../shared/peers/zennit-0.5.1' },
    'skip-zennit': { type: 'boolean', default: false },
    conv: { type: 'string', default: 'auto' },
    'winograd-tile': { type: 'string' },
  },
});
const here = new URL('.', import.meta.url).pathname;
const script = join(here, 'zennit_bench.py');
const batches = args.batch!.split(',').map(Number);
const composites = args.composite!.split(',');
const repeat = Number(args.repeat);
const dir = resolve(args.dir!);
const zennitPath = resolve(args.zennit!);
const env = { ...process.env, PYTHONPATH: zennitPath };
const convMode = args.conv as ConvMode;
if (!CONV_MODES.includes(convMode)) throw new Error(`--conv ${args.conv}: expected one of ${CONV_MODES.join(', ')}`);
const winogradTile = args['winograd-tile'] === undefined ? undefined : Number(args['winograd-tile']) as WinogradTile;
if (winogradTile !== undefined && winogradTile !== 2 && winogradTile !== 4) throw new Error(`--winograd-tile ${args['winograd-tile']}: expected 2 or 4`);

interface Row { side: 'zennit' | 'webgpu-lrp'; batch: number; composite: string; images_per_s: number }

function python(cmd: string[]): string {
  const r = spawnSync(args.python!, [script, ...cmd], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${args.python} ${script} ${cmd.join(' ')} failed (exit ${r.status}): ${r.error?.message ?? 'see its output above'}`);
  return r.stdout;
}

const rows: Row[] = [];
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}; load ${load()} (1, 5, 15 min)`);

// 1. The model, once.
if (!existsSync(zennitPath)) throw new Error(`zennit's source is not at ${zennitPath} (--zennit)`);
mkdirSync(dir, { recursive: true });
const onnx = join(dir, `${args.model}.onnx`);
const weights = join(dir, `${args.model}.pt`);
if (!existsSync(onnx) || !existsSync(weights)) {
  console.log(`exporting torchvision ${args.model} (seed 0) to ${onnx} ...`);
  python(['export', '--out', dir, '--model', args.model!]);
}

// 2. zennit.
if (!args['skip-zennit']) {
  const torch = execFileSync(args.python!, ['-c', 'import torch, torchvision; print(torch.__version__, torchvision.__version__)'], { env, encoding: 'utf8' }).trim();
  console.log(`zennit: PyTorch/torchvision ${torch}, ${args.device === 'cpu' ? `${args.threads} threads` : args.device} ...`);
  const out = python(['run', '--weights', weights, '--batch', args.batch!, '--composite', composites.join(','),
    '--threads', args.threads!, '--device', args.device!, '--repeat', String(repeat)]);
  for (const line of out.split('\n').filter((l) => l.startsWith('{'))) {
    const r = JSON.parse(line) as Row & { seconds: number };
    console.log(`  zennit     batch ${r.batch} ${r.composite}: ${r.images_per_s.toFixed(3)} images/s`);
    rows.push({ ...r, side: 'zennit' });
  }
}

// 3. webgpu-lrp.
const gpu = await createNodeGpu();
try {
  console.log(`webgpu-lrp: ${gpu.adapterName}; --conv ${convMode}${winogradTile ? ` --winograd-tile ${winogradTile}` : ''}; LP_NATIVE_VECTOR_WIDTH=${process.env.LP_NATIVE_VECTOR_WIDTH ?? '(default)'}, LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? '(default)'} ...`);
  const model = loadModel(onnx);
  const fm = await ForwardModel.create(gpu.ctx, model.graph, { conv: convMode, winogradTile });
  try {
    const timed = async (fn: () => Promise<unknown>) => {
      await fn();
      const t: number[] = [];
      for (let r = 0; r < repeat; r++) {
        const t0 = performance.now();
        await fn();
        t.push(performance.now() - t0);
      }
      return median(t) / 1000;
    };
    for (const batch of batches) {
      const input = new Float32Array(batch * numel(model.graph.input.shape));
      for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 12.9898) * 2;
      const push = (composite: string, sec: number) => {
        rows.push({ side: 'webgpu-lrp', batch, composite, images_per_s: batch / sec });
        console.log(`  webgpu-lrp batch ${batch} ${composite}: ${(batch / sec).toFixed(3)} images/s`);
      };
      push('forward', await timed(async () => {
        const acts = await fm.forward(input, batch);
        await acts.read();
        acts.release();
      }));
      for (const name of composites) {
        const ex = await Explainer.create(fm, resolveComposite(parseComposite(name, '--composite'), model.graph, { preprocess: model.preprocess }));
        try {
          push(name, await timed(() => ex.explain(input, batch, { targets: 'predicted', init: 'logit' })));
        } finally {
          ex.destroy();
        }
      }
    }
  } finally {
    fm.destroy();
  }
} finally {
  gpu.close();
}

const find = (side: Row['side'], batch: number, composite: string) => rows.find((r) => r.side === side && r.batch === batch && r.composite === composite);
console.log(`\n${args.model}, 224x224, same weights both sides; zennit on ${args.device === 'cpu' ? `PyTorch CPU, ${args.threads} threads` : args.device}; load at the end ${load()}\n`);
console.log(table(['model', 'batch', 'composite', 'webgpu-lrp images/s', 'zennit images/s', 'ratio'],
  batches.flatMap((b) => ['forward', ...composites].map((c) => {
    const w = find('webgpu-lrp', b, c);
    const z = find('zennit', b, c);
    return [args.model!, String(b), c, w ? w.images_per_s.toFixed(3) : '-', z ? z.images_per_s.toFixed(3) : '-',
      w && z ? (w.images_per_s / z.images_per_s).toFixed(3) : '-'];
  })), [false, true, false, true, true, true]));
console.log('\nratio: webgpu-lrp images/s over zennit images/s (above 1: webgpu-lrp is faster).');
