/**
 * What the page holds between events: the model (its bytes, and its copy on the current device),
 * the input, the last result, and one queue that runs GPU work one job at a time.
 */
import type { Lrp, Model, ModelInfo, PreprocessSpec, RgbaImage } from '../src/index.ts';

export interface LoadedModel {
  readonly name: string;
  /** The ONNX bytes, kept to load again with another output or on a new device. */
  readonly bytes: Uint8Array;
  /** What it is (read from the bytes, no GPU needed). */
  facts: ModelInfo;
  preprocess: PreprocessSpec | null;
  preprocessSource: string | null;
  labels: string[] | null;
  /** The model on the current device; null until the first run, after a device loss or an output change. */
  model: Model | null;
  /** Identifies the bytes, so `lrpTest` re-sending one model keeps it loaded. */
  readonly key: string;
}

export type InputData =
  | { readonly kind: 'image'; readonly name: string; readonly rgba: RgbaImage }
  | { readonly kind: 'tensor'; readonly name: string; readonly shape: readonly number[]; readonly data: Float32Array };

export interface RunResult {
  readonly batch: number;
  /** Per-sample input shape, C×H×W. */
  readonly shape: readonly number[];
  readonly relevance: Float32Array;
  readonly logits: Float32Array;
  readonly classes: number;
  readonly targets: number[];
  readonly targetLogits: number[];
  readonly relevanceSums: number[];
  readonly composite: string;
  readonly ms: number;
  readonly notes: string[];
}

export const state: {
  lrp: Lrp | null;
  lrpPromise: Promise<Lrp> | null;
  model: LoadedModel | null;
  input: InputData | null;
  /** Preprocessing or labels dropped before any model: applied to the next one. */
  pendingPreprocess: { spec: PreprocessSpec; source: string } | null;
  pendingLabels: string[] | null;
  last: RunResult | null;
} = { lrp: null, lrpPromise: null, model: null, input: null, pendingPreprocess: null, pendingLabels: null, last: null };

let queue: Promise<unknown> = Promise.resolve();
/** Runs one GPU job at a time: error scopes and buffers of two interleaved runs would mix. */
export function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const p = queue.then(fn, fn);
  queue = p.catch(() => undefined);
  return p;
}
