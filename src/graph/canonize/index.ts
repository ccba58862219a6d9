/**
 * The canonizer: graph-to-graph passes between import and explaining, each a pure function that
 * keeps the network's function (zennit's canonizers, as a stage of its own). The importer only
 * converts ONNX; the built-in models keep their BatchNorm as layers; both come through here, and
 * `lrp inspect` prints each pass's report.
 *
 * Order: biases first (a bias after a BatchNorm joins its shift), then BatchNorm (so a chain
 * Conv → Add(bias) → BatchNorm or Conv → BatchNorm → Add(bias) folds whole), then padding, then
 * the trailing Softmax, then transposes that move only size-1 axes become views. Gated activations fuse after BatchNorm folds (MobileNetV3's Conv → BatchNorm
 * → {HardSigmoid, Mul} folds first, then fuses); the two passes touch different layers, so the
 * order only keeps each report about its own layers. Last, `requireExecutable` refuses what no
 * executor runs.
 */
import type { Graph } from '../ir.ts';
import { foldBatchNorm } from './fold-batchnorm.ts';
import { foldBias } from './fold-bias.ts';
import { fuseGatedActivations } from './fuse-gated-activations.ts';
import { mergePads } from './merge-pads.ts';
import { stripSoftmax } from './strip-softmax.ts';
import { transposeViews } from './transpose-views.ts';
import type { CanonizerPass, PassReport } from './types.ts';

export type { CanonizerPass, PassReport } from './types.ts';
export { NOTHING } from './types.ts';
export { foldBatchNorm, foldBias, fuseGatedActivations, mergePads, stripSoftmax, transposeViews };

export const PASSES: readonly CanonizerPass[] = [foldBias, foldBatchNorm, fuseGatedActivations, mergePads, stripSoftmax, transposeViews];

export interface Canonized {
  readonly graph: Graph;
  readonly reports: readonly PassReport[];
}

export function canonize(graph: Graph, passes: readonly CanonizerPass[] = PASSES): Canonized {
  const reports: PassReport[] = [];
  let g = graph;
  for (const p of passes) {
    const r = p.run(g);
    g = r.graph;
    reports.push(r.report);
  }
  requireExecutable(g);
  return { graph: g, reports };
}

/** Throws on a layer kind that exists only between import and canonization (a bias no pass could fold). */
export function requireExecutable(graph: Graph): void {
  for (const l of graph.layers) {
    if (l.kind === 'bias' && l.lastAxis) {
      throw new Error(`layer '${l.name}': an Add of a [${l.bias.length}] constant broadcasts along the last axis (numpy rules), and is supported only as the bias of a MatMul or Gemm before it that nothing else reads (not as a per-channel bias: that is [C, 1, 1])`);
    }
    if (l.kind === 'bias') {
      throw new Error(`layer '${l.name}': an Add of a constant is supported only as a bias after a Conv, Gemm, MatMul or BatchNormalization that nothing else reads`);
    }
  }
}

/** The reports as `lrp inspect` prints them, one pass a line. */
export function formatReports(reports: readonly PassReport[]): string {
  const w = Math.max(...reports.map((r) => r.pass.length));
  return reports.map((r) => `  ${r.pass.padEnd(w)}  ${r.summary}`).join('\n');
}
