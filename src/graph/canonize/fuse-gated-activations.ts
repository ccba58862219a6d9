/**
 * fuse-gated-activations: SiLU and HardSwish as exporters write them, `Mul(x, Sigmoid(x))` and
 * `Mul(x, HardSigmoid(x))` (imported as a gate over its own activation), become one `silu` or
 * `hardswish` layer (with the HardSigmoid's alpha and beta), where the gate is the activation's
 * only reader. The function is the same; the forward pass saves a kernel and a stored value, and
 * the gradient methods get the activation's derivative in one pass instead of the gate's two
 * factors.
 *
 * Decisions (lrp-rules.md, "Modern CNNs and vision transformers"):
 * - LRP gives the fused layer the same relevance as the gate it replaces: `pass` to x, nothing
 *   into the gate's factor, so fusing changes no explanation, only the work.
 * - The fused layer takes the Mul's name (it computes the Mul's output); `name:` selectors that
 *   named the Sigmoid find nothing, and nothing is lost: an activation has only `pass`.
 * - Squeeze-and-excitation gates (g from a pooled branch) stay gates.
 */
import type { Layer } from '../ir.ts';
import { readers, rebuild, soleReader } from './edit.ts';
import { NOTHING, type CanonizerPass } from './types.ts';

export const fuseGatedActivations: CanonizerPass = {
  name: 'fuse-gated-activations',
  description: 'Mul(x, Sigmoid(x)) becomes one SiLU layer, Mul(x, HardSigmoid(x)) one HardSwish; other gates stay',
  run(graph) {
    const byValue = readers(graph);
    const producer = new Map<string, Layer>(graph.layers.map((l) => [l.output, l]));
    const dropped = new Set<Layer>();
    const replaced = new Map<Layer, Layer>();
    const fused = { silu: 0, hardswish: 0 };
    let gates = 0;
    for (const l of graph.layers) {
      if (l.kind !== 'gate') continue;
      const [x, g] = l.inputs;
      const act = producer.get(g);
      if (!act || (act.kind !== 'sigmoid' && act.kind !== 'hardsigmoid') || act.inputs[0] !== x || soleReader(graph, byValue, g) !== l) {
        gates++;
        continue;
      }
      const base = { name: l.name, inputs: [x], output: l.output };
      replaced.set(l, act.kind === 'sigmoid' ? { ...base, kind: 'silu' } : { ...base, kind: 'hardswish', alpha: act.alpha, beta: act.beta });
      dropped.add(act);
      fused[act.kind === 'sigmoid' ? 'silu' : 'hardswish']++;
    }
    const kept = gates ? `${gates} other gate${gates > 1 ? 's' : ''} (squeeze-and-excitation or the like) stay` : '';
    if (dropped.size === 0) return { graph, report: { pass: this.name, summary: kept || NOTHING, changed: false } };
    const parts = [
      fused.silu ? `fused ${fused.silu} Mul(x, Sigmoid(x)) into SiLU` : '',
      fused.hardswish ? `fused ${fused.hardswish} Mul(x, HardSigmoid(x)) into HardSwish` : '',
      kept,
    ].filter(Boolean);
    const layers = graph.layers.filter((l) => !dropped.has(l)).map((l) => replaced.get(l) ?? l);
    return { graph: rebuild(graph, layers), report: { pass: this.name, summary: parts.join('; '), changed: true } };
  },
};
