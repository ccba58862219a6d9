/**
 * The harness of the reference-vector tests (test/zennit.test.ts, test/modern.test.ts): one model's
 * cases through the code path of `lrp explain` (the composite JSON parsed and resolved, the model's
 * forward pass kept, one relevance pass on the GPU), compared with the float64 reference relevance
 * by relative L2 error, with the logits when asked. Every folder of ../shared/testvectors/ has the
 * layout of test/helpers/zennit.ts (ZennitCaseFile).
 */
import type { ConvMode } from '../../src/forward/winograd.ts';
import { readFileSync } from 'node:fs';
import { ForwardModel, type Activations } from '../../src/forward/model.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import type { Graph } from '../../src/graph/ir.ts';
import { importOnnx } from '../../src/graph/onnx/import.ts';
import { npyToFloat32, parseNpy } from '../../src/io/npy.ts';
import { parseComposite, resolveComposite } from '../../src/lrp/composite.ts';
import { Explainer } from '../../src/lrp/explainer.ts';
import { relL2 } from './gpu.ts';
import { withZennitMergedBatchNorm, zennitCanonized, type ZennitCaseFile } from './zennit.ts';

/** logits within this relative L2 error of the float64 reference (the issues ask 1e-5). */
export const LOGIT_TOLERANCE = 1e-5;

export const readNpy = (path: string) => {
  const a = parseNpy(new Uint8Array(readFileSync(path)), path);
  return { shape: a.shape, data: npyToFloat32(a) };
};

export interface CaseRun {
  /** Printed before each line, e.g. `zennit/vgg-tiny`. */
  readonly label: string;
  /** The model's folder, with a trailing slash. */
  readonly dir: string;
  readonly spec: ZennitCaseFile;
  readonly cases: ZennitCaseFile['cases'];
  /** Compare the logits too. */
  readonly logits: boolean;
  /** Run the cases zennit computed through its canonizer on zennit's merged-BatchNorm function (zennit-residual). */
  readonly zennitMerge?: boolean;
  /** How 3x3 stride-1 convolutions run in the forward pass (default `auto`). */
  readonly conv?: ConvMode;
}

/** Runs the cases on `ctx`; the failures, as lines (with the logits' when asked). */
export async function runReferenceCases(ctx: GpuContext, run: CaseRun): Promise<string[]> {
  const { dir, spec, label } = run;
  const graph = importOnnx(new Uint8Array(readFileSync(dir + spec.model)), { source: dir + spec.model });
  const zennitGraph = run.zennitMerge ? withZennitMergedBatchNorm(graph) : graph;
  const input = readNpy(dir + spec.input);
  const batch = input.shape[0];
  const models = new Map<Graph, { fm: ForwardModel; acts: Activations }>();
  const failures: string[] = [];
  try {
    for (const g of new Set([graph, zennitGraph])) {
      const fm = await ForwardModel.create(ctx, g, { conv: run.conv });
      // Forced Winograd must reach the model's 3x3 stride-1 convolutions, or the case tests nothing new.
      if (run.conv === 'winograd' && ![...fm.methods().values()].some((v) => v.startsWith('winograd'))) failures.push(`${label}: no convolution ran Winograd`);
      models.set(g, { fm, acts: await fm.forward(input.data, batch) });
    }
    if (run.logits) {
      const logitErr = relL2(await models.get(graph)!.acts.read(), readNpy(dir + spec.logits).data);
      console.log(`${label}: logits relative L2 ${logitErr.toExponential(2)} (tolerance ${LOGIT_TOLERANCE}, conv ${run.conv ?? 'auto'})`);
      if (!(logitErr <= LOGIT_TOLERANCE)) failures.push(`logits: relative L2 ${logitErr}`);
    }
    for (const c of run.cases) {
      const g = zennitCanonized(c) ? zennitGraph : graph;
      const { fm, acts } = models.get(g)!;
      const source = `${dir}cases.json: ${c.name}`;
      const explainer = await Explainer.create(fm, resolveComposite(parseComposite(c.composite, source), g));
      try {
        // Forced Winograd must reach the relevance passes too (src/lrp/ops/winograd-relevance.ts).
        if (run.conv === 'winograd' && !explainer.describe().some((d) => d.passes.includes('Winograd'))) failures.push(`${c.name}: no relevance pass ran Winograd`);
        const ex = await explainer.explainActivations(acts, { targets: c.target, init: c.init });
        const err = relL2(ex.relevance, readNpy(dir + c.expected).data);
        const line = `${c.name} (${c.init}, ${ctx.tuning} tiles): relative L2 ${err.toExponential(2)} (tolerance ${c.tolerance})`;
        console.log(`${label}: ${line}`);
        if (!(err <= c.tolerance)) failures.push(line);
      } finally {
        explainer.destroy();
      }
    }
  } finally {
    for (const { fm, acts } of models.values()) {
      acts.release();
      fm.destroy();
    }
  }
  return failures;
}
