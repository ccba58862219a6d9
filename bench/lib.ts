/** Small helpers the benches share: medians, aligned tables, sizes. */
import type { GpuContext } from '../src/gpu/context.ts';

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Right-aligns numeric columns, left-aligns the rest. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], numeric: readonly boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * Dawn start-up options shared by the benches: `--dawn OPT` (repeatable) passes Dawn's own
 * switches, e.g. `disable-dawn-features=timestamp_quantization` for sub-100-microsecond kernel
 * times on a real GPU; `--tuning cpu|gpu` forces a kernel configuration family.
 */
export function dawnArgs(args: { dawn?: string[]; tuning?: string }): { dawnOptions: string[]; tuning?: 'cpu' | 'gpu' } {
  const t = args.tuning;
  if (t !== undefined && t !== 'cpu' && t !== 'gpu') throw new Error(`--tuning must be cpu or gpu, not '${t}'`);
  return { dawnOptions: args.dawn ?? [], tuning: t };
}

/**
 * Runs `fn` once (pipeline compilation happens on first use), then again until `minMs` have
 * passed: a GPU raises its clock only under sustained load, and a single warm-up pass left an
 * H100 at a fraction of its clock for the next runs (all kernels 2.7 times slower, uniformly).
 */
export async function warmUp(fn: () => Promise<unknown>, minMs: number): Promise<number> {
  const t0 = performance.now();
  let runs = 0;
  do {
    await fn();
    runs++;
  } while (performance.now() - t0 < minMs);
  return runs;
}

/**
 * A pooled storage buffer of `count` floats, f(i) each: the kernel benches' inputs and weights
 * (returned to the pool with the rest when the bench ends).
 */
export function filledBuffer(ctx: GpuContext, count: number, label: string, f: (i: number) => number): GPUBuffer {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const b = ctx.pool.acquire(4 * count, usage, label);
  ctx.writeBuffer(b, 0, Float32Array.from({ length: count }, (_, i) => f(i)));
  return b;
}
