/**
 * The model IR: a feedforward CNN as a topologically ordered list of layers over named values.
 *
 * Shapes are per sample (no batch axis): `[C, H, W]` for feature maps, `[F]` for vectors, and
 * any row-major shape of rank 1 to 4 for the channels-last and token layouts of transformers and
 * ConvNeXt (`[H, W, C]` after a Transpose, `[T, D]` tokens). The batch size is chosen at run time,
 * so one imported model serves every batch size.
 *
 * Layers are the units LRP reasons about (a composite selects them), so the IR keeps ReLU,
 * Flatten and Identity as layers even though the executor runs them as views of their input.
 */

export type Shape = readonly number[];

export interface ValueInfo {
  readonly name: string;
  /** Per-sample shape, e.g. [3, 224, 224] or [1000]. */
  readonly shape: Shape;
}

/** [top, left, bottom, right], the order the kernels use (ONNX gives [t, l, b, r] as begins then ends). */
export type Pads4 = readonly [number, number, number, number];
export type Pair = readonly [number, number];

interface LayerBase {
  /** The ONNX node name (or a generated one); `name:` selectors match it. */
  readonly name: string;
  readonly inputs: readonly string[];
  readonly output: string;
}

export interface ConvLayer extends LayerBase {
  readonly kind: 'conv';
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: Pair; // [kh, kw]
  readonly stride: Pair;
  readonly pads: Pads4;
  readonly dilation: Pair;
  readonly groups: number;
  /** ONNX layout [outC, inC/groups, kh, kw]. */
  readonly weight: Float32Array;
  /** Length outC; zeros when the model has no bias. */
  readonly bias: Float32Array;
  /** False when the model declares no bias (the zero bias is then not a parameter of the model). */
  readonly hasBias?: boolean;
}

/**
 * y = W x + b over the last axis of its input: a flat input `[F]` (a classifier head), or any
 * per-sample rank (a Linear inside a transformer or ConvNeXt's channels-last MLP), where every
 * position of the leading axes is one row (rows = N x the product of the leading axes).
 */
export interface DenseLayer extends LayerBase {
  readonly kind: 'dense';
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Row-major [outFeatures, inFeatures]: y = W x + b. */
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  /** False when the model declares no bias (ONNX MatMul without an Add). */
  readonly hasBias?: boolean;
  /**
   * How the source file stores the weight: [out, in] (Gemm with transB = 1; the default, and
   * built-in models) or [in, out] (MatMul, Gemm with transB = 0). Files written in "the shape of
   * the node's weight" (learned patterns) follow it.
   */
  readonly sourceLayout?: 'out-in' | 'in-out';
}

export interface ReluLayer extends LayerBase { readonly kind: 'relu' }

export interface MaxPoolLayer extends LayerBase {
  readonly kind: 'maxpool';
  readonly kernel: Pair;
  readonly stride: Pair;
  readonly pads: Pads4;
  readonly dilation: Pair;
  readonly ceilMode: boolean;
}

export interface AvgPoolLayer extends LayerBase {
  readonly kind: 'avgpool';
  readonly kernel: Pair;
  readonly stride: Pair;
  readonly pads: Pads4;
  readonly ceilMode: boolean;
  /** ONNX count_include_pad: divide by the full window (true) or by its non-padding part. */
  readonly countIncludePad: boolean;
}

export interface GlobalAvgPoolLayer extends LayerBase { readonly kind: 'globalavgpool' }

export interface LrnLayer extends LayerBase {
  readonly kind: 'lrn';
  /** ONNX LRN: y = x / (bias + alpha / size * sum_{window} x^2) ^ beta, window across channels. */
  readonly size: number;
  readonly alpha: number;
  readonly beta: number;
  readonly bias: number;
}

/** Flatten or Reshape to [N, F]: a view on NCHW-contiguous memory. */
export interface FlattenLayer extends LayerBase { readonly kind: 'flatten' }

/** Dropout (inference) and Identity. */
export interface IdentityLayer extends LayerBase { readonly kind: 'identity' }

/** Concatenation along the channel axis (axis 1 in NCHW). */
export interface ConcatLayer extends LayerBase { readonly kind: 'concat' }

/** The sum of two activations of one shape: a skip connection (ONNX Add of two non-constants). */
export interface AddLayer extends LayerBase { readonly kind: 'add' }

/**
 * Inference BatchNorm over the channel axis (axis 0 of the per-sample shape: C of C×H×W, or the
 * features of a flat input): y = (x - mean) / sqrt(variance + epsilon) * scale + bias. The
 * canonizer folds it into the convolution or dense layer before it where that keeps the function.
 */
export interface BatchNormLayer extends LayerBase {
  readonly kind: 'batchnorm';
  readonly channels: number;
  /** gamma */
  readonly scale: Float32Array;
  /** beta */
  readonly bias: Float32Array;
  readonly mean: Float32Array;
  readonly variance: Float32Array;
  readonly epsilon: number;
}

/** y = min(max(x, min), max); ReLU6 is min 0, max 6. An absent bound is -Infinity or Infinity. */
export interface ClipLayer extends LayerBase {
  readonly kind: 'clip';
  readonly min: number;
  readonly max: number;
}

/** y = x for x > 0, alpha * x otherwise. */
export interface LeakyReluLayer extends LayerBase {
  readonly kind: 'leakyrelu';
  readonly alpha: number;
}

/** Zero padding of the spatial axes, where the canonizer could not merge it into the next window. */
export interface PadLayer extends LayerBase {
  readonly kind: 'pad';
  readonly pads: Pads4;
}

/**
 * An Add of a per-channel constant, as imported (a MatMul's bias, an exporter's split-off bias).
 * Only in imported graphs: the canonizer folds it into the linear layer before it.
 */
export interface BiasLayer extends LayerBase {
  readonly kind: 'bias';
  readonly bias: Float32Array;
  /**
   * The axis the values run along: axis 0 (a channel, the default) or the last axis (`[F]` added
   * to a MatMul's `[..., F]` output, a Linear's bias inside a transformer).
   */
  readonly lastAxis?: boolean;
}

/**
 * A Softmax. A trailing one is stripped by the canonizer (the output is the logits); one inside
 * the network (attention's A = Softmax(q k^T)) runs over the last axis of the sample.
 */
export interface SoftmaxLayer extends LayerBase {
  readonly kind: 'softmax';
  /**
   * False where the ONNX node normalises over anything but the last axis alone (another axis, or
   * before opset 13 a flattened range of axes): only a trailing one, which is stripped, may.
   */
  readonly lastAxis?: boolean;
}

/**
 * Element-wise activations of modern CNNs (lrp-rules.md, "Modern CNNs and vision transformers"):
 * LRP passes relevance through them; the gradient methods take their true derivative.
 * Sigmoid `1 / (1 + e^-x)`, Tanh, SiLU `x sigmoid(x)` (the canonizer fuses `Mul(x, Sigmoid(x))`).
 */
export interface SigmoidLayer extends LayerBase { readonly kind: 'sigmoid' }
export interface TanhLayer extends LayerBase { readonly kind: 'tanh' }
export interface SiluLayer extends LayerBase { readonly kind: 'silu' }

/** ONNX HardSigmoid: y = clamp(alpha x + beta, 0, 1). */
export interface HardSigmoidLayer extends LayerBase {
  readonly kind: 'hardsigmoid';
  readonly alpha: number;
  readonly beta: number;
}

/**
 * y = x clamp(alpha x + beta, 0, 1): ONNX HardSwish (alpha 1/6, beta 1/2), or `Mul(x, HardSigmoid(x))`
 * as exporters write it before opset 14, fused by the canonizer with the HardSigmoid's own alpha, beta.
 */
export interface HardSwishLayer extends LayerBase {
  readonly kind: 'hardswish';
  readonly alpha: number;
  readonly beta: number;
}

/**
 * y = x * g, an ONNX Mul of two activations where the gate g is computed from x (inputs [x, g]):
 * g has x's shape, or is C×1×1 against a C×H×W x and broadcast over positions (squeeze-and-
 * excitation). LRP holds g constant: all relevance goes to x, none into g's branch.
 */
export interface GateLayer extends LayerBase { readonly kind: 'gate' }

/**
 * y = x * scale[c] per channel (a scalar is broadcast): a Mul by a constant, e.g. layer scale.
 * The channel is axis 0, or with `lastAxis` the last axis (layer scale in channels-last layout).
 */
export interface ScaleLayer extends LayerBase {
  readonly kind: 'scale';
  readonly scale: Float32Array;
  readonly lastAxis?: boolean;
}

// ---- Channels-last and token layouts (transformers, ConvNeXt) -----------------------------------

/**
 * A permutation of the per-sample axes (rank up to 4; the batch axis stays first): output axis k
 * is input axis perm[k]. ONNX's perm includes the batch axis; the importer drops it.
 */
export interface TransposeLayer extends LayerBase {
  readonly kind: 'transpose';
  readonly perm: readonly number[];
}

/** A Reshape of each sample that is not a flatten: the same row-major data under a new per-sample shape. */
export interface ReshapeLayer extends LayerBase {
  readonly kind: 'reshape';
  readonly shape: Shape;
}

/**
 * LayerNorm over the last axis (n values): y = (x - mean) / sqrt(var + epsilon) * scale + bias,
 * var the biased variance. ONNX LayerNormalization with axis -1, or its decomposed form.
 */
export interface LayerNormLayer extends LayerBase {
  readonly kind: 'layernorm';
  /** gamma, length n */
  readonly scale: Float32Array;
  /** beta, length n */
  readonly bias: Float32Array;
  readonly epsilon: number;
}

/**
 * GELU, x Phi(x): `none` the exact (Erf) form, `tanh` the approximation
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 */
export interface GeluLayer extends LayerBase {
  readonly kind: 'gelu';
  readonly approximate: 'none' | 'tanh';
}

/**
 * Transformer kinds (lrp-rules.md, "Modern CNNs and vision transformers"; src/lrp/ops/attention.ts
 * has the rules). Axes are of the per-sample shape (0 is the first axis after the batch).
 */
/** `length` consecutive entries of `axis` from `start` (one output of an ONNX Split or Slice). */
export interface SliceLayer extends LayerBase {
  readonly kind: 'slice';
  readonly axis: number;
  readonly start: number;
  readonly length: number;
}

/** Entry `index` of `axis`, the axis removed (ONNX Gather of one scalar index: ViT's class token). */
export interface GatherLayer extends LayerBase {
  readonly kind: 'gather';
  readonly axis: number;
  readonly index: number;
}

/**
 * A constant concatenated with the activation along `axis`, before or after it (ViT's class token,
 * expanded over the batch). LRP drops the constant's share of relevance.
 */
export interface ConcatConstLayer extends LayerBase {
  readonly kind: 'concatconst';
  readonly axis: number;
  /** The constant's per-sample shape: the input's, but for `axis`. */
  readonly constShape: readonly number[];
  /** Row-major values of constShape, the same for every sample. */
  readonly constant: Float32Array;
  readonly before: boolean;
}

/** y = x + c, c a constant of the sample's shape (a positional embedding), the same for every sample. */
export interface AddConstLayer extends LayerBase {
  readonly kind: 'addconst';
  readonly constant: Float32Array;
}

/**
 * A batched matrix product of two activations (inputs [a, b]): a is [...B, M, K], b [...B, K, N],
 * the same leading axes B (attention's heads), out [...B, M, N]. Attention's q k^T and A v.
 */
export interface MatMulLayer extends LayerBase { readonly kind: 'matmul' }

export type Layer =
  | ConvLayer
  | DenseLayer
  | ReluLayer
  | MaxPoolLayer
  | AvgPoolLayer
  | GlobalAvgPoolLayer
  | LrnLayer
  | FlattenLayer
  | IdentityLayer
  | ConcatLayer
  | AddLayer
  | BatchNormLayer
  | ClipLayer
  | LeakyReluLayer
  | PadLayer
  | BiasLayer
  | SoftmaxLayer
  | SigmoidLayer
  | TanhLayer
  | SiluLayer
  | HardSigmoidLayer
  | HardSwishLayer
  | GateLayer
  | ScaleLayer
  | SliceLayer
  | GatherLayer
  | ConcatConstLayer
  | AddConstLayer
  | MatMulLayer
  | TransposeLayer
  | ReshapeLayer
  | LayerNormLayer
  | GeluLayer;

export type LayerKind = Layer['kind'];
/** Kinds that exist only between import and canonization; no executor runs them. */
export const IMPORT_ONLY_KINDS: ReadonlySet<LayerKind> = new Set(['bias']);
export type LinearLayer = ConvLayer | DenseLayer;

export interface Graph {
  readonly name: string;
  readonly input: ValueInfo;
  /** Every value the layers produce, by name, with its per-sample shape. */
  readonly values: ReadonlyMap<string, ValueInfo>;
  /** Topological order: every layer's inputs are produced before it. */
  readonly layers: readonly Layer[];
  /** The value explained and predicted (logits: the canonizer strips a trailing Softmax). */
  readonly output: string;
  /** Every graph output the model declared, for `--output NAME`. */
  readonly outputs: readonly string[];
}

export function isLinear(layer: Layer): layer is LinearLayer {
  return layer.kind === 'conv' || layer.kind === 'dense';
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function valueInfo(graph: Graph, name: string): ValueInfo {
  if (name === graph.input.name) return graph.input;
  const v = graph.values.get(name);
  if (!v) throw new Error(`graph ${graph.name}: no value named '${name}'`);
  return v;
}
