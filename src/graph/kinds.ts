/**
 * What the graph knows of each layer kind, one entry per kind: how many inputs it takes, its
 * output shape, its parameters and multiply-adds (for `inspect`), and whether it keeps its
 * inputs' non-negativity. The other sides keep their own tables, keyed the same way, so that a
 * new kind is a compile error until every side says what it does with it:
 *
 * - src/graph/kinds.ts (this file): shapes, counts, non-negativity;
 * - src/forward/kinds.ts: a view of its input, or the forward op that computes it;
 * - src/lrp/kind-rules.ts: the rules a composite may give it, its default and method rules, the
 *   kind selector that picks it;
 * - src/lrp/ops/index.ts: its backward op per rule, or relevance passed through unchanged.
 */
import type {
  AddConstLayer, BatchNormLayer, ConcatConstLayer, ConvLayer, DenseLayer, GateLayer, GatherLayer, Layer, LayerKind, LayerNormLayer,
  MatMulLayer, ReshapeLayer, ScaleLayer, Shape, SliceLayer, TransposeLayer,
} from './ir.ts';
import { numel } from './ir.ts';
import { windowOutputHW } from './shape.ts';

/** A layer of kind K. */
export type LayerOf<K extends LayerKind> = Extract<Layer, { readonly kind: K }>;

export interface GraphKind<L extends Layer> {
  /** `one` input, `two` (a skip sum), or `many` (concatenations). */
  readonly arity: 'one' | 'two' | 'many';
  /** The per-sample output shape from the inputs' shapes; throws naming the layer on a mismatch. */
  inferShape(layer: L, inputs: readonly Shape[]): number[];
  /**
   * Trainable parameters, as PyTorch counts them: weight plus bias (a bias the model does not
   * declare, `hasBias: false`, is not counted), a BatchNorm's scale and shift (not its running
   * statistics).
   */
  params(layer: L): number;
  /** Multiply-adds per sample (`inputs`: the inputs' shapes, for kinds whose output does not show them). */
  macs(layer: L, outShape: Shape, inputs: readonly Shape[]): number;
  /**
   * Whether the output is >= 0 without looking at it: `always` (ReLU), `if-inputs` (every input
   * is; pooling, copies), `never` known. Alpha-beta and gamma take their shortcut on such inputs.
   * A function of the layer, for kinds whose answer depends on their parameters.
   */
  nonneg(layer: L): Nonneg;
}

export type Nonneg = 'always' | 'if-inputs' | 'never';

export function layerFail(layer: { name: string; kind: string }, msg: string): never {
  throw new Error(`layer '${layer.name}' (${layer.kind}): ${msg}`);
}

function expectRank(layer: { name: string; kind: string }, shape: Shape, rank: number): void {
  if (shape.length !== rank) {
    layerFail(layer, `expects a ${rank === 3 ? 'C×H×W feature map' : `rank-${rank} input`}, got [${shape.join(', ')}]`);
  }
}

/** A NaN or infinite parameter (a corrupt weight file) is refused at load time, naming where it is. */
function checkFinite(layer: { name: string; kind: string }, what: string, values: Float32Array): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) layerFail(layer, `${what} value ${i} of ${values.length} is ${values[i]}: the parameters are corrupt`);
  }
}

function convShape(layer: ConvLayer, x: Shape): number[] {
  expectRank(layer, x, 3);
  const { inChannels: ci, outChannels: co, kernel, groups } = layer;
  if (!(Number.isSafeInteger(groups) && groups >= 1)) layerFail(layer, `groups must be a whole number >= 1, got ${groups}`);
  if (!(Number.isSafeInteger(co) && co >= 1)) layerFail(layer, `has ${co} output channels`);
  checkFinite(layer, 'weight', layer.weight);
  checkFinite(layer, 'bias', layer.bias);
  if (x[0] !== ci) layerFail(layer, `expects ${ci} input channels, got ${x[0]}`);
  if (ci % groups !== 0 || co % groups !== 0) layerFail(layer, `channels ${ci}→${co} do not divide into ${groups} groups`);
  if (layer.weight.length !== co * (ci / groups) * kernel[0] * kernel[1]) {
    layerFail(layer, `weight has ${layer.weight.length} values, expected ${co}×${ci / groups}×${kernel[0]}×${kernel[1]}`);
  }
  if (layer.bias.length !== co) layerFail(layer, `bias has ${layer.bias.length} values, expected ${co}`);
  const [h, w] = windowOutputHW(x, kernel, layer.stride, layer.pads, layer.dilation, false);
  return [co, h, w];
}

function batchNormShape(layer: BatchNormLayer, x: Shape): number[] {
  if (x.length !== 1 && x.length !== 3) layerFail(layer, `expects a C×H×W map or a flat input, got [${x.join(', ')}]`);
  const c = layer.channels;
  if (x[0] !== c) layerFail(layer, `expects ${c} channels, got ${x[0]}`);
  for (const [what, a] of [['scale', layer.scale], ['bias', layer.bias], ['mean', layer.mean], ['variance', layer.variance]] as const) {
    if (a.length !== c) layerFail(layer, `${what} has ${a.length} values, expected ${c}`);
    checkFinite(layer, what, a);
  }
  if (!(layer.epsilon >= 0) || layer.variance.some((v) => !(v + layer.epsilon > 0))) {
    layerFail(layer, 'variance + epsilon must be positive in every channel');
  }
  return [...x];
}

/** Over the last axis: `[F]`, or `[..., F]` with one row per position of the leading axes. */
function denseShape(layer: DenseLayer, x: Shape): number[] {
  if (x.length < 1) layerFail(layer, 'expects an input of rank 1 or more, got a scalar');
  if (!(Number.isSafeInteger(layer.outFeatures) && layer.outFeatures >= 1)) layerFail(layer, `has ${layer.outFeatures} output features`);
  checkFinite(layer, 'weight', layer.weight);
  checkFinite(layer, 'bias', layer.bias);
  const last = x[x.length - 1];
  if (last !== layer.inFeatures) {
    layerFail(layer, `expects ${layer.inFeatures} input features on the last axis, got [${x.join(', ')}]${x.length > 1 ? ' (is a Flatten missing?)' : ''}`);
  }
  if (layer.weight.length !== layer.inFeatures * layer.outFeatures) {
    layerFail(layer, `weight has ${layer.weight.length} values, expected ${layer.outFeatures}×${layer.inFeatures}`);
  }
  if (layer.bias.length !== layer.outFeatures) layerFail(layer, `bias has ${layer.bias.length} values, expected ${layer.outFeatures}`);
  return [...x.slice(0, -1), layer.outFeatures];
}

/** Rows of a dense layer per sample: the product of its input's leading axes (1 for a flat input). */
export function denseRows(inputShape: Shape): number {
  return numel(inputShape.slice(0, -1));
}

/** The largest per-sample rank a transpose (forward/transpose.wgsl, four axes) handles. */
export const MAX_RANK = 4;

function transposeShape(layer: TransposeLayer, x: Shape): number[] {
  const { perm } = layer;
  if (x.length > MAX_RANK) layerFail(layer, `transposes a rank-${x.length} sample; at most ${MAX_RANK} axes per sample are supported`);
  const sorted = [...perm].sort((a, b) => a - b);
  if (perm.length !== x.length || sorted.some((a, i) => a !== i)) {
    layerFail(layer, `perm [${perm.join(', ')}] is not a permutation of the ${x.length} axes of [${x.join(', ')}] (the batch axis excluded)`);
  }
  return perm.map((a) => x[a]);
}

function layerNormShape(layer: LayerNormLayer, x: Shape): number[] {
  const n = layer.scale.length;
  if (x[x.length - 1] !== n) layerFail(layer, `normalises ${n} values over the last axis of [${x.join(', ')}]`);
  if (layer.bias.length !== n) layerFail(layer, `bias has ${layer.bias.length} values, expected ${n}`);
  checkFinite(layer, 'scale', layer.scale);
  checkFinite(layer, 'bias', layer.bias);
  if (!(layer.epsilon >= 0) || (n === 1 && !(layer.epsilon > 0))) layerFail(layer, `epsilon ${layer.epsilon} must be >= 0 (> 0 over one value)`);
  return [...x];
}

function reshapeShape(layer: ReshapeLayer, x: Shape): number[] {
  const s = layer.shape;
  // A view: no kernel indexes it by axis, so any rank (the layers reading it check their own).
  if (s.length < 1 || s.some((d) => !(Number.isSafeInteger(d) && d >= 1))) {
    layerFail(layer, `target shape [${s.join(', ')}] must have one or more whole positive axes`);
  }
  if (numel(s) !== numel(x)) layerFail(layer, `reshapes [${x.join(', ')}] (${numel(x)} values) to [${s.join(', ')}] (${numel(s)} values)`);
  return [...s];
}

/** The gate's g is x's shape, or C×1×1 against a C×H×W x (squeeze-and-excitation), broadcast over positions. */
function gateShape(layer: GateLayer, x: Shape, g: Shape): number[] {
  const same = g.length === x.length && g.every((d, i) => d === x[i]);
  const perChannel = x.length === 3 && g.length === 3 && g[0] === x[0] && g[1] === 1 && g[2] === 1;
  if (!same && !perChannel) {
    layerFail(layer, `gates [${x.join(', ')}] by [${g.join(', ')}] (the gate must have the input's shape, or be C×1×1 against a C×H×W input)`);
  }
  return [...x];
}

/**
 * One scale for every value, or one per channel (axis 0) of a flat input or a C×H×W map, or with
 * `lastAxis` one per position of the last axis of any input.
 */
function scaleShape(layer: ScaleLayer, x: Shape): number[] {
  checkFinite(layer, 'scale', layer.scale);
  const n = layer.scale.length;
  if (layer.lastAxis) {
    if (x[x.length - 1] !== n) layerFail(layer, `has ${n} scale values for the last axis of [${x.join(', ')}]`);
    return [...x];
  }
  if (n !== 1 && !((x.length === 1 || x.length === 3) && x[0] === n)) {
    layerFail(layer, `has ${n} scale values for an input of shape [${x.join(', ')}] (one, or one per channel of a flat input or a C×H×W map)`);
  }
  return [...x];
}

/** A per-sample axis of `x`, checked. */
function sampleAxis(layer: { name: string; kind: string }, axis: number, x: Shape): number {
  if (!(Number.isInteger(axis) && axis >= 0 && axis < x.length)) layerFail(layer, `axis ${axis} is out of range for a sample of shape [${x.join(', ')}]`);
  return axis;
}

function sliceShape(layer: SliceLayer, x: Shape): number[] {
  const a = sampleAxis(layer, layer.axis, x);
  const { start, length } = layer;
  if (!(Number.isInteger(start) && Number.isInteger(length) && start >= 0 && length >= 1 && start + length <= x[a])) {
    layerFail(layer, `slice [${start}, ${start + length}) of axis ${a} does not fit its ${x[a]} entries`);
  }
  return x.map((d, i) => (i === a ? length : d));
}

function gatherShape(layer: GatherLayer, x: Shape): number[] {
  const a = sampleAxis(layer, layer.axis, x);
  if (!(Number.isInteger(layer.index) && layer.index >= 0 && layer.index < x[a])) layerFail(layer, `index ${layer.index} is out of range for axis ${a} of ${x[a]} entries`);
  return x.filter((_, i) => i !== a);
}

function concatConstShape(layer: ConcatConstLayer, x: Shape): number[] {
  const a = sampleAxis(layer, layer.axis, x);
  const c = layer.constShape;
  if (c.length !== x.length || c.some((d, i) => i !== a && d !== x[i]) || !(c[a] >= 1)) {
    layerFail(layer, `cannot concatenate a constant of shape [${c.join(', ')}] with [${x.join(', ')}] along axis ${a}`);
  }
  if (layer.constant.length !== numel(c)) layerFail(layer, `the constant has ${layer.constant.length} values, expected ${numel(c)}`);
  checkFinite(layer, 'constant', layer.constant);
  return x.map((d, i) => (i === a ? d + c[a] : d));
}

function addConstShape(layer: AddConstLayer, x: Shape): number[] {
  if (layer.constant.length !== numel(x)) layerFail(layer, `the constant has ${layer.constant.length} values for a sample of shape [${x.join(', ')}]`);
  checkFinite(layer, 'constant', layer.constant);
  return [...x];
}

function matmulShape(layer: MatMulLayer, a: Shape, b: Shape): number[] {
  const ra = a.length;
  const same = ra >= 2 && b.length === ra && a.slice(0, ra - 2).every((d, i) => d === b[i]) && a[ra - 1] === b[ra - 2];
  if (!same) {
    layerFail(layer, `multiplies [${a.join(', ')}] by [${b.join(', ')}] (two activations: [...B, M, K] by [...B, K, N], the same leading axes, no broadcasting)`);
  }
  return [...a.slice(0, ra - 1), b[ra - 1]];
}

const none = (): number => 0;
const always = (): Nonneg => 'always';
const ifInputs = (): Nonneg => 'if-inputs';
const never = (): Nonneg => 'never';
const sameShape = (layer: { name: string; kind: string }, [x]: readonly Shape[]): number[] => [...x];

export const GRAPH_KINDS: { readonly [K in LayerKind]: GraphKind<LayerOf<K>> } = {
  conv: {
    arity: 'one',
    inferShape: (layer, [x]) => convShape(layer, x),
    params: (l) => l.weight.length + (l.hasBias === false ? 0 : l.bias.length),
    macs: (l, out) => numel(out) * (l.inChannels / l.groups) * l.kernel[0] * l.kernel[1],
    nonneg: never,
  },
  dense: {
    arity: 'one',
    inferShape: (layer, [x]) => denseShape(layer, x),
    params: (l) => l.weight.length + (l.hasBias === false ? 0 : l.bias.length),
    macs: (l, out) => (numel(out) / l.outFeatures) * l.inFeatures * l.outFeatures,
    nonneg: never,
  },
  relu: { arity: 'one', inferShape: sameShape, params: none, macs: none, nonneg: always },
  maxpool: {
    arity: 'one',
    inferShape: (layer, [x]) => {
      expectRank(layer, x, 3);
      return [x[0], ...windowOutputHW(x, layer.kernel, layer.stride, layer.pads, layer.dilation, layer.ceilMode)];
    },
    params: none, macs: none, nonneg: ifInputs,
  },
  avgpool: {
    arity: 'one',
    inferShape: (layer, [x]) => {
      expectRank(layer, x, 3);
      return [x[0], ...windowOutputHW(x, layer.kernel, layer.stride, layer.pads, [1, 1], layer.ceilMode)];
    },
    params: none, macs: none, nonneg: ifInputs,
  },
  globalavgpool: {
    arity: 'one',
    inferShape: (layer, [x]) => {
      expectRank(layer, x, 3);
      return [x[0], 1, 1];
    },
    params: none, macs: none, nonneg: ifInputs,
  },
  lrn: {
    arity: 'one',
    inferShape: (layer, [x]) => {
      expectRank(layer, x, 3);
      return [...x];
    },
    params: none, macs: none, nonneg: ifInputs,
  },
  flatten: { arity: 'one', inferShape: (_, [x]) => [numel(x)], params: none, macs: none, nonneg: ifInputs },
  identity: { arity: 'one', inferShape: sameShape, params: none, macs: none, nonneg: ifInputs },
  concat: {
    arity: 'many',
    inferShape: (layer, inputs) => {
      const x = inputs[0];
      if (inputs.length < 1) layerFail(layer, 'has no inputs');
      for (const s of inputs) {
        expectRank(layer, s, 3);
        if (s[1] !== x[1] || s[2] !== x[2]) {
          layerFail(layer, `inputs differ in spatial size: ${inputs.map((s2) => `[${s2.join(', ')}]`).join(' vs ')}`);
        }
      }
      return [inputs.reduce((c, s) => c + s[0], 0), x[1], x[2]];
    },
    params: none, macs: none, nonneg: ifInputs,
  },
  add: {
    arity: 'two',
    inferShape: (layer, [a, b]) => {
      if (b.length !== a.length || b.some((d, i) => d !== a[i])) {
        layerFail(layer, `adds values of different shapes [${a.join(', ')}] and [${b.join(', ')}] (only equal shapes, no broadcasting)`);
      }
      return [...a];
    },
    // The sum of two non-negative values is non-negative; of anything else, unknown.
    params: none, macs: none, nonneg: ifInputs,
  },
  batchnorm: {
    arity: 'one',
    inferShape: (layer, [x]) => batchNormShape(layer, x),
    params: (l) => 2 * l.channels,
    macs: none,
    // Its shift may take any value below zero.
    nonneg: never,
  },
  clip: {
    arity: 'one', inferShape: sameShape, params: none, macs: none,
    // ReLU6 (min 0) always; a Clip to [min < 0, max >= 0] keeps non-negative inputs so.
    nonneg: (l) => (l.min >= 0 ? 'always' : l.max >= 0 ? 'if-inputs' : 'never'),
  },
  leakyrelu: {
    arity: 'one', inferShape: sameShape, params: none, macs: none,
    nonneg: (l) => (l.alpha >= 0 ? 'if-inputs' : 'never'),
  },
  pad: {
    arity: 'one',
    inferShape: (layer, [x]) => {
      expectRank(layer, x, 3);
      if (layer.pads.some((p) => !Number.isInteger(p) || p < 0)) layerFail(layer, `pads [${layer.pads.join(', ')}] must be whole numbers >= 0`);
      return [x[0], x[1] + layer.pads[0] + layer.pads[2], x[2] + layer.pads[1] + layer.pads[3]];
    },
    params: none, macs: none, nonneg: ifInputs,
  },
  // Modern CNNs (lrp-rules.md): a sigmoid or hard sigmoid lies in [0, 1]; tanh, SiLU and hard swish
  // keep the sign of their input (f(x) >= 0 exactly where x >= 0); x * g with g >= 0 keeps x's.
  sigmoid: { arity: 'one', inferShape: sameShape, params: none, macs: none, nonneg: always },
  hardsigmoid: { arity: 'one', inferShape: sameShape, params: none, macs: none, nonneg: always },
  tanh: { arity: 'one', inferShape: sameShape, params: none, macs: none, nonneg: ifInputs },
  silu: { arity: 'one', inferShape: sameShape, params: none, macs: none, nonneg: ifInputs },
  hardswish: {
    arity: 'one', inferShape: sameShape, params: none, macs: none,
    // x clamp(a x + b, 0, 1) >= 0 for x >= 0 whatever a and b.
    nonneg: ifInputs,
  },
  gate: { arity: 'two', inferShape: (layer, [x, g]) => gateShape(layer, x, g), params: none, macs: none, nonneg: ifInputs },
  scale: {
    // One factor for every value is a constant of a formula (attention's 1/sqrt(d)), not a
    // trainable parameter as a per-channel layer scale is.
    arity: 'one', inferShape: (layer, [x]) => scaleShape(layer, x), params: (l) => (l.scale.length > 1 ? l.scale.length : 0), macs: none,
    nonneg: (l) => (l.scale.every((v) => v >= 0) ? 'if-inputs' : 'never'),
  },
  // Transformer kinds: copies keep non-negativity; a softmax lies in (0, 1]; a constant or a product
  // of two activations may take any sign.
  slice: { arity: 'one', inferShape: (layer, [x]) => sliceShape(layer, x), params: none, macs: none, nonneg: ifInputs },
  gather: { arity: 'one', inferShape: (layer, [x]) => gatherShape(layer, x), params: none, macs: none, nonneg: ifInputs },
  concatconst: {
    arity: 'one', inferShape: (layer, [x]) => concatConstShape(layer, x), params: (l) => l.constant.length, macs: none,
    nonneg: (l) => (l.constant.every((v) => v >= 0) ? 'if-inputs' : 'never'),
  },
  addconst: { arity: 'one', inferShape: (layer, [x]) => addConstShape(layer, x), params: (l) => l.constant.length, macs: none, nonneg: never },
  matmul: {
    arity: 'two', inferShape: (layer, [a, b]) => matmulShape(layer, a, b), params: none,
    macs: (_, out, [a]) => numel(out) * a[a.length - 1],
    nonneg: ifInputs,
  },
  softmax: { arity: 'one', inferShape: sameShape, params: none, macs: none, nonneg: always },
  // ---- Channels-last and token layouts (transformers, ConvNeXt) ----
  transpose: { arity: 'one', inferShape: (layer, [x]) => transposeShape(layer, x), params: none, macs: none, nonneg: ifInputs },
  reshape: { arity: 'one', inferShape: (layer, [x]) => reshapeShape(layer, x), params: none, macs: none, nonneg: ifInputs },
  layernorm: {
    arity: 'one', inferShape: (layer, [x]) => layerNormShape(layer, x), params: (l) => 2 * l.scale.length, macs: none,
    // beta may take any value below zero.
    nonneg: never,
  },
  // GELU: x Phi(x) >= 0 exactly where x >= 0.
  gelu: { arity: 'one', inferShape: sameShape, params: none, macs: none, nonneg: ifInputs },
  // ---- end of the channels-last block ----
  // Import-only kinds (IMPORT_ONLY_KINDS): the canonizer folds them.
  bias: {
    arity: 'one',
    inferShape: (layer, [x]) => {
      const c = layer.lastAxis ? x[x.length - 1] : x[0];
      if (layer.bias.length !== c) layerFail(layer, `has ${layer.bias.length} values for ${c} ${layer.lastAxis ? 'features (last axis)' : 'channels'}`);
      checkFinite(layer, 'bias', layer.bias);
      return [...x];
    },
    params: (l) => l.bias.length, macs: none, nonneg: never,
  },
};

/** The graph facts of a layer's kind. */
export function graphKind(layer: { readonly kind: LayerKind }): GraphKind<Layer> {
  return GRAPH_KINDS[layer.kind] as GraphKind<Layer>;
}
