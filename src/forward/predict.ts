import { numel } from '../graph/ir.ts';
import { firstNonFinite, nonFiniteForwardError } from './finite.ts';
import type { ForwardModel } from './model.ts';

export interface PredictOptions {
  /** Samples per GPU batch; defaults to the most that fit, capped at 32. */
  batch?: number;
  /** Which value to read back; the graph's output by default. */
  output?: string;
  onBatch?: (done: number, total: number) => void;
}

/** Runs `count` samples through the model in batches and returns the output rows, N × F; non-finite outputs are an error naming the layer they start at. */
export async function predict(model: ForwardModel, input: Float32Array, count: number, opts: PredictOptions = {}): Promise<Float32Array> {
  const per = numel(model.graph.input.shape);
  if (input.length !== count * per) {
    throw new Error(`input has ${input.length} values, expected ${count}×${model.graph.input.shape.join('×')}`);
  }
  const batch = Math.max(1, Math.min(opts.batch ?? 32, model.maxBatch));
  const outName = opts.output ?? model.graph.output;
  const outPer = numel(model.info.get(outName)?.shape ?? []);
  const out = new Float32Array(count * outPer);
  for (let n0 = 0; n0 < count; n0 += batch) {
    const n = Math.min(batch, count - n0);
    const acts = await model.forward(input.subarray(n0 * per, (n0 + n) * per), n);
    try {
      const rows = await acts.read(outName);
      if (firstNonFinite(rows) >= 0) throw await nonFiniteForwardError(acts, n0);
      out.set(rows, n0 * outPer);
    } finally {
      acts.release();
    }
    opts.onBatch?.(n0 + n, count);
  }
  return out;
}

export interface Ranked {
  readonly index: number;
  readonly logit: number;
  readonly probability: number;
}

/** The k largest entries of one row of logits, with their softmax probabilities. */
export function topK(row: ArrayLike<number>, k: number): Ranked[] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp(row[i] - max);
  const idx = Array.from({ length: row.length }, (_, i) => i);
  idx.sort((a, b) => row[b] - row[a] || a - b);
  return idx.slice(0, k).map((i) => ({ index: i, logit: row[i], probability: Math.exp(row[i] - max) / z }));
}
