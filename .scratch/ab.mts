import { readFileSync } from 'node:fs';
import { ForwardModel } from '/work/wt/i12-residual/src/forward/model.ts';
import { importOnnx } from '/work/wt/i12-residual/src/graph/onnx/import.ts';
import { npyToFloat32, parseNpy } from '/work/wt/i12-residual/src/io/npy.ts';
import { parseComposite, resolveComposite } from '/work/wt/i12-residual/src/lrp/composite.ts';
import { Explainer } from '/work/wt/i12-residual/src/lrp/explainer.ts';
import { createNodeGpu } from '/work/wt/i12-residual/src/node/gpu.ts';
import { relL2 } from '/work/wt/i12-residual/test/helpers/gpu.ts';
const gpu = await createNodeGpu();
const npy = (p: string) => { const a = parseNpy(new Uint8Array(readFileSync(p)), p); return { shape: a.shape, data: npyToFloat32(a) }; };
for (const m of ['mobilenet-v2-tiny', 'resnet-basic']) {
  const dir = `/work/shared/testvectors/zennit-residual/${m}/`;
  const spec = JSON.parse(readFileSync(dir + 'cases.json', 'utf8'));
  const graph = importOnnx(new Uint8Array(readFileSync(dir + 'model.onnx')), { source: m });
  const x = npy(dir + 'input.npy');
  const fm = await ForwardModel.create(gpu.ctx, graph);
  const acts = await fm.forward(x.data, x.shape[0]);
  for (const c of spec.cases.filter((c: any) => /alpha2|zplus|^z$/.test(c.name))) {
    const out: string[] = [];
    for (const nn of [false, true]) {
      (globalThis as any).NO_NONNEG = nn;
      const ex = await Explainer.create(fm, resolveComposite(parseComposite(c.composite, 'x'), graph));
      const r = await ex.explainActivations(acts, { targets: c.target, init: c.init });
      out.push(`${nn ? 'signed' : 'shortcut'} ${relL2(r.relevance, npy(dir + c.expected).data).toExponential(2)}`);
      ex.destroy();
    }
    console.log(m, c.name, c.init, out.join('  '), 'tol', c.tolerance);
  }
  acts.release(); fm.destroy();
}
gpu.close();
