import { numel } from '../src/graph/ir.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { randomArray, referenceForward } from '../test/reference/forward.ts';
import { referenceRelevances } from '../test/reference/relevance.ts';
// @ts-ignore
const { residualGraph } = await import('./graph.mts');
const g = residualGraph(8, true);
const N = 2;
const x = Float64Array.from(Float32Array.from(randomArray(N * numel(g.input.shape), 9)));
for (const rule of ['z', 'alpha-beta']) {
  const spec = { stabilizer: 1e-9, rules: [{ layers: 'linear', rule, ...(rule === 'alpha-beta' ? { alpha: 2, beta: 1 } : {}) }] };
  const c = resolveComposite(parseComposite(spec, rule), g);
  const rel = referenceRelevances(g, c.rules, null, x, N, [3, 0], 'logit');
  const vals = referenceForward(g, x, N);
  for (const v of ['logits', 'flat', 'r2', 'add2', 'relu6', 'c2', 'c3', 'pad', 'leaky', 'add1', 'bn', 'r1', 'c1', 'x']) {
    const r = rel.get(v); if (!r) { console.log(v, 'none'); continue; }
    const per = r.length / N; let s = 0; for (let i = 0; i < per; i++) s += r[i];
    console.log(rule, v, s.toFixed(6));
  }
}
