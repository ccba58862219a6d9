/**
 * Tile sweep for the forward convolution: for chosen VGG-16 layers and batch sizes, the kernel
 * time of every thread-block shape the kernel accepts, under each split target of --fills,
 * against the shape convTile picks. This is how convTile's choices were made; rerun it on a new
 * kind of device before changing them.
 *
 *   npx tsx bench/conv-tiles.ts [--layers features.0,features.24] [--batch 8] [--top 5]
 *                               [--dawn disable-dawn-features=timestamp_quantization] [--json rows.jsonl]
 *
 * Needs timestamp queries. Each figure is the median over --repeat runs (after one warm-up) of
 * INNER back-to-back dispatches each.
 */
import { appendFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BufferLease } from '../src/gpu/buffer-pool.ts';
import type { Dispatch } from '../src/gpu/context.ts';
import type { ForwardOp } from '../src/forward/op.ts';
import { convTile, createConvWith, tileFits, withDepth, type ConvTile } from '../src/forward/conv.ts';
import type { ConvLayer } from '../src/graph/ir.ts';
import { numel, valueInfo } from '../src/graph/ir.ts';
import { builtinModel } from '../src/graph/zoo.ts';
import { createNodeGpu } from '../src/node/gpu.ts';
import { dawnArgs, median, table, warmUp } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'vgg16:random' },
    layers: { type: 'string', default: 'features.0,features.2,features.5,features.10,features.17,features.24' },
    batch: { type: 'string', default: '8' },
    repeat: { type: 'string', default: '5' },
    top: { type: 'string', default: '5' },
    dawn: { type: 'string', multiple: true, default: [] },
    tuning: { type: 'string' },
    json: { type: 'string' },
    // Split targets to try (output tiles below which K is split; 0: never).
    fills: { type: 'string', default: '0,264' },
  },
});
const repeat = Number(args.repeat);
const top = Number(args.top);
const INNER = 10;
const fills = args.fills!.split(',').map(Number);

/** Every block shape of the kernel within a GPU's register budget (at most 128 accumulators). */
function candidates(K: number): ConvTile[] {
  const out: ConvTile[] = [];
  for (const TX of [8, 16, 32]) for (const TY of [2, 4, 8, 16]) for (const PQ of [1, 2, 4]) for (const TN of [4, 8, 16]) {
    if (TX * TY < 64 || TX * TY > 256 || PQ * TN > 32 || PQ * TN < 4) continue;
    const t = withDepth(K, { TX, TY, PQ, TN });
    if (tileFits(t)) out.push(t);
  }
  return out;
}

const gpu = await createNodeGpu(dawnArgs(args));
const { ctx } = gpu;
if (!ctx.hasTimestamps) {
  console.error('conv-tiles needs timestamp queries, which this adapter does not offer');
  process.exit(2);
}
try {
  const graph = builtinModel(args.model!);
  console.log(`adapter: ${gpu.adapterName}; kernels tuned for ${ctx.tuning}; median of ${repeat}\n`);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  for (const name of args.layers!.split(',')) {
    const layer = graph.layers.find((l) => l.name === name);
    if (!layer || layer.kind !== 'conv') throw new Error(`${graph.name} has no convolution '${name}'`);
    const conv = layer as ConvLayer;
    const inShape = valueInfo(graph, conv.inputs[0]).shape;
    const outShape = valueInfo(graph, conv.output).shape;
    const K = conv.inChannels * conv.kernel[0] * conv.kernel[1];
    for (const batch of args.batch!.split(',').map(Number)) {
      const x = ctx.pool.acquire(4 * batch * numel(inShape), usage, 'x');
      ctx.writeBuffer(x, 0, new Float32Array(batch * numel(inShape)).map((_, i) => Math.sin(i)));
      const out = ctx.pool.acquire(4 * batch * numel(outShape), usage, 'y');
      const picked = convTile(K, conv.outChannels / conv.groups, ctx.tuning === 'cpu');
      // Every variant is built first, then timed round-robin: a drifting clock (boost, heat, a
      // neighbour on the device) then shifts all of them alike instead of favouring the first.
      const variants: { tile: ConvTile; fill: number; op: ForwardOp; dispatches: Dispatch[]; scratch: BufferLease; ms: number[] }[] = [];
      for (const tile of candidates(K)) {
        for (const fill of fills) {
          const op = await createConvWith(ctx, conv, { shape: inShape, relu: false }, outShape, { tile, fillWorkgroups: fill });
          // Held until the variant is done: its recorded dispatches are replayed many times.
          const scratch = new BufferLease(ctx.pool, usage);
          const dispatches = op.dispatches(batch, [{ buffer: x, shape: inShape, relu: false }], out, (bytes, label) => scratch.acquire(bytes, label));
          // A split that the heuristic declines is the unsplit run again: not worth a row.
          if (fill > 0 && dispatches.length === 1) {
            scratch.release();
            op.destroy();
            continue;
          }
          variants.push({ tile, fill, op, dispatches, scratch, ms: [] });
        }
      }
      // Each run submits the variant INNER times back to back: a lone short dispatch between
      // host round trips lets the GPU's clock drop and reads several times slower than the
      // same kernel inside a forward pass.
      await warmUp(() => ctx.run('warm-up', variants[0].dispatches), 2000);
      for (let r = 0; r <= repeat; r++) {
        for (const v of variants) {
          const t = await ctx.run(`${name} ${JSON.stringify(v.tile)}`, Array.from({ length: INNER }, () => v.dispatches).flat(), { profile: true });
          if (r === 0) continue;
          const per = v.dispatches.length;
          for (let i = 0; i < INNER; i++) v.ms.push(t!.slice(i * per, (i + 1) * per).reduce((s, d) => s + d.ms, 0));
        }
      }
      const rows = variants.map((v) => {
        v.scratch.release();
        v.op.destroy();
        return { tile: v.tile, fill: v.fill, ms: median(v.ms), chosen: JSON.stringify(v.tile) === JSON.stringify(picked) };
      });
      if (args.json) {
        appendFileSync(args.json, `${JSON.stringify({ layer: name, K, N: conv.outChannels, out: outShape, batch, rows: rows.map((r) => ({ ...r.tile, fill: r.fill, ms: r.ms })) })}\n`);
      }
      ctx.pool.release(x);
      ctx.pool.release(out);
      const flops = 2 * batch * numel(outShape) * K;
      rows.sort((a, b) => a.ms - b.ms);
      const shown = rows.filter((r, i) => i < top || r.chosen);
      console.log(`${name}: K ${K}, N ${conv.outChannels}, output ${outShape.join('x')}, batch ${batch}; ${rows.length} runs`);
      console.log(table(['TX', 'TY', 'PQ', 'TN', 'BK', 'fill', 'ms', 'GFLOP/s', ''],
        shown.map((r) => [r.tile.TX, r.tile.TY, r.tile.PQ, r.tile.TN, r.tile.BK].map(String)
          .concat([String(r.fill), r.ms.toFixed(3), (flops / r.ms / 1e6).toFixed(0), r.chosen ? '<- convTile' : ''])),
        [true, true, true, true, true, false, true, true, false]));
      console.log();
    }
  }
} finally {
  gpu.close();
}
