import { readFileSync } from 'node:fs';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { GraphBuilder } from '../src/graph/builder.ts';
import type { Graph, Layer } from '../src/graph/ir.ts';
import { npyToFloat32, parseNpy } from '../src/io/npy.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { referenceExplain } from '../test/reference/relevance.ts';
import { relL2 } from '../test/helpers/gpu.ts';
const npy = (p: string) => { const a = parseNpy(new Uint8Array(readFileSync(p)), p); return { shape: a.shape, data: npyToFloat32(a) }; };
function quirk(g: Graph): Graph {
  const b = new GraphBuilder(g.name, g.input.name, g.input.shape);
  const ren = new Map<string, string>();
  for (const l of g.layers) {
    const inputs = l.inputs.map((i) => ren.get(i) ?? i);
    b.add({ ...l, inputs } as Layer);
    if (l.kind === 'conv') {
      const c = l.outChannels;
      const out = l.output + '#bn';
      b.add({ kind: 'batchnorm', name: l.name + '#bn', inputs: [l.output], output: out, channels: c, scale: new Float32Array(c).fill(1), bias: new Float32Array(c), mean: new Float32Array(c), variance: new Float32Array(c).fill(1), epsilon: 1e-5 });
      ren.set(l.output, out);
    }
  }
  return b.build(ren.get(g.output) ?? g.output);
}
for (const m of ['resnet-basic', 'mobilenet-v2-tiny']) {
  const dir = `/work/shared/testvectors/zennit-residual/${m}/`;
  const spec = JSON.parse(readFileSync(dir + 'cases.json', 'utf8'));
  const g0 = importOnnx(new Uint8Array(readFileSync(dir + 'model.onnx')), { source: m });
  const g1 = quirk(g0);
  const x = npy(dir + 'input.npy');
  for (const c of spec.cases) {
    const out: string[] = [];
    for (const g of [g0, g1]) {
      const comp = resolveComposite(parseComposite(c.composite, 'x'), g);
      const r = referenceExplain(g, comp.rules, comp.method, Float64Array.from(x.data), x.shape[0], c.target, c.init);
      out.push(relL2(r, npy(dir + c.expected).data).toExponential(2));
    }
    console.log(m, c.name, c.init, 'exact fold', out[0], ' zennit quirk', out[1], 'tol', c.tolerance);
  }
}
