/**
 * `lrp patterns` benchmark: what learning PatternAttribution's patterns costs per layer (the
 * statistics kernels against the layer's forward kernels, by timestamp queries where the adapter
 * has them), and images/s of the whole command on a random statistics set.
 *
 *   npx tsx bench/patterns.ts [--model vgg16:random] [--batch 8] [--batches 2]
 *                             [--dawn disable-dawn-features=timestamp_quantization] [--tuning cpu|gpu]
 *
 * The per-layer table comes from one profiled batch after a warm-up batch (which compiles the
 * pipelines). FLOPs count 2 per multiply-add (the statistics GEMM does 2 x M x K x 2C: twice the
 * layer's forward pass); bytes are each kernel's compulsory traffic (src/patterns/statistics.ts),
 * so GB/s is a lower bound. Images/s is the wall clock of runPatterns over `--batches` batches of
 * an .npy of random inputs (reading, forward, statistics, and the final read-back and pattern
 * computation, which a long run amortises: it is printed apart). The machine's load average is
 * printed before and after: figures taken while other work runs are noisy.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ForwardModel } from '../src/forward/model.ts';
import type { KernelTiming } from '../src/gpu/profiler.ts';
import { isLinear, numel } from '../src/graph/ir.ts';
import { encodeNpy } from '../src/io/npy.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { loadModel } from '../src/node/model-file.ts';
import { runPatterns } from '../src/node/patterns/run.ts';
import { PatternStatistics } from '../src/patterns/statistics.ts';
import { Rng } from '../src/graph/zoo.ts';
import { dawnArgs, mib, table } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16:random' },
    batch: { type: 'string', default: '8' },
    batches: { type: 'string', default: '2' },
    dawn: { type: 'string', multiple: true, default: [] },
    tuning: { type: 'string' },
  },
});
const batch = Number(args.batch);
const batches = Number(args.batches);
if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(batches) || batches < 1) {
  console.error('usage: npx tsx bench/patterns.ts [--model vgg16:random] [--batch 8] [--batches 2]');
  process.exit(2);
}
const load = () => loadavg().map((v) => v.toFixed(2)).join(' ');
const giga = (amount: number, ms: number): string => (amount > 0 && ms > 0 ? (amount / ms / 1e6).toFixed(2) : '-');

const gpu = await createNodeGpu(dawnArgs(args));
const tmp = mkdtempSync(join(tmpdir(), 'bench-patterns-'));
try {
  const { ctx } = gpu;
  const { graph } = loadModel(args.model!);
  const per = numel(graph.input.shape);
  console.log(`adapter: ${gpu.adapterName}; kernels tuned for ${ctx.tuning}`);
  console.log(`model:   ${graph.name}, input ${graph.input.shape.join('x')}, ${graph.layers.filter(isLinear).length} linear layers; batch ${batch}`);
  console.log(`load average before: ${load()}\n`);

  const input = new Float32Array(batch * per);
  new Rng(1).fillNormal(input, 1);
  const fm = await ForwardModel.create(ctx, graph);
  const stats = await PatternStatistics.create(fm);
  try {
    const pass = async (profile: boolean) => {
      const acts = await fm.forward(input, batch, { profile });
      try {
        return { forward: acts.timings, stats: await stats.accumulate(acts, { profile }) };
      } finally {
        acts.release();
      }
    };
    let t = performance.now();
    await pass(false);
    console.log(`warm-up batch (compiles the pipelines): ${((performance.now() - t) / 1000).toFixed(1)} s`);
    t = performance.now();
    const { forward, stats: st } = await pass(ctx.hasTimestamps);
    const wallMs = performance.now() - t;
    const costs = new Map(stats.cost(batch).map((c) => [c.layer, c]));
    if (forward && st) {
      const sum = (ts: KernelTiming[], layer: string) => ts.filter((x) => x.layer === layer).reduce(
        (a, x) => ({ ms: a.ms + x.ms, flops: a.flops + x.flops, bytes: a.bytes + x.bytes }), { ms: 0, flops: 0, bytes: 0 });
      const rows: string[][] = [];
      let fTot = 0;
      let sTot = 0;
      let sFlops = 0;
      for (const l of graph.layers.filter(isLinear)) {
        const f = sum(forward, l.name);
        const s = sum(st, l.name);
        const c = costs.get(l.name)!;
        fTot += f.ms;
        sTot += s.ms;
        sFlops += s.flops;
        rows.push([l.name, f.ms.toFixed(1), s.ms.toFixed(1), (s.ms / f.ms).toFixed(2), giga(s.flops, s.ms), giga(s.bytes, s.ms),
          mib(c.stateBytes), `${c.chunks}`, `${c.splits}`]);
      }
      rows.push(['all linear layers', fTot.toFixed(1), sTot.toFixed(1), (sTot / fTot).toFixed(2), giga(sFlops, sTot), '', '', '', '']);
      console.log(table(['layer', 'forward ms', 'stats ms', 'stats/fwd', 'stats GFLOP/s', 'stats GB/s', 'sums on GPU', 'chunks', 'splits'], rows,
        [false, true, true, true, true, true, true, true, true]));
      const other = forward.reduce((a, x) => a + x.ms, 0) - fTot;
      console.log(`other forward kernels (pooling, ...): ${other.toFixed(1)} ms`);
    } else {
      console.log('this adapter has no timestamp-query: no per-layer times');
    }
    console.log(`one batch, forward + statistics (wall clock): ${(wallMs / 1000).toFixed(2)} s = ${((batch * 1000) / wallMs).toFixed(3)} images/s\n`);
  } finally {
    stats.destroy();
    fm.destroy();
  }

  // The command itself: batches x batch random inputs through runPatterns.
  const n = batches * batch;
  const set = new Float32Array(n * per);
  new Rng(2).fillNormal(set, 1);
  const npy = join(tmp, 'stats.npy');
  writeFileSync(npy, encodeNpy([n, ...graph.input.shape], set));
  const r = await runPatterns({ model: args.model!, input: npy, out: join(tmp, 'out'), batch, gpu, progress: false, log: () => undefined });
  const s = r.stages;
  const loop = (s.read ?? 0) + (s.forward ?? 0) + (s.statistics ?? 0) + (s.checkpoint ?? 0);
  console.log(`lrp patterns on ${n} images (${batches} batches of ${batch}): ${r.seconds.toFixed(1)} s in all`);
  console.log(`  per-batch loop: ${loop.toFixed(1)} s = ${(n / loop).toFixed(3)} images/s (read ${(s.read ?? 0).toFixed(2)}, forward ${(s.forward ?? 0).toFixed(1)}, statistics ${(s.statistics ?? 0).toFixed(1)}, checkpoints ${(s.checkpoint ?? 0).toFixed(1)} s)`);
  console.log(`  once per run: setup ${(s.setup ?? 0).toFixed(1)} s, read-back + patterns + files ${(s.write ?? 0).toFixed(1)} s`);
  console.log(`\nload average after: ${load()}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
  gpu.close();
}
