/**
 * Forward-pass benchmark: per-layer kernel time, GFLOP/s and GB/s, then whole-pass throughput in
 * images/s, for each batch size, and the activation memory the buffer pool needed.
 *
 *   npx tsx bench/forward.ts [--model vgg16:random] [--batch 1,8] [--repeat 3]
 *                            [--dawn disable-dawn-features=timestamp_quantization] [--tuning cpu|gpu]
 *                            [--conv auto|direct|winograd[,...]] [--winograd-tile 2|4]
 *
 * With several --conv modes (e.g. direct,winograd) one model per mode is built and the runs
 * alternate between them (mode after mode, repeat after repeat), so that a changing machine load
 * hits them alike; the table then has one time column per mode (a layer's time is the sum of its
 * dispatches: Winograd's input transform, GEMM and output transform) and each mode's whole pass.
 *
 * Per-layer times come from timestamp queries around each dispatch (the device's own clock: no
 * submit or read-back latency) where the adapter has 'timestamp-query'; otherwise only the whole
 * pass is timed, by wall clock. Every figure is the median of `--repeat` runs after warm-up passes
 * for `--warmup-ms` (the first includes the driver's shader compilation; a GPU's clock rises only
 * under sustained load). FLOPs count 2 per
 * multiply-add with the true reduction length (no tile padding); bytes are each kernel's
 * compulsory traffic (input, weights and output once), so GB/s is a lower bound on what it moved.
 * Images/s is wall clock around forward() (input upload to completion), without profiling.
 */
import { parseArgs } from 'node:util';
import type { KernelTiming } from '../src/gpu/profiler.ts';
import { numel, valueInfo } from '../src/graph/ir.ts';
import { ForwardModel } from '../src/forward/model.ts';
import { CONV_MODES, type ConvMode, type WinogradTile } from '../src/forward/winograd.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { loadModel } from '../src/node/model-file.ts';
import { dawnArgs, median, mib, table, warmUp } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16:random' },
    batch: { type: 'string', default: '1,8' },
    repeat: { type: 'string', default: '3' },
    dawn: { type: 'string', multiple: true, default: [] },
    tuning: { type: 'string' },
    'warmup-ms': { type: 'string', default: '3000' },
    conv: { type: 'string', default: 'auto' },
    'winograd-tile': { type: 'string' },
  },
});
const modes = args.conv!.split(',').map((m) => m.trim()) as ConvMode[];
for (const m of modes) if (!CONV_MODES.includes(m)) throw new Error(`--conv: '${m}' is not one of ${CONV_MODES.join(', ')}`);
const winogradTile = args['winograd-tile'] === undefined ? undefined : Number(args['winograd-tile']) as WinogradTile;
if (winogradTile !== undefined && winogradTile !== 2 && winogradTile !== 4) throw new Error(`--winograd-tile: '${args['winograd-tile']}' is not 2 or 4`);
const warmupMs = Number(args['warmup-ms']);
const batches = args.batch!.split(',').map((b) => Number(b.trim()));
const repeat = Number(args.repeat);
if (batches.some((b) => !Number.isInteger(b) || b < 1) || !Number.isInteger(repeat) || repeat < 1) {
  console.error('usage: npx tsx bench/forward.ts [--model vgg16:random] [--batch 1,8] [--repeat 3]');
  process.exit(2);
}

/** Units per second in billions, or '-' where there is nothing to rate or no measurable time. */
const giga = (amount: number, ms: number): string => (amount > 0 && ms > 0 ? (amount / ms / 1e6).toFixed(2) : '-');

const gpu = await createNodeGpu(dawnArgs(args));
try {
  const { ctx } = gpu;
  const { graph } = loadModel(args.model!);
  const weightBytes = graph.layers.reduce((s, l) => s + ('weight' in l ? 4 * (l.weight.length + l.bias.length) : 0), 0);
  console.log(`adapter: ${gpu.adapterName}; kernels tuned for ${ctx.tuning}; LP_NATIVE_VECTOR_WIDTH=${process.env.LP_NATIVE_VECTOR_WIDTH ?? '(default)'}, LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? '(default)'}`);
  console.log(`model:   ${graph.name}, input ${graph.input.shape.join('x')}, ${graph.layers.length} layers, weights ${mib(weightBytes)}`);
  console.log(ctx.hasTimestamps
    ? 'timing:  per-layer times from timestamp queries; images/s from wall clock'
    : 'timing:  this adapter has no timestamp-query: no per-layer times, falling back to the wall clock of the whole pass');
  console.log(`runs:    warm-up passes for ${warmupMs} ms (at least one), then the median of ${repeat}\n`);

  const models: ForwardModel[] = [];
  try {
    for (const conv of modes) {
      const model = await ForwardModel.create(ctx, graph, { conv, winogradTile });
      models.push(model);
      const methods = [...model.methods().values()];
      const wino = methods.filter((m) => m.startsWith('winograd')).length;
      console.log(`conv ${conv}: ${wino} of ${methods.length} convolutions by Winograd${wino ? ` (${[...new Set(methods.filter((m) => m.startsWith('winograd')))].join(', ')})` : ''}`);
    }
    console.log('');
    const per = numel(graph.input.shape);
    for (const batch of batches) {
      // Peak per batch size: forget the previous batch's buffers and high-water mark.
      ctx.pool.trim();
      ctx.pool.peakBytes = ctx.pool.stats.live;
      const input = new Float32Array(batch * per);
      for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.7) * 1.5;
      const run = async (model: ForwardModel, profile: boolean): Promise<{ ms: number; timings: KernelTiming[] | null }> => {
        const t0 = performance.now();
        const acts = await model.forward(input, batch, { profile });
        const ms = performance.now() - t0;
        const timings = acts.timings;
        acts.release();
        return { ms, timings };
      };
      let warm = 0;
      for (const model of models) warm += await warmUp(() => run(model, false), warmupMs);

      // Per mode, per layer, in graph order; a layer may run several dispatches (a chunked dense weight, Winograd's three).
      const layers = models.map(() => new Map<string, { kernel: string; ms: number[]; flops: number; bytes: number }>());
      // Per mode, kernel time by kernel name over all repeats (where Winograd's transforms go).
      const byKernel = models.map(() => new Map<string, number>());
      const wall: number[][] = models.map(() => []);
      for (let r = 0; r < repeat; r++) {
        for (const [i, model] of models.entries()) {
          if (ctx.hasTimestamps) {
            const { timings } = await run(model, true);
            const sums = new Map<string, { kernel: string; ms: number; flops: number; bytes: number }>();
            for (const t of timings ?? []) {
              byKernel[i].set(t.kernel, (byKernel[i].get(t.kernel) ?? 0) + t.ms / repeat);
              const s = sums.get(t.layer) ?? { kernel: t.kernel, ms: 0, flops: 0, bytes: 0 };
              s.ms += t.ms;
              s.flops += t.flops;
              s.bytes += t.bytes;
              sums.set(t.layer, s);
            }
            for (const [name, s] of sums) {
              const l = layers[i].get(name) ?? { kernel: s.kernel, ms: [], flops: s.flops, bytes: s.bytes };
              l.ms.push(s.ms);
              layers[i].set(name, l);
            }
          }
          wall[i].push((await run(model, false)).ms);
        }
      }

      console.log(`batch ${batch} (after ${warm} warm-up passes)`);
      if (ctx.hasTimestamps && models.length === 1) {
        const rows: string[][] = [];
        let total = 0;
        let flops = 0;
        for (const layer of graph.layers) {
          const l = layers[0].get(layer.name);
          if (!l) continue;
          const ms = median(l.ms);
          total += ms;
          flops += l.flops;
          rows.push([
            layer.name, l.kernel, valueInfo(graph, layer.output).shape.join('x'), ms.toFixed(2),
            giga(l.flops, ms), giga(l.bytes, ms),
          ]);
        }
        const convs = graph.layers.filter((l) => l.kind === 'conv').map((l) => layers[0].get(l.name)).filter((l) => l !== undefined);
        const convMs = convs.reduce((s, l) => s + median(l.ms), 0);
        const convFlops = convs.reduce((s, l) => s + l.flops, 0);
        rows.push(['all convolutions', '', '', convMs.toFixed(2), giga(convFlops, convMs), '']);
        rows.push(['all kernels', '', '', total.toFixed(2), giga(flops, total), '']);
        console.log(table(['layer', 'kernel', 'output', 'ms', 'GFLOP/s', 'GB/s'], rows, [false, false, false, true, true, true]));
      } else if (ctx.hasTimestamps) {
        // One column per mode (median ms), and each later mode's ratio to the first.
        const rows: string[][] = [];
        const totals = models.map(() => 0);
        for (const layer of graph.layers) {
          const ms = layers.map((m) => m.get(layer.name)).map((l) => (l ? median(l.ms) : NaN));
          if (ms.every((v) => Number.isNaN(v))) continue;
          ms.forEach((v, i) => { totals[i] += v; });
          const methods = models.map((m) => m.methods().get(layer.name)?.replace(/ \(.*\)$/, '') ?? layers[0].get(layer.name)!.kernel);
          rows.push([layer.name, valueInfo(graph, layer.output).shape.join('x'), ...ms.map((v, i) => `${v.toFixed(2)} ${methods[i]}`), ...ms.slice(1).map((v) => (v / ms[0]).toFixed(2))]);
        }
        rows.push(['all kernels', '', ...totals.map((v) => v.toFixed(2)), ...totals.slice(1).map((v) => (v / totals[0]).toFixed(2))]);
        console.log(table(['layer', 'output', ...modes.map((m) => `ms ${m}`), ...modes.slice(1).map((m) => `${m}/${modes[0]}`)], rows,
          ['', '', ...modes, ...modes.slice(1)].map((_, i) => i >= 2)));
      }
      if (ctx.hasTimestamps) {
        for (const [i, conv] of modes.entries()) {
          const kinds = [...byKernel[i]].sort((a, b) => b[1] - a[1]).map(([k, ms]) => `${k} ${ms.toFixed(0)}`);
          console.log(`kernel time by kernel (conv ${conv}, mean ms per pass): ${kinds.join(', ')}`);
        }
      }
      for (const [i, conv] of modes.entries()) {
        const passMs = median(wall[i]);
        console.log(`whole pass (wall clock, conv ${conv}): ${passMs.toFixed(1)} ms = ${(batch * 1000 / passMs).toFixed(2)} images/s (runs: ${wall[i].map((v) => v.toFixed(0)).join(', ')})`);
      }
      console.log(`buffer pool peak (activations, beyond weights): ${mib(ctx.pool.stats.peak)}`);
      console.log(`weight copies: ${mib(models[0].weights.stats.bytes)}${models.length > 1 ? ` (${modes.map((m, i) => `${m}: ${mib(models[i].weights.stats.bytes)}`).join(', ')})` : ''}\n`);
    }
  } finally {
    for (const model of models) model.destroy();
  }
} finally {
  gpu.close();
}
