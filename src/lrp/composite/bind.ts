/**
 * An entry's rule on one layer: the `LayerRule` the backward pass runs, with the parameters
 * presets leave to the run filled in (`--epsilon`, zbox bounds from the preprocessing) and the
 * zbox bounds checked against the layer.
 *
 * Decisions where the spec is silent:
 * - An entry's `stabilizer` overrides the composite's for its layers only.
 * - Zbox bounds: one number is broadcast; a list must have one value per input channel of the
 *   layer (a conv's input channels, a dense layer's input features). A dense layer fed by the
 *   model's C×H×W input through Flatten also takes C values, expanded over H·W in NCHW order.
 * - Bounds from the preprocessing are the input range of pixel values 0..255 (presets.ts); they
 *   go into the notes, since no JSON states them.
 */
import type { Graph, Layer } from '../../graph/ir.ts';
import type { LayerRule, LinearRule } from '../rule-spec.ts';
import { formatNumber } from './format.ts';
import type { CompositeSpec, EntryRule, ResolveOptions, ZboxBound } from './spec.ts';

/** What binding needs besides the rule and the layer; `onEpsilonOption` feeds the resolver's note. */
export interface BindContext {
  readonly spec: CompositeSpec;
  readonly graph: Graph;
  readonly opts: ResolveOptions;
  readonly onEpsilonOption: () => void;
  readonly notes: string[];
}

export function bindRule(rule: EntryRule, layer: Layer, fail: (msg: string) => never, ctx: BindContext): LayerRule {
  const stabilizer = ('stabilizer' in rule ? rule.stabilizer : undefined) ?? ctx.spec.stabilizer;
  switch (rule.rule) {
    case 'z':
    case 'zplus':
    case 'flat':
    case 'wsquare':
    case 'proportional':
    case 'norm':
      return { rule: rule.rule, stabilizer };
    case 'epsilon': {
      let epsilon: number;
      if (typeof rule.epsilon === 'number') {
        epsilon = rule.epsilon;
      } else {
        ctx.onEpsilonOption();
        epsilon = ctx.opts.epsilon ?? rule.epsilon.default;
      }
      return { rule: 'epsilon', epsilon };
    }
    case 'alpha-beta':
      return { rule: 'alpha-beta', alpha: rule.alpha, beta: rule.beta, stabilizer };
    case 'gamma':
      return { rule: 'gamma', gamma: rule.gamma, stabilizer };
    case 'zbox':
      return zboxRule(rule.bounds, layer, stabilizer, fail, ctx);
    case 'winner':
    case 'pass':
      return { rule: rule.rule };
  }
}

/**
 * How a layer's input channels are counted for zbox bounds: `count` values, or (a dense layer fed
 * by the model's C×H×W input through Flatten/Identity) `imageChannels` values each covering `spread`
 * consecutive features.
 */
function zboxChannels(layer: Layer, graph: Graph): { count: number; imageChannels?: number; spread?: number } {
  if (layer.kind === 'conv') return { count: layer.inChannels };
  if (layer.kind !== 'dense') return { count: 0 };
  const producer = new Map(graph.layers.map((l) => [l.output, l]));
  let value = layer.inputs[0];
  for (;;) {
    if (value === graph.input.name) break;
    const p = producer.get(value);
    if (!p || (p.kind !== 'flatten' && p.kind !== 'identity') || p.inputs.length !== 1) return { count: layer.inFeatures };
    value = p.inputs[0];
  }
  const shape = graph.input.shape;
  if (shape.length !== 3 || shape[0] * shape[1] * shape[2] !== layer.inFeatures) return { count: layer.inFeatures };
  return { count: layer.inFeatures, imageChannels: shape[0], spread: shape[1] * shape[2] };
}

function zboxRule(
  bounds: Extract<EntryRule, { rule: 'zbox' }>['bounds'], layer: Layer, stabilizer: number,
  fail: (msg: string) => never, ctx: BindContext,
): LinearRule {
  const ch = zboxChannels(layer, ctx.graph);
  const what = layer.kind === 'dense' ? 'input features' : 'input channels';
  const expand = (v: ZboxBound, key: string): number[] => {
    if (typeof v === 'number') return new Array<number>(ch.count).fill(v);
    if (v.length === ch.count) return [...v];
    if (ch.imageChannels !== undefined && v.length === ch.imageChannels) {
      const spread = ch.spread!;
      return Array.from({ length: ch.count }, (_, f) => v[Math.floor(f / spread)]);
    }
    const alt = ch.imageChannels !== undefined ? ` (or one per channel of the model input: ${ch.imageChannels})` : '';
    return fail(`zbox "${key}" has ${v.length} values but layer ${layer.name} (${layer.kind}) has ${ch.count} ${what}${alt}`);
  };
  if (bounds !== 'preprocess') {
    return { rule: 'zbox', low: expand(bounds.low, 'low'), high: expand(bounds.high, 'high'), stabilizer };
  }
  const pre = ctx.opts.preprocess;
  if (!pre) {
    return fail(
      `zbox bounds come from the model's preprocessing, and model ${ctx.graph.name} has none ` +
      '(give --preprocess FILE, or put MODEL.onnx.json beside the model)',
    );
  }
  const c = pre.mean.length;
  const low = pre.mean.map((m, i) => (0 * pre.scale - m) / pre.std[i]);
  const high = pre.mean.map((m, i) => (255 * pre.scale - m) / pre.std[i]);
  if (c !== ch.count && c !== ch.imageChannels) {
    fail(
      `the preprocessing has ${c} channels (${pre.channels}) but layer ${layer.name} (${layer.kind}) has ${ch.count} ${what}`,
    );
  }
  ctx.notes.push(
    `zbox bounds on ${layer.name} from the preprocessing: low [${low.map(formatNumber).join(', ')}], ` +
    `high [${high.map(formatNumber).join(', ')}]`,
  );
  return { rule: 'zbox', low: expand(low, 'low'), high: expand(high, 'high'), stabilizer };
}
