/**
 * By-hand check (not part of the suite; minutes on lavapipe): torchvision exports with random
 * weights load, reproduce PyTorch's logits, and explain under every preset.
 *
 *   npx tsx scripts/verify-torchvision.ts [--models resnet50,mobilenet_v2,densenet121] [--size 224] [--opset 13]
 *                                         [--presets all|none|NAME,...] [--out DIR]
 *
 * Needs /usr/bin/python3 with torch, torchvision and numpy (Debian: python3-torch,
 * python3-torchvision). Exports through scripts/export-torchvision.py (random BatchNorm
 * statistics too), then per model prints the canonizer's report, the logits' relative L2 error
 * against PyTorch's, and per preset the wall time of its first relevance pass (batch 2, predicted
 * classes, logit init; pipeline compiles included, so not a benchmark: bench/relevance.ts is) with
 * the input relevance sums against the target logits.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ForwardModel } from '../src/forward/model.ts';
import { canonize, formatReports } from '../src/graph/canonize/index.ts';
import { convertOnnx } from '../src/graph/onnx/import.ts';
import { npyToFloat32, parseNpy } from '../src/io/npy.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { PRESET_NAMES } from '../src/lrp/presets.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { torchvisionImagenet } from '../src/preprocess/presets.ts';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: 'resnet50,mobilenet_v2,densenet121' },
    size: { type: 'string', default: '224' },
    opset: { type: 'string', default: '13' },
    out: { type: 'string', default: 'test-output/torchvision' },
    presets: { type: 'string', default: 'all' },
  },
});
const presets = args.presets === 'all' ? PRESET_NAMES : args.presets === 'none' ? [] : args.presets!.split(',');
const out = args.out!;
mkdirSync(out, { recursive: true });
const script = new URL('./export-torchvision.py', import.meta.url).pathname;
const exp = spawnSync('/usr/bin/python3', [script, '--out', out, '--size', args.size!, '--opset', args.opset!, args.models!], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
if (exp.status !== 0) throw new Error(`export failed: ${exp.stderr}`);
process.stdout.write(exp.stdout);

const npy = (p: string) => {
  const a = parseNpy(new Uint8Array(readFileSync(p)), p);
  return { shape: a.shape, data: npyToFloat32(a) };
};
const relL2 = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
};

const gpu = await createNodeGpu();
try {
  console.log(`adapter: ${gpu.adapterName}`);
  for (const name of args.models!.split(',')) {
    const path = join(out, `${name}.onnx`);
    const { graph: raw } = convertOnnx(new Uint8Array(readFileSync(path)), { source: path });
    const { graph, reports } = canonize(raw);
    console.log(`\n${name} (opset ${args.opset}, ${args.size}x${args.size}): ${raw.layers.length} layers imported, ${graph.layers.length} after canonization`);
    console.log(formatReports(reports));
    const x = npy(join(out, `${name}.input.npy`));
    const batch = x.shape[0];
    const fm = await ForwardModel.create(gpu.ctx, graph);
    const acts = await fm.forward(x.data, batch);
    try {
      const f64 = npy(join(out, `${name}.logits.npy`)).data;
      console.log(`logits vs PyTorch's float64: relative L2 ${relL2(await acts.read(), f64).toExponential(2)} `
        + `(PyTorch's float32: ${relL2(npy(join(out, `${name}.logits32.npy`)).data, f64).toExponential(2)})`);
      for (const preset of presets) {
        const composite = resolveComposite(parseComposite(preset, preset), graph, { preprocess: torchvisionImagenet(Number(args.size)) });
        const ex = await Explainer.create(fm, composite);
        try {
          const t0 = performance.now();
          const r = await ex.explainActivations(acts, { targets: 'predicted', init: 'logit' });
          const ms = performance.now() - t0;
          const finite = r.relevance.every(Number.isFinite);
          const sums = r.relevanceSums.map((s, n) => `${s.toPrecision(4)}/${r.targetLogits[n].toPrecision(4)}`).join(' ');
          console.log(`  ${preset.padEnd(26)} ${ms.toFixed(0).padStart(6)} ms  ${finite ? 'finite' : 'NOT FINITE'}  sum/logit ${sums}`);
        } finally {
          ex.destroy();
        }
      }
    } finally {
      acts.release();
      fm.destroy();
    }
  }
} finally {
  gpu.close();
}
