import type { Graph } from '../ir.ts';

/** What one pass did, for `lrp inspect`. */
export interface PassReport {
  /** The pass's name, e.g. `fold-batchnorm`. */
  readonly pass: string;
  /** One line: what changed ("folded 53 BatchNorm into conv layers; kept 4 standalone: ..."), or "nothing to do". */
  readonly summary: string;
  readonly changed: boolean;
}

/** A canonizer pass: a pure function from a graph to an equivalent graph, with its report. */
export interface CanonizerPass {
  readonly name: string;
  /** One line for docs and `--help`: what the pass rewrites. */
  readonly description: string;
  run(graph: Graph): { graph: Graph; report: PassReport };
}

export const NOTHING = 'nothing to do';
