/**
 * GPU helpers for test files: one Dawn device per test file (vitest runs each file in its own
 * process with `pool: 'forks'`), and the relative L2 error every numerical check uses.
 */
import { afterAll, beforeAll } from 'vitest';
import { ForwardModel, type Activations } from '../../src/forward/model.ts';
import { parseComposite, resolveComposite, type ResolveOptions } from '../../src/lrp/composite.ts';
import { Explainer, type ExplainOptions, type Explanation } from '../../src/lrp/explainer.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { createNodeGpu, type NodeGpu } from '../../src/node/gpu.ts';

export interface SharedGpu {
  /** The device context; throws if read outside a test (before beforeAll ran). */
  readonly ctx: GpuContext;
  readonly gpu: NodeGpu;
}

/**
 * Registers beforeAll/afterAll hooks that open one Node WebGPU device for the calling test file
 * and close it at the end. Call at the top level of the file (or of a describe block).
 */
export function useGpu(): SharedGpu {
  let gpu: NodeGpu | undefined;
  beforeAll(async () => {
    gpu = await createNodeGpu({ compileProgress: false });
  });
  afterAll(() => {
    gpu?.close();
    gpu = undefined;
  });
  const get = (): NodeGpu => {
    if (!gpu) throw new Error('the test GPU is not open: use it inside a test, after beforeAll');
    return gpu;
  };
  return {
    get ctx() { return get().ctx; },
    get gpu() { return get(); },
  };
}

/**
 * ||a - b|| / ||b||: the error of `a` relative to the reference `b`. Lengths must agree. A zero
 * reference gives ||a|| (0 only when `a` is zero too); any NaN gives NaN, which fails every `<=`.
 */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relL2: lengths differ (${a.length} vs ${b.length})`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/** Index of the largest value in each row of an N×F array. */
export function argmaxRows(a: ArrayLike<number>, rows: number): number[] {
  const f = a.length / rows;
  const out: number[] = [];
  for (let n = 0; n < rows; n++) {
    let best = 0;
    for (let i = 1; i < f; i++) if (a[n * f + i] > a[n * f + best]) best = i;
    out.push(best);
  }
  return out;
}

/**
 * Uploads `graph`, runs one batch and reads back the named values (the graph output by default),
 * then frees everything: for tests that need no activations beyond the call.
 */
export async function runGraph(
  ctx: GpuContext, graph: Graph, input: Float32Array, batch: number, names: readonly string[] = [graph.output],
): Promise<Map<string, Float32Array>> {
  const model = await ForwardModel.create(ctx, graph);
  try {
    const acts = await model.forward(input, batch);
    try {
      const out = new Map<string, Float32Array>();
      for (const n of names) out.set(n, await acts.read(n));
      return out;
    } finally {
      acts.release();
    }
  } finally {
    model.destroy();
  }
}

/**
 * One relevance pass of `composite` (a preset name or JSON) over activations already computed,
 * building and freeing its Explainer around it.
 */
export async function explainWith(
  fm: ForwardModel, composite: unknown, acts: Activations, opts: ExplainOptions, resolve: ResolveOptions = {},
): Promise<Explanation> {
  const explainer = await Explainer.create(fm, resolveComposite(parseComposite(composite, 'test composite'), fm.graph, resolve));
  try {
    return await explainer.explainActivations(acts, opts);
  } finally {
    explainer.destroy();
  }
}
