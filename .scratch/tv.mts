import { readFileSync } from 'node:fs';
import { convertOnnx } from '../src/graph/onnx/import.ts';
import { canonize, formatReports } from '../src/graph/canonize/index.ts';
import { parseNpy, npyToFloat32 } from '../src/io/npy.ts';
import { referenceForward } from '../test/reference/forward.ts';
import { relL2 } from '../test/helpers/gpu.ts';
import { summarizeGraph } from '../src/graph/summary.ts';
for (const m of process.argv.slice(2)) {
  const f = `/tmp/i12/tv/${m}`;
  const { graph: raw, stats } = convertOnnx(new Uint8Array(readFileSync(f + '.onnx')), { source: m });
  const { graph, reports } = canonize(raw);
  console.log(m, raw.layers.length, '->', graph.layers.length, [...stats.foldedConstants], summarizeGraph(raw).totalParams);
  console.log(formatReports(reports));
  const npy = (p: string) => { const a = parseNpy(new Uint8Array(readFileSync(p)), p); return { shape: a.shape, data: npyToFloat32(a) }; };
  const x = npy(f + '.input.npy');
  const y = referenceForward(graph, Float64Array.from(x.data), 2).get(graph.output)!;
  console.log('  logits relL2 vs torch', relL2(y, npy(f + '.logits.npy').data));
}
