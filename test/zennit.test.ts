/**
 * Every reference case of every model in ../shared/testvectors/zennit/, through the code path of
 * `lrp explain`: the composite JSON parsed and resolved, the model's forward pass kept, one
 * relevance pass on the GPU, compared with zennit's float64 relevance by relative L2 error; a
 * subset again with the other family of convolution tiles.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { GpuContext } from '../src/gpu/context.ts';
import { nodeShaderLoader } from '../src/node/gpu.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { npyToFloat32, parseNpy } from '../src/io/npy.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';
import { ZENNIT_INDEX, type ZennitCaseFile } from './helpers/zennit.ts';


const INDEX = ZENNIT_INDEX;
const models: string[] = haveShared('zennit reference vectors', INDEX)
  ? JSON.parse(readFileSync(sharedPath(INDEX), 'utf8'))
  : [];

describe.skipIf(models.length === 0)('zennit reference relevance', () => {
  const gpu = useGpu();
  const npy = (path: string) => {
    const a = parseNpy(new Uint8Array(readFileSync(path)), path);
    return { shape: a.shape, data: npyToFloat32(a) };
  };

  it('the index lists models', () => {
    expect(models.length).toBeGreaterThanOrEqual(2);
  });

  // The other tile family (on lavapipe: the GPU tiles, split reductions where a layer is wide
  // enough) over the cases that reach every kind of relevance kernel: one transposed pass (z), the
  // z - p epilogue and two-segment passes (alpha2beta1, cmp-alpha2-flat with its flat first layer),
  // gamma and zbox (epsilon-gamma-box), wsquare. Each pipeline of the other family is one more
  // compile on lavapipe, so not every case runs twice.
  const OTHER_FAMILY = new Set(['z', 'alpha2beta1', 'cmp-alpha2-flat', 'epsilon-gamma-box', 'wsquare-first']);
  let other: GpuContext | undefined;
  const otherCtx = () => {
    other ??= new GpuContext(gpu.gpu.device, { shaders: nodeShaderLoader, tuning: gpu.ctx.tuning === 'cpu' ? 'gpu' : 'cpu' });
    return other;
  };
  afterAll(() => other?.destroy());

  async function runCases(ctx: GpuContext, m: string, cases: ZennitCaseFile['cases']): Promise<string[]> {
    const dir = sharedPath(`testvectors/zennit/${m}/`);
    const spec = JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as ZennitCaseFile;
    const graph = importOnnx(new Uint8Array(readFileSync(dir + spec.model)), { source: dir + spec.model });
    const input = npy(dir + spec.input);
    const batch = input.shape[0];
    const fm = await ForwardModel.create(ctx, graph);
    const acts = await fm.forward(input.data, batch);
    const failures: string[] = [];
    try {
      for (const c of cases) {
        const source = `${m}/cases.json: ${c.name}`;
        const composite = resolveComposite(parseComposite(c.composite, source), graph);
        const explainer = await Explainer.create(fm, composite);
        try {
          const ex = await explainer.explainActivations(acts, { targets: c.target, init: c.init });
          const err = relL2(ex.relevance, npy(dir + c.expected).data);
          const line = `${c.name} (${c.init}, ${ctx.tuning} tiles): relative L2 ${err.toExponential(2)} (tolerance ${c.tolerance})`;
          console.log(`${m}: ${line}`);
          if (!(err <= c.tolerance)) failures.push(line);
        } finally {
          explainer.destroy();
        }
      }
    } finally {
      acts.release();
      fm.destroy();
    }
    return failures;
  }

  for (const m of models) {
    const spec = JSON.parse(readFileSync(`${sharedPath(`testvectors/zennit/${m}/`)}cases.json`, 'utf8')) as ZennitCaseFile;

    it(`${m}: every case within its tolerance`, async () => {
      expect(await runCases(gpu.ctx, m, spec.cases)).toEqual([]);
    });

    it(`${m}: the cases of every relevance kernel kind, with the other tile family`, async () => {
      const cases = spec.cases.filter((c, i) => OTHER_FAMILY.has(c.name) && spec.cases.findIndex((d) => d.name === c.name) === i);
      expect(cases.length).toBe(OTHER_FAMILY.size);
      expect(await runCases(otherCtx(), m, cases)).toEqual([]);
    });
  }
});
