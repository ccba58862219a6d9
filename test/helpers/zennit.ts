/** The layout of ../shared/testvectors/zennit/: an index of models, and a cases.json per model. */
import type { Init } from '../../src/lrp/explainer.ts';

export const ZENNIT_INDEX = 'testvectors/zennit/index.json';

/** One reference relevance: a composite (zennit's JSON), the targets, and the expected .npy. */
export interface ZennitCase {
  name: string;
  composite: unknown;
  target: number[];
  init: Init;
  expected: string;
  tolerance: number;
}

/** A model's cases.json: its ONNX file, the input and logits .npy, and its cases. */
export interface ZennitCaseFile { model: string; input: string; logits: string; cases: ZennitCase[] }
