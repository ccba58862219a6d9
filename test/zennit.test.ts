/**
 * Every reference case of every model in ../shared/testvectors/zennit/ and zennit-residual/
 * (skip connections, BatchNorm, ReLU6), with the logits, through the code path of
 * `lrp explain`: the composite JSON parsed and resolved, the model's forward pass kept, one
 * relevance pass on the GPU, compared with zennit's float64 relevance by relative L2 error; a
 * subset again with the other family of convolution tiles.
 * zennit-residual's LRP and guided-backprop cases are compared on zennit's own canonized function
 * (withZennitMergedBatchNorm: zennit 0.5.1 leaves each merged BatchNorm as x / sqrt(1 + eps));
 * test/relevance-reference.test.ts shows what that factor alone does to the exactly folded model.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { ConvMode } from '../src/forward/winograd.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { nodeShaderLoader } from '../src/node/gpu.ts';
import { useGpu } from './helpers/gpu.ts';
import { runReferenceCases } from './helpers/reference-cases.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';
import { ZENNIT_INDEX, ZENNIT_RESIDUAL_INDEX, type ZennitCaseFile } from './helpers/zennit.ts';

// The other tile family (on lavapipe: the GPU tiles, split reductions where a layer is wide
// enough) over the cases that reach every kind of relevance kernel: one transposed pass (z), the
// z - p epilogue and two-segment passes (alpha2beta1, cmp-alpha2-flat with its flat first layer),
// gamma and zbox (epsilon-gamma-box), wsquare. Each pipeline of the other family is one more
// compile on lavapipe, so not every case runs twice.
const OTHER_FAMILY = new Set(['z', 'alpha2beta1', 'cmp-alpha2-flat', 'epsilon-gamma-box', 'wsquare-first']);

const gpu = useGpu();
let other: GpuContext | undefined;
const otherCtx = () => {
  other ??= new GpuContext(gpu.gpu.device, { shaders: nodeShaderLoader, tuning: gpu.ctx.tuning === 'cpu' ? 'gpu' : 'cpu' });
  return other;
};
afterAll(() => other?.destroy());

/** Runs `cases` of one model on `ctx` (test/helpers/reference-cases.ts); the failures, as lines. */
function runCases(
  ctx: GpuContext, set: string, m: string, spec: ZennitCaseFile, cases: ZennitCaseFile['cases'], logits: boolean, conv: ConvMode = 'auto',
): Promise<string[]> {
  // zennit-residual's composites ran through zennit's BatchNorm merge (see withZennitMergedBatchNorm).
  return runReferenceCases(ctx, {
    label: `${set}/${m}`, dir: sharedPath(`testvectors/${set}/${m}/`), spec, cases, logits, zennitMerge: set === 'zennit-residual', conv,
  });
}

for (const [set, index] of [['zennit', ZENNIT_INDEX], ['zennit-residual', ZENNIT_RESIDUAL_INDEX]] as const) {
  const models: string[] = haveShared(`${set} reference vectors`, index)
    ? JSON.parse(readFileSync(sharedPath(index), 'utf8'))
    : [];

  describe.skipIf(models.length === 0)(`${set} reference relevance`, () => {
    it('the index lists models', () => {
      expect(models.length).toBeGreaterThanOrEqual(2);
    });

    for (const m of models) {
      const spec = JSON.parse(readFileSync(`${sharedPath(`testvectors/${set}/${m}/`)}cases.json`, 'utf8')) as ZennitCaseFile;

      it(`${m}: logits, and every case within its tolerance`, async () => {
        expect(await runCases(gpu.ctx, set, m, spec, spec.cases, true)).toEqual([]);
      });

      // Winograd forced on every 3x3 stride-1 convolution of the forward pass (auto keeps these tiny
      // models direct): the logits and every case still within tolerance.
      if (set === 'zennit' && m === 'vgg-tiny') {
        it(`${m}: logits, and every case within its tolerance, with --conv winograd`, async () => {
          expect(await runCases(gpu.ctx, set, m, spec, spec.cases, true, 'winograd')).toEqual([]);
        });
      }

      if (set === 'zennit') {
        it(`${m}: the cases of every relevance kernel kind, with the other tile family`, async () => {
          const cases = spec.cases.filter((c, i) => OTHER_FAMILY.has(c.name) && spec.cases.findIndex((d) => d.name === c.name) === i);
          expect(cases.length).toBe(OTHER_FAMILY.size);
          expect(await runCases(otherCtx(), set, m, spec, cases, false)).toEqual([]);
        });
      }
    }
  });
}
