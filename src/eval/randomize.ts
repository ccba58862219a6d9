/**
 * Cascading model-parameter randomization (Adebayo et al. 2018, "Sanity checks for saliency maps";
 * shared/docs/evaluation-protocol.md, "Model-parameter randomization"): step k of the cascade is
 * the model with its k linear layers (convolutions and dense layers) nearest the output
 * randomised, k = 0 (nothing randomised) ... L (every linear layer).
 *
 * Decisions the protocol left open:
 * - Distribution: each randomised weight is drawn from a normal distribution of mean 0 and the
 *   standard deviation of that layer's own weights (population standard deviation, about their
 *   mean), as Adebayo et al. re-initialise and Quantus's MPRT habitually does; biases are kept.
 *   A layer whose weights are all equal (std 0) gets all-zero weights.
 * - Seeding: the values of a layer depend only on `seed` and the layer's place in the cascade
 *   (0 = the layer nearest the output), so step k + 1 keeps step k's random layers exactly and
 *   adds one, and a rerun with the same seed gives the same weights. Normals come from the
 *   polar method on the synthetic dataset's integer generator (src/synth/rng.ts); Math.log and
 *   Math.sqrt may differ in the last bit between JavaScript engines, so reproducibility is
 *   promised within one engine.
 * - Which layers: the linear layers the chosen output depends on, latest first; layers that only
 *   feed other outputs are left out (randomising them would change nothing).
 * - Weight sharing: a randomised model is a new Graph whose randomised layers carry new weight
 *   arrays (every other field, and every other layer, is the original object). A ForwardModel
 *   made from it has its own WeightStore, so the original model's shared weight copies, and every
 *   explainer or evaluator using them, are never touched; its pipelines come from the context's
 *   cache, so nothing compiles again. The cost is one upload of the whole model per step, against
 *   keeping one uploaded model per step alive at once.
 */
import type { Graph, Layer, LinearLayer } from '../graph/ir.ts';
import { isLinear } from '../graph/ir.ts';
import { imageSeed, Rng } from '../synth/rng.ts';

/** The linear layers the graph's output depends on, nearest the output first: the cascade's order. */
export function cascadeLayers(graph: Graph): LinearLayer[] {
  const needed = new Set<string>([graph.output]);
  const out: LinearLayer[] = [];
  for (let i = graph.layers.length - 1; i >= 0; i--) {
    const layer: Layer = graph.layers[i];
    if (!needed.has(layer.output)) continue;
    for (const v of layer.inputs) needed.add(v);
    if (isLinear(layer)) out.push(layer);
  }
  return out;
}

/** Population standard deviation of `w`, in float64. */
export function weightStd(w: Float32Array): number {
  let mean = 0;
  for (let i = 0; i < w.length; i++) mean += w[i];
  mean /= w.length;
  let ss = 0;
  for (let i = 0; i < w.length; i++) ss += (w[i] - mean) ** 2;
  return Math.sqrt(ss / w.length);
}

/** `count` normal values of mean 0 and standard deviation `std` from `seed` (Marsaglia's polar method). */
export function seededNormals(count: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  const rng = new Rng(seed);
  for (let i = 0; i < count; i += 2) {
    let u: number, v: number, s: number;
    do {
      u = 2 * rng.next() - 1;
      v = 2 * rng.next() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = std * Math.sqrt((-2 * Math.log(s)) / s);
    out[i] = u * f;
    if (i + 1 < count) out[i + 1] = v * f;
  }
  return out;
}

/** The randomised weights of the layer at `place` in the cascade (0 = nearest the output). */
export function randomWeights(layer: LinearLayer, place: number, seed: number): Float32Array {
  return seededNormals(layer.weight.length, weightStd(layer.weight), imageSeed(seed, place));
}

/**
 * Step `steps` of the cascade: `graph` with its `steps` linear layers nearest the output given
 * seeded random weights (biases kept). `graph` itself is not changed; step 0 is `graph`.
 * `previous`, step `steps - 1` of the same graph and seed, lends its random layers, so that a
 * walk down the cascade draws each layer's weights once (a layer's draw depends only on its place).
 */
export function randomizedGraph(graph: Graph, steps: number, seed: number, previous?: Graph): Graph {
  const cascade = cascadeLayers(graph);
  if (!Number.isInteger(steps) || steps < 0 || steps > cascade.length) {
    throw new Error(`${graph.name}: randomization step ${steps} is not in 0..${cascade.length} (its linear layers)`);
  }
  if (steps === 0) return graph;
  const name = `${graph.name} (${steps} layer${steps === 1 ? '' : 's'} randomised)`;
  if (previous && previous.layers.length === graph.layers.length) {
    const place = steps - 1;
    const at = graph.layers.indexOf(cascade[place]);
    const layers = previous.layers.slice();
    layers[at] = { ...cascade[place], weight: randomWeights(cascade[place], place, seed) };
    return { ...graph, name, layers };
  }
  const replaced = new Map<Layer, Layer>();
  cascade.slice(0, steps).forEach((layer, place) => {
    replaced.set(layer, { ...layer, weight: randomWeights(layer, place, seed) });
  });
  return { ...graph, name, layers: graph.layers.map((l) => replaced.get(l) ?? l) };
}
