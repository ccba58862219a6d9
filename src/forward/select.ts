/**
 * A batch's activations rearranged by sample on the GPU: sample k of the result takes the stored
 * values of sample `sampleOf[k]` of the source. The evaluation replicates an image's activations
 * for each of its (image, class) pairs with it, and the relevance pass cuts a batch larger than
 * its scratch allows into consecutive chunks with it. Every stored value is copied with buffer
 * copies, runs of consecutive samples in one copy; ReLU views share their source's copy.
 */
import type { GpuContext } from '../gpu/context.ts';
import { numel } from '../graph/ir.ts';
import { Activations } from './model.ts';
import type { TensorRef } from './tensor.ts';

/**
 * The activations of `sampleOf.length` samples, sample k taking those of `acts`' sample
 * `sampleOf[k]`. Returns `acts` itself when `sampleOf` is 0, 1, ..., batch-1 (release only what
 * differs from it).
 */
export async function selectSamples(ctx: GpuContext, acts: Activations, sampleOf: readonly number[]): Promise<Activations> {
  if (sampleOf.length === acts.batch && sampleOf.every((s, k) => s === k)) return acts;
  if (sampleOf.length === 0) throw new Error('no samples to select');
  for (const s of sampleOf) if (!Number.isInteger(s) || s < 0 || s >= acts.batch) throw new Error(`sample ${s} is not in the batch of ${acts.batch}`);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const copies = new Map<GPUBuffer, GPUBuffer>();
  const owned: GPUBuffer[] = [];
  const values = new Map<string, TensorRef>();
  // Runs [dst, src, length] of consecutive samples.
  const runs: [number, number, number][] = [];
  for (let k = 0; k < sampleOf.length; k++) {
    const last = runs[runs.length - 1];
    if (last && last[1] + last[2] === sampleOf[k] && last[0] + last[2] === k) last[2]++;
    else runs.push([k, sampleOf[k], 1]);
  }
  try {
    await ctx.guard(`copying the activations of ${sampleOf.length} of ${acts.batch} samples`, () => {
      const enc = ctx.device.createCommandEncoder({ label: 'select activations' });
      for (const [name, ref] of acts.values) {
        let dst = copies.get(ref.buffer);
        if (!dst) {
          const bytes = 4 * numel(ref.shape);
          dst = ctx.pool.acquire(bytes * sampleOf.length, usage, `${name} (selected samples)`);
          owned.push(dst);
          copies.set(ref.buffer, dst);
          for (const [d, s, n] of runs) enc.copyBufferToBuffer(ref.buffer, s * bytes, dst, d * bytes, n * bytes);
        }
        values.set(name, { buffer: dst, shape: ref.shape, relu: ref.relu });
      }
      ctx.device.queue.submit([enc.finish()]);
    });
  } catch (e) {
    for (const b of owned) ctx.pool.release(b);
    throw e;
  }
  return new Activations(ctx, acts.graph, sampleOf.length, values, null, () => owned.forEach((b) => ctx.pool.release(b)));
}
