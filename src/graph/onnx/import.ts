/**
 * ONNX → IR: converts, and only converts. Each ONNX node becomes the IR layer that computes the
 * same function (a BatchNormalization a `batchnorm` layer, an Add of a constant a `bias` layer, a
 * Softmax a `softmax` layer); rewriting the graph for explaining (folding BatchNorm and biases into
 * the layer before them, stripping the trailing Softmax, merging zero padding into the next window)
 * is the canonizer's job (src/graph/canonize/), a separate stage `lrp inspect` reports on.
 *
 * What does happen here is constant folding, because the IR holds no tensors but weights:
 * `Constant` nodes, Identity/Reshape of constants and the shape arithmetic exporters emit around a
 * Reshape (Shape, Gather, Unsqueeze, Concat, ...; src/graph/onnx/constant-fold.ts) are evaluated
 * while converting, and `ImportStats` says how many nodes that took.
 *
 * Decisions where ONNX leaves room:
 * - An Add of two activations is a skip connection (`add`): equal shapes only, no broadcasting.
 *   An Add with one constant operand is a `bias` if the constant is per channel (or a scalar).
 * - Clip's bounds may come from attributes (opset < 11) or constant inputs; an absent bound is
 *   +-Infinity. Clip, LeakyRelu and BatchNormalization are layers of their own kinds.
 * - Pad: only `constant` mode with value 0, on the spatial axes, pads >= 0.
 * - Mul (lrp-rules.md, "Modern CNNs and vision transformers"): of an activation by a constant (a
 *   scalar or one value per channel) it is a `scale` (layer scale); of two activations it is a
 *   `gate` when one factor is computed from the other (SiLU `Mul(x, Sigmoid(x))`, HardSwish
 *   `Mul(x, HardSigmoid(x))`, squeeze-and-excitation `Mul(g, x)`), that one the gate g, whatever
 *   the operand order; the canonizer fuses the first two into one activation (fuse-gated-activations).
 *   Two independent factors (no rule in lrp-rules.md gives them one), a value times itself, and a
 *   gate of any other shape than x's or C×1×1 are refused.
 * - MatMul by a constant weight acts on the last axis of an input of any rank (a Linear inside a
 *   transformer or ConvNeXt's channels-last MLP; Gemm stays 2-D), and an Add or Mul of a constant
 *   [F] or [1, ..., F] whose F is the last axis of a rank-2-or-more activation is a `bias` or
 *   `scale` along that last axis (numpy broadcasting; fold-bias joins the bias to the MatMul).
 * - Transpose: any permutation of the axes after the batch (perm[0] = 0); Reshape: the batch axis
 *   kept, the rest any shape of the same size (a `reshape` view; a flatten stays `flatten`).
 * - A moved batch (torch's nn.MultiheadAttention, batch_first or not: seq-first (L, N, E) inside,
 *   the heads merged with the batch as (L, N*H, hd), rows (L*N, E) into out_proj): the IR stays per
 *   sample, batch first physically, and a `Layout` per ONNX value (batch-layout.ts) says where ONNX
 *   sees the batch (alone, or merged N*k / k*N with one neighbour) and which per-sample axis each
 *   other ONNX axis is. A Transpose moving the batch is an `identity` relabelling, or a per-sample
 *   `transpose` where the per-sample order changes; a Reshape whose target holds the batch (a NaN
 *   from folded Shape arithmetic, wherever it sits) is a per-sample `reshape` view when the batch
 *   stays on the same boundary of each sample's data, else refused (it would mix samples). Over a
 *   moved batch only these map: MatMul/Gemm by a constant over a last axis holding no batch (a
 *   `dense` over the last axis, however many rows ONNX sees), MatMul of two activations batched over
 *   the same leading ONNX axes (N*H: a per-sample `matmul` over H), Softmax over the last axis,
 *   Split/Slice/Gather along an axis holding no batch, Add of two activations laid out alike, Add/
 *   Mul/Div by a scalar or a last-axis vector, and element-wise activations; any other operator
 *   reading a moved value is refused naming the node and ONNX's view (e.g. [N*2, 17, 8]), and so is
 *   a graph output whose batch is not first. Shape of a moved value reads BATCH where its axis holds
 *   the batch, merged or not (so torch's N*H arithmetic folds to NaN, which the Reshape resolves).
 * - LayerNormalization over the last axis only (ConvNeXt normalises channels between Transposes);
 *   the decomposed form torch writes before opset 17 becomes the same `layernorm` layer
 *   (decompositions.ts), named after its last node.
 * - Transformers (lrp-rules.md; LXT's conventions where it is silent): Split, Slice (step 1) and
 *   Gather (one constant index) of an activation along an axis after the batch are `slice` and
 *   `gather` layers, a Split output `k` named `NODE:k`; a Concat of an activation with constants
 *   (ViT's class token, expanded over the batch by folded shape arithmetic) is a `concatconst`, one
 *   layer per constant; an Add of a constant spanning the whole sample (a positional embedding,
 *   batch axis 1) that is not a bias is an `addconst`; a MatMul of two activations is a `matmul`
 *   (attention's q k^T and A v: the same leading axes, no broadcasting); a Softmax inside the
 *   network must be over the last axis.
 * - Div of an activation by a constant is a `scale` by 1 / c (attention's 1/sqrt(d)), except where it
 *   starts GELU's Erf formula.
 * - Sigmoid, Tanh, HardSigmoid (ONNX defaults alpha 0.2, beta 0.5) and HardSwish (opset 14; alpha
 *   1/6, beta 1/2) are layers of their own kinds. The `Swish` op is not imported: it exists from
 *   opset 24, past the opsets this importer accepts (exporters write SiLU as Mul(x, Sigmoid(x))).
 */
import { GraphBuilder } from '../builder.ts';
import type { Graph, Pads4, Pair } from '../ir.ts';
import { numel } from '../ir.ts';
import { canonize } from '../canonize/index.ts';
import {
  describeLayout, dropAxis, isStandard, lastAxisIsLastSample, onnxDims, reshapeLayout, sameLayout, sampleAxisOf, standardLayout,
  transposeLayout, type Layout,
} from './batch-layout.ts';
import { BATCH, foldConstantNode, isConstantOp } from './constant-fold.ts';
import { matchGelu, matchLayerNorm, type PatternGraph } from './decompositions.ts';
import { dataTypeName, decodeModel, type DecodeOptions, type OnnxModel, type OnnxNode, type OnnxTensor } from './model.ts';

export const SUPPORTED_OPS = [
  'Add', 'AveragePool', 'BatchNormalization', 'Clip', 'Concat', 'Constant', 'Conv', 'Dropout', 'Flatten', 'Gemm',
  'GlobalAveragePool', 'HardSigmoid', 'HardSwish', 'Identity', 'LeakyRelu', 'LRN', 'MatMul', 'MaxPool',
  'Mul (by a constant, or a gate computed from its other factor)', 'Pad', 'Relu', 'Reshape', 'Sigmoid', 'Softmax', 'Sum', 'Tanh',
  'Transpose (of the axes after the batch; one moving the batch as torch attention does, through the ops that follow it)', 'LayerNormalization (over the last axis; also its ReduceMean/Sub/Pow/Sqrt/Div form)',
  'Gelu (also its Erf and Tanh formulas)',
  'Div (by a constant)',
  'Split, Slice, Gather (of an activation), MatMul of two activations, Concat with a constant',
  'ReduceMean (over H and W of a feature map)',
  'and on constants (shape arithmetic): Cast, ConstantOfShape, Div, Equal, Expand, Gather, Mul, Shape, Slice, Squeeze, Sub, Unsqueeze, Where',
] as const;

export const OPSET_RANGE: Pair = [7, 21];

export interface ImportOptions extends DecodeOptions {
  /** The graph output to predict and explain (`--output NAME`); the first output by default. */
  output?: string;
}

/** What the importer folded away rather than converted, for `lrp inspect`. */
export interface ImportStats {
  /** Nodes evaluated at import because every input was constant, by op type. */
  readonly foldedConstants: ReadonlyMap<string, number>;
}

export interface ConvertedModel {
  readonly graph: Graph;
  readonly stats: ImportStats;
}

/** The ONNX model as an IR graph, before canonization. */
export function convertOnnx(bytes: Uint8Array, opts: ImportOptions): ConvertedModel {
  return convertModel(decodeModel(bytes, opts), opts);
}

class Converter {
  private readonly constants = new Map<string, OnnxTensor>();
  private readonly consumers = new Map<string, OnnxNode[]>();
  private readonly folded = new Map<string, number>();
  private readonly producers = new Map<string, OnnxNode>();
  /** Nodes a recognised decomposition (decompositions.ts) replaced: converted as part of it. */
  private readonly replaced = new Set<OnnxNode>();
  private opset = 0;
  private builder!: GraphBuilder;
  /** ONNX's view of the values whose batch axis a Transpose or Reshape moved (batch-layout.ts); absent: batch first. */
  private readonly layouts = new Map<string, Layout>();
  /** Where the node being converted sits in the file, for the unsupported-operator message. */
  private at = '';

  constructor(private readonly model: OnnxModel, private readonly source: string) {
    for (const [name, t] of model.initializers) this.constants.set(name, t);
    for (const node of model.nodes) {
      for (const i of node.inputs) if (i) (this.consumers.get(i) ?? this.consumers.set(i, []).get(i)!).push(node);
      for (const o of node.outputs) if (o) this.producers.set(o, node);
    }
  }

  convert(requested: string | undefined): ConvertedModel {
    const { model } = this;
    const opset = (this.opset = model.opsets.get('') ?? 0);
    if (opset < OPSET_RANGE[0] || opset > OPSET_RANGE[1]) {
      throw new Error(`${this.source}: ONNX opset ${opset} is not supported (supported: ${OPSET_RANGE[0]} to ${OPSET_RANGE[1]})`);
    }
    const input = model.inputs.find((i) => !this.constants.has(i.name));
    if (!input) throw new Error(`${this.source}: the graph has no input`);
    if (!input.dims || input.dims.length < 2) {
      throw new Error(`${this.source}: input '${input.name}' has no usable shape (expected N×C×H×W or N×F)`);
    }
    const perSample = input.dims.slice(1);
    if (perSample.some((d) => typeof d !== 'number' || d <= 0)) {
      throw new Error(`${this.source}: input '${input.name}' has symbolic or unknown dimensions [${input.dims.join(', ')}] beyond the batch`);
    }
    this.builder = new GraphBuilder(model.graphName || this.source, input.name, perSample as number[]);

    for (const [k, node] of model.nodes.entries()) {
      try {
        this.at = `node ${k + 1} of ${model.nodes.length}`;
        this.convertNode(node);
      } catch (e) {
        const msg = (e as Error).message;
        throw new Error(msg.startsWith(this.source) ? msg : `${this.source}: node '${nodeName(node)}' (${node.opType}): ${msg}`);
      }
    }

    const outputs = model.outputs.map((o) => o.name);
    if (outputs.length === 0) throw new Error(`${this.source}: the graph declares no output`);
    const chosen = requested ?? outputs[0];
    if (!outputs.includes(chosen) && !this.builder.has(chosen)) {
      throw new Error(`${this.source}: no output named '${chosen}' (outputs: ${outputs.join(', ')})`);
    }
    if (!this.builder.has(chosen) || chosen === this.builder.inputName) {
      // Declared, but no node produces it (or it is a constant or the input itself).
      throw new Error(`${this.source}: output '${chosen}' is not computed by any supported node of the graph`);
    }
    if (this.moved(chosen)) {
      throw new Error(`${this.source}: output '${chosen}' has its batch axis moved (ONNX view ${this.showView(chosen)}); only a batch-first output is supported`);
    }
    const produced = outputs.filter((o) => this.builder.has(o) && o !== this.builder.inputName && !this.moved(o));
    return { graph: this.builder.build(chosen, produced), stats: { foldedConstants: this.folded } };
  }

  private layout(value: string): Layout {
    return this.layouts.get(value) ?? standardLayout(this.builder.shapeOf(value).length);
  }

  private moved(value: string): boolean {
    return this.layouts.has(value);
  }

  private onnxRank(value: string): number {
    return this.layout(value).groups.length;
  }

  private showView(value: string): string {
    return describeLayout(this.layout(value), this.builder.shapeOf(value));
  }

  private setLayout(value: string, l: Layout): void {
    if (isStandard(l)) this.layouts.delete(value);
    else this.layouts.set(value, l);
  }

  private value(name: string): string {
    if (this.constants.has(name)) throw new Error(`input '${name}' is a constant where an activation is expected`);
    return name;
  }

  private constant(node: OnnxNode, index: number, what: string): OnnxTensor {
    const name = node.inputs[index];
    const t = name ? this.constants.get(name) : undefined;
    if (!t) throw new Error(`${what} ('${name ?? ''}') must be a constant initializer`);
    return t;
  }

  private optionalConstant(node: OnnxNode, index: number, what: string): OnnxTensor | null {
    return node.inputs[index] ? this.constant(node, index, what) : null;
  }

  /** Outputs past the first must be unused (BatchNormalization's training statistics, Dropout's mask). */
  private onlyFirstOutput(node: OnnxNode, what: string): void {
    if (node.outputs.slice(1).some((o) => o && this.consumers.has(o))) throw new Error(`the ${what} output is not supported`);
  }

  private fold(node: OnnxNode): boolean {
    if (!isConstantOp(node.opType)) return false;
    const inputs = node.inputs.map((i) => (i ? this.constants.get(i) ?? null : null));
    const activationInputs = node.inputs.filter((i, k) => i && !inputs[k]);
    // Shape reads only an activation's shape; every other op folds when all its inputs are constants.
    if (node.opType === 'Shape' ? false : activationInputs.length > 0) return false;
    const t = foldConstantNode(node, inputs, this.opset, (v) => onnxDims(this.layout(v), this.builder.shapeOf(v)));
    this.constants.set(node.outputs[0], { ...t, name: node.outputs[0] });
    this.folded.set(node.opType, (this.folded.get(node.opType) ?? 0) + 1);
    return true;
  }

  private convertNode(node: OnnxNode): void {
    if (node.domain && node.domain !== 'ai.onnx') {
      throw unsupported(node, this.at);
    }
    if (this.replaced.has(node)) return;
    if (this.fold(node)) return;
    const movedIn = node.inputs.find((i) => i && this.moved(i));
    if (movedIn === undefined) return this.convertOp(node);
    // The batch axis is not first: only the operators that map through a layout (batch-layout.ts).
    if (!FOLLOWS_LAYOUT.has(node.opType)) {
      throw new Error(`reads '${movedIn}', whose batch axis an earlier Transpose or Reshape moved (ONNX view ${this.showView(movedIn)}); `
        + `${node.opType} is supported there only with the batch first (with a moved batch: ${[...FOLLOWS_LAYOUT].join(', ')})`);
    }
    const inLayout = this.layout(movedIn);
    this.convertOp(node);
    // Element-wise and last-axis operators keep their input's layout; Transpose, Reshape and Gather set their own.
    for (const o of node.outputs) if (o && this.builder.has(o) && !this.layouts.has(o) && !LAYOUT_SETTERS.has(node.opType)) this.setLayout(o, inLayout);
  }

  private convertOp(node: OnnxNode): void {
    const name = nodeName(node);
    const out = node.outputs[0];
    const x = () => this.value(node.inputs[0]);
    switch (node.opType) {
      case 'Conv':
        return this.convertConv(node, name);
      case 'Gemm':
        return this.convertDense(node, name);
      case 'MatMul':
        if (!this.constants.has(node.inputs[1])) return this.convertMatMul(node, name);
        return this.convertDense(node, name);
      case 'Split':
        return this.convertSplit(node, name);
      case 'Slice':
        return this.convertSlice(node, name);
      case 'Gather':
        return this.convertGather(node, name);
      case 'Relu':
        this.builder.add({ kind: 'relu', name, inputs: [x()], output: out });
        return;
      case 'LeakyRelu': {
        const alpha = floatAttr(node, 'alpha', 0.01);
        if (!(alpha >= 0)) throw new Error(`alpha ${alpha} is not supported (only alpha >= 0)`);
        this.builder.add({ kind: 'leakyrelu', name, inputs: [x()], output: out, alpha });
        return;
      }
      case 'Clip':
        return this.convertClip(node, name);
      case 'Sigmoid':
        this.builder.add({ kind: 'sigmoid', name, inputs: [x()], output: out });
        return;
      case 'Tanh':
        this.builder.add({ kind: 'tanh', name, inputs: [x()], output: out });
        return;
      case 'HardSigmoid':
        this.builder.add({ kind: 'hardsigmoid', name, inputs: [x()], output: out, alpha: floatAttr(node, 'alpha', 0.2), beta: floatAttr(node, 'beta', 0.5) });
        return;
      case 'HardSwish':
        this.builder.add({ kind: 'hardswish', name, inputs: [x()], output: out, alpha: 1 / 6, beta: 0.5 });
        return;
      case 'Mul':
        return this.convertMul(node, name);
      case 'BatchNormalization':
        return this.convertBatchNorm(node, name);
      case 'Add':
      case 'Sum':
        return this.convertAdd(node, name);
      case 'Pad':
        return this.convertPad(node, name);
      case 'MaxPool': {
        this.onlyFirstOutput(node, 'Indices');
        if (intAttr(node, 'storage_order', 0) !== 0) throw new Error('storage_order=1 is not supported');
        const win = this.window(node, x());
        this.builder.add({ kind: 'maxpool', name, inputs: [x()], output: out, ...win, ceilMode: intAttr(node, 'ceil_mode', 0) === 1 });
        return;
      }
      case 'AveragePool': {
        const win = this.window(node, x());
        if (win.dilation[0] !== 1 || win.dilation[1] !== 1) throw new Error('dilated average pooling is not supported');
        this.builder.add({
          kind: 'avgpool', name, inputs: [x()], output: out, kernel: win.kernel, stride: win.stride, pads: win.pads,
          ceilMode: intAttr(node, 'ceil_mode', 0) === 1, countIncludePad: intAttr(node, 'count_include_pad', 0) === 1,
        });
        return;
      }
      case 'GlobalAveragePool':
        this.builder.add({ kind: 'globalavgpool', name, inputs: [x()], output: out });
        return;
      case 'LRN': {
        const size = intAttr(node, 'size', 0);
        if (size <= 0) throw new Error('needs a positive size');
        this.builder.add({
          kind: 'lrn', name, inputs: [x()], output: out, size,
          alpha: floatAttr(node, 'alpha', 1e-4), beta: floatAttr(node, 'beta', 0.75), bias: floatAttr(node, 'bias', 1),
        });
        return;
      }
      case 'Flatten': {
        const shape = this.builder.shapeOf(x());
        const axis = intAttr(node, 'axis', 1);
        if (axis !== 1 && !(axis === -shape.length)) {
          throw new Error(`axis ${axis} would fold the batch into the features; only axis 1 is supported`);
        }
        this.builder.add({ kind: 'flatten', name, inputs: [x()], output: out });
        return;
      }
      case 'Reshape':
        return this.convertReshape(node, name);
      case 'Transpose':
        return this.convertTranspose(node, name);
      case 'LayerNormalization':
        return this.convertLayerNorm(node, name);
      case 'Gelu': {
        const approximate = node.attributes.get('approximate')?.s ?? 'none';
        if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`approximate '${approximate}' is not supported (none, tanh)`);
        this.builder.add({ kind: 'gelu', name, inputs: [x()], output: out, approximate });
        return;
      }
      case 'Div': {
        // GELU's formula starts with Div(x, sqrt 2); any other Div of an activation by a constant is a scale by 1 / c.
        if (this.tryGelu(node)) return;
        const c = this.constants.get(node.inputs[1]);
        if (!c) throw new Error('divides by an activation: only a division by a constant is supported');
        if (Array.prototype.some.call(c.data, (v: number) => v === 0)) throw new Error(`divides by the constant '${c.name}', which holds a 0`);
        this.addScale(name, x(), out, c, (v) => 1 / v);
        return;
      }
      case 'Pow':
        // Only as the start of GELU's tanh formula, Pow(x, 3).
        if (this.tryGelu(node)) return;
        throw unsupported(node, this.at);
      case 'ReduceMean': {
        // The start of LayerNorm's decomposition, or a mean over a feature map's H and W
        // (ShuffleNet's and others' `x.mean([2, 3])`): a global average pool, flattened unless keepdims.
        const d = matchLayerNorm(this.patternGraph(), node);
        if (d) {
          for (const n of d.nodes) this.replaced.add(n);
          this.addLayerNorm(nodeName(d.nodes[d.nodes.length - 1]), d.x, d.output, d.scale, d.bias, d.epsilon);
          return;
        }
        return this.convertSpatialMean(node, name);
      }
      case 'Dropout':
        this.onlyFirstOutput(node, 'mask');
        this.builder.add({ kind: 'identity', name, inputs: [x()], output: out });
        return;
      case 'Identity':
        this.builder.add({ kind: 'identity', name, inputs: [x()], output: out });
        return;
      case 'Concat': {
        if (node.inputs.some((i) => this.constants.has(i))) return this.convertConcatConst(node, name);
        const inputs = node.inputs.map((i) => this.value(i));
        const rank = this.builder.shapeOf(inputs[0]).length + 1;
        const axis = intAttr(node, 'axis', 1);
        if (axis !== 1 && axis !== 1 - rank) throw new Error(`concatenation along axis ${axis} is not supported (only channels, axis 1)`);
        this.builder.add({ kind: 'concat', name, inputs, output: out });
        return;
      }
      case 'Softmax': {
        // Whatever its axis, the canonizer strips it at the end of the network; inside, it runs
        // over the last axis only (before opset 13 an axis a normalises the flattened axes a..end).
        const rank = this.onnxRank(x());
        const a = intAttr(node, 'axis', this.opset >= 13 ? -1 : 1);
        const lastAxis = (a < 0 ? a + rank : a) === rank - 1;
        if (this.moved(x()) && !(lastAxis && lastAxisIsLastSample(this.layout(x()), this.builder.shapeOf(x()).length))) {
          throw new Error(`a softmax over axis ${a} of ONNX view ${this.showView(x())} is not supported (with a moved batch, only over the last axis)`);
        }
        this.builder.add({ kind: 'softmax', name, inputs: [x()], output: out, ...(lastAxis ? {} : { lastAxis: false }) });
        return;
      }
      default:
        throw unsupported(node, this.at);
    }
  }

  private convertAdd(node: OnnxNode, name: string): void {
    const out = node.outputs[0];
    if (node.inputs.length !== 2) throw new Error(`adds ${node.inputs.length} values; only two are supported`);
    const [a, b] = node.inputs;
    const ca = this.constants.get(a);
    const cb = this.constants.get(b);
    if (!ca && !cb) {
      if (!sameLayout(this.layout(a), this.layout(b))) {
        throw new Error(`adds '${a}' (ONNX view ${this.showView(a)}) and '${b}' (${this.showView(b)}), whose batch axes sit differently`);
      }
      this.builder.add({ kind: 'add', name, inputs: [a, b], output: out });
      return;
    }
    const [x, c] = ca ? [b, ca] : [a, cb!];
    const shape = this.builder.shapeOf(x);
    if (this.moved(x)) {
      this.builder.add({ kind: 'bias', name, inputs: [x], output: out, bias: this.lastAxisConstant(x, c, (v) => v), lastAxis: true });
      return;
    }
    if (isLastAxisVector(c, shape)) {
      this.builder.add({ kind: 'bias', name, inputs: [x], output: out, bias: toF32(c.data).slice(), lastAxis: true });
      return;
    }
    const constant = wholeSampleConstant(c, shape);
    if (constant) {
      this.builder.add({ kind: 'addconst', name, inputs: [x], output: out, constant });
      return;
    }
    const bias = broadcastBias(c, shape[0], shape.length + 1, `the constant '${c.name}'`);
    this.builder.add({ kind: 'bias', name, inputs: [x], output: out, bias });
  }

  /**
   * A constant broadcast onto `x`, whose batch axis is moved: one value, or one per entry of a last
   * ONNX axis that is the last per-sample axis ([F] or [1, ..., F]); its values along that axis, `f` applied.
   */
  private lastAxisConstant(x: string, c: OnnxTensor, f: (v: number) => number): Float32Array {
    const shape = this.builder.shapeOf(x);
    const last = shape[shape.length - 1];
    const fits = c.dims.length <= this.onnxRank(x) && (c.data.length === 1
      || (lastAxisIsLastSample(this.layout(x), shape.length) && c.data.length === last && c.dims[c.dims.length - 1] === last));
    if (!fits) {
      throw new Error(`the constant '${c.name}' of shape [${c.dims.join(', ')}] broadcast onto ONNX view ${this.showView(x)} is not supported `
        + '(with a moved batch axis, only a scalar or a vector along a last axis that holds no batch)');
    }
    return Float32Array.from({ length: last }, (_, i) => f(c.data[c.data.length === 1 ? 0 : i]));
  }

  /** An axis of the ONNX tensor (batch included) as a per-sample axis; the batch axis is refused. */
  private sampleAxis(input: string, axis: number, what: string): number {
    const rank = this.onnxRank(input);
    const a = axis < 0 ? axis + rank : axis;
    if (!(Number.isInteger(a) && a >= 0 && a < rank)) throw new Error(`${what} ${axis} is out of range for a rank-${rank} input`);
    const s = sampleAxisOf(this.layout(input), a);
    if (typeof s === 'string') {
      throw new Error(this.moved(input)
        ? `${what} ${axis} of ONNX view ${this.showView(input)} ${s} (only the axes that are one per-sample axis are supported)`
        : `${what} ${axis} is the batch axis (only the axes after it are supported)`);
    }
    return s;
  }

  private convertSpatialMean(node: OnnxNode, name: string): void {
    const x = this.value(node.inputs[0]);
    const shape = this.builder.shapeOf(x);
    // Axes as an attribute before opset 18, as an optional input from 18.
    const given = this.opset >= 18
      ? (node.inputs[1] ? Array.from(this.constant(node, 1, 'axes').data) : undefined)
      : node.attributes.get('axes')?.ints;
    const axes = given?.map((a) => this.sampleAxis(x, Number(a), 'axis')).sort((a, b) => a - b);
    if (shape.length !== 3 || !axes || axes.length !== 2 || axes[0] !== 1 || axes[1] !== 2) {
      throw new Error(`a mean over axes [${given?.join(', ') ?? 'all'}] of a [${shape.join(', ')}] input is not supported `
        + '(only over H and W of an N×C×H×W map, or as part of a LayerNorm over the last axis)');
    }
    const out = node.outputs[0];
    if (intAttr(node, 'keepdims', 1) === 1) {
      this.builder.add({ kind: 'globalavgpool', name, inputs: [x], output: out });
      return;
    }
    this.builder.add({ kind: 'globalavgpool', name: `${name}:pool`, inputs: [x], output: `${out}:pool` });
    this.builder.add({ kind: 'flatten', name, inputs: [`${out}:pool`], output: out });
  }

  private convertMatMul(node: OnnxNode, name: string): void {
    const [a, b] = node.inputs.map((i) => this.value(i));
    if (this.moved(a) || this.moved(b)) {
      // Per sample, a product batched over the leading axes: both operands' leading ONNX axes
      // (the batch among them, N*H for torch's heads) alike, the two matrix axes per-sample axes.
      const la = this.layout(a);
      const lb = this.layout(b);
      const r = la.groups.length;
      const matrixAxes = (l: Layout) => l.groups.slice(-2).every((g) => g.length === 1 && g[0] !== 'N');
      if (lb.groups.length !== r || r < 3 || !matrixAxes(la) || !matrixAxes(lb) || !sameLayout({ groups: la.groups.slice(0, -2) }, { groups: lb.groups.slice(0, -2) })) {
        throw new Error(`multiplies ONNX views ${this.showView(a)} and ${this.showView(b)}: with a moved batch axis only products batched `
          + 'over the same leading axes (the batch among them) are supported');
      }
    }
    this.builder.add({ kind: 'matmul', name, inputs: [a, b], output: node.outputs[0] });
  }

  private convertSplit(node: OnnxNode, name: string): void {
    const x = this.value(node.inputs[0]);
    const axis = this.sampleAxis(x, intAttr(node, 'axis', 0), 'axis');
    const n = this.builder.shapeOf(x)[axis];
    const outputs = node.outputs;
    const given = this.opset >= 13
      ? (node.inputs[1] ? Array.from(this.constant(node, 1, 'the split sizes').data) : undefined)
      : node.attributes.get('split')?.ints;
    let sizes: number[];
    if (given) {
      sizes = given;
    } else {
      // Equal parts (opset 18's num_outputs: the last one smaller when they do not divide).
      const part = Math.ceil(n / outputs.length);
      sizes = outputs.map((_, k) => Math.max(0, Math.min(part, n - k * part)));
    }
    if (sizes.length !== outputs.length || sizes.some((d) => !(Number.isInteger(d) && d >= 1)) || sizes.reduce((p, q) => p + q, 0) !== n) {
      throw new Error(`split sizes [${sizes.join(', ')}] do not divide axis ${axis + 1} of ${n} entries into ${outputs.length} parts`);
    }
    let start = 0;
    outputs.forEach((output, k) => {
      if (output) this.builder.add({ kind: 'slice', name: `${name}:${k}`, inputs: [x], output, axis, start, length: sizes[k] });
      start += sizes[k];
    });
  }

  private convertSlice(node: OnnxNode, name: string): void {
    let value = this.value(node.inputs[0]);
    const list = (i: number, attr: string): number[] | undefined => (this.opset >= 10
      ? (node.inputs[i] ? Array.from(this.constant(node, i, `input ${i}`).data) : undefined)
      : node.attributes.get(attr)?.ints);
    const starts = list(1, 'starts');
    const ends = list(2, 'ends');
    if (!starts || !ends || starts.length !== ends.length) throw new Error('needs starts and ends of one length');
    const axes = list(3, 'axes') ?? starts.map((_, i) => i);
    const steps = (this.opset >= 10 ? list(4, 'steps') : undefined) ?? starts.map(() => 1);
    const parts = axes.map((ax, i) => {
      if (steps[i] !== 1) throw new Error(`step ${steps[i]} is not supported (only 1)`);
      const a = this.sampleAxis(value, ax, 'axis');
      const n = this.builder.shapeOf(value)[a];
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
      return { a, s: clamp(starts[i]), e: clamp(ends[i]), n };
    });
    const kept = parts.filter((p) => !(p.s === 0 && p.e === p.n));
    if (kept.length === 0) {
      this.builder.add({ kind: 'identity', name, inputs: [value], output: node.outputs[0] });
      return;
    }
    kept.forEach((p, k) => {
      if (p.e <= p.s) throw new Error(`the slice [${p.s}, ${p.e}) of axis ${p.a + 1} is empty`);
      const output = k === kept.length - 1 ? node.outputs[0] : `${node.outputs[0]}:${k}`;
      this.builder.add({ kind: 'slice', name: kept.length > 1 ? `${name}:${k}` : name, inputs: [value], output, axis: p.a, start: p.s, length: p.e - p.s });
      value = output;
    });
  }

  private convertGather(node: OnnxNode, name: string): void {
    const x = this.value(node.inputs[0]);
    const axis = this.sampleAxis(x, intAttr(node, 'axis', 0), 'axis');
    const idx = this.constant(node, 1, 'the indices');
    const n = this.builder.shapeOf(x)[axis];
    if (idx.data.length !== 1) throw new Error(`gathers ${idx.data.length} indices; only one constant index is supported`);
    const raw = idx.data[0];
    const index = raw < 0 ? raw + n : raw;
    if (!(Number.isInteger(index) && index >= 0 && index < n)) throw new Error(`index ${raw} is out of range for an axis of ${n} entries`);
    const out = node.outputs[0];
    // A scalar index removes the axis; a one-element list keeps it (a slice of one).
    if (idx.dims.length === 0) {
      this.builder.add({ kind: 'gather', name, inputs: [x], output: out, axis, index });
      if (this.moved(x)) {
        const rank = this.onnxRank(x);
        const raw = intAttr(node, 'axis', 0);
        this.setLayout(out, dropAxis(this.layout(x), raw < 0 ? raw + rank : raw));
      }
    } else if (idx.dims.length === 1) {
      this.builder.add({ kind: 'slice', name, inputs: [x], output: out, axis, start: index, length: 1 });
      if (this.moved(x)) this.setLayout(out, this.layout(x));
    } else throw new Error(`indices of shape [${idx.dims.join(', ')}] are not supported (a scalar or one index)`);
  }

  /** A Concat of one activation and constants: one `concatconst` per constant, nearest first. */
  private convertConcatConst(node: OnnxNode, name: string): void {
    const act = node.inputs.filter((i) => !this.constants.has(i));
    if (act.length !== 1) throw new Error(`concatenates ${act.length} activations with constants (only one activation with constants is supported)`);
    const x = act[0];
    const pos = node.inputs.indexOf(x);
    const axis = this.sampleAxis(x, intAttr(node, 'axis', 0), 'axis');
    const shape = this.builder.shapeOf(x);
    const layers = [
      ...node.inputs.slice(0, pos).reverse().map((c) => ({ c, before: true })),
      ...node.inputs.slice(pos + 1).map((c) => ({ c, before: false })),
    ];
    let value = x;
    let cur = [...shape];
    layers.forEach(({ c, before }, k) => {
      const t = this.constants.get(c)!;
      // Per sample: a leading batch axis of 1 (or expanded over the batch by folding) is dropped.
      const dims = t.dims.length === shape.length + 1 && t.dims[0] === 1 ? t.dims.slice(1) : null;
      if (!dims || dims.some((d, i) => i !== axis && d !== cur[i])) {
        throw new Error(`the constant '${c}' of shape [${t.dims.join(', ')}] does not concatenate with N×[${cur.join(', ')}] along axis ${axis + 1}`);
      }
      const output = k === layers.length - 1 ? node.outputs[0] : `${node.outputs[0]}:${k}`;
      this.builder.add({
        kind: 'concatconst', name: layers.length > 1 ? `${name}:${k}` : name, inputs: [value], output,
        axis, constShape: dims, constant: toF32(t.data).slice(), before,
      });
      cur = cur.map((d, i) => (i === axis ? d + dims[axis] : d));
      value = output;
    });
  }

  /** GELU's formula from its first node (decompositions.ts): one `gelu` layer named after its last node. */
  private tryGelu(node: OnnxNode): boolean {
    const d = matchGelu(this.patternGraph(), node);
    if (!d) return false;
    for (const n of d.nodes) this.replaced.add(n);
    this.builder.add({ kind: 'gelu', name: nodeName(d.nodes[d.nodes.length - 1]), inputs: [this.value(d.x)], output: d.output, approximate: d.approximate });
    return true;
  }

  /** A Mul or Div by a constant: a scale, by one value, per channel, or along the last axis; `f` maps each constant value to its factor. */
  private addScale(name: string, x: string, out: string, c: OnnxTensor, f: (v: number) => number): void {
    const shape = this.builder.shapeOf(x);
    const factors = (t: ArrayLike<number>) => Float32Array.from(t, f);
    if (this.moved(x)) {
      this.builder.add({ kind: 'scale', name, inputs: [x], output: out, scale: this.lastAxisConstant(x, c, f), lastAxis: true });
      return;
    }
    if (isLastAxisVector(c, shape)) {
      this.builder.add({ kind: 'scale', name, inputs: [x], output: out, scale: factors(c.data), lastAxis: true });
      return;
    }
    const scale = c.data.length === 1 && c.dims.length <= shape.length + 1
      ? factors([c.data[0]])
      : factors(broadcastBias(c, shape[0], shape.length + 1, `the constant '${c.name}'`));
    this.builder.add({ kind: 'scale', name, inputs: [x], output: out, scale });
  }

  private convertMul(node: OnnxNode, name: string): void {
    if (this.tryGelu(node)) return;
    const out = node.outputs[0];
    const [a, b] = node.inputs;
    const ca = this.constants.get(a);
    const cb = this.constants.get(b);
    if (ca || cb) {
      const [x, c] = ca ? [b, ca] : [a, cb!];
      this.addScale(name, x, out, c, (v) => v);
      return;
    }
    if (this.moved(a) || this.moved(b)) throw new Error(`multiplies two activations with a moved batch axis (ONNX view ${this.showView(this.moved(a) ? a : b)}); only a gate with the batch first is supported`);
    // The gate is the factor computed from the other one.
    const aFromB = a !== b && this.builder.dependsOn(a, b);
    const bFromA = a !== b && this.builder.dependsOn(b, a);
    if (a === b) throw new Error(`multiplies '${a}' by itself: a Mul of two activations is supported only as a gate computed from its other factor`);
    if (!aFromB && !bFromA) {
      throw new Error(`multiplies '${a}' by '${b}', neither computed from the other: a Mul of two activations is supported only as a gate `
        + '(SiLU x * Sigmoid(x), HardSwish x * HardSigmoid(x), squeeze-and-excitation), one factor computed from the other');
    }
    const [x, g] = bFromA ? [a, b] : [b, a];
    this.builder.add({ kind: 'gate', name, inputs: [x, g], output: out });
  }

  private convertClip(node: OnnxNode, name: string): void {
    let min = -Infinity;
    let max = Infinity;
    if (this.opset < 11) {
      min = floatAttr(node, 'min', -Infinity);
      max = floatAttr(node, 'max', Infinity);
    } else {
      const bound = (i: number, what: string): number | null => {
        const t = this.optionalConstant(node, i, what);
        if (!t) return null;
        if (t.data.length !== 1) throw new Error(`${what} must be a scalar, got shape [${t.dims.join(', ')}]`);
        return t.data[0];
      };
      min = bound(1, 'the min') ?? -Infinity;
      max = bound(2, 'the max') ?? Infinity;
    }
    if (Number.isNaN(min) || Number.isNaN(max)) throw new Error('a NaN bound is not supported');
    this.builder.add({ kind: 'clip', name, inputs: [this.value(node.inputs[0])], output: node.outputs[0], min, max });
  }

  private convertBatchNorm(node: OnnxNode, name: string): void {
    this.onlyFirstOutput(node, 'training statistics');
    if (intAttr(node, 'training_mode', 0) !== 0) throw new Error('training_mode=1 is not supported (an exported model runs in inference mode)');
    if (this.opset < 9 && intAttr(node, 'spatial', 1) !== 1) throw new Error('spatial=0 is not supported');
    const input = this.value(node.inputs[0]);
    const get = (i: number, what: string) => toF32(this.constant(node, i, what).data);
    this.builder.add({
      kind: 'batchnorm', name, inputs: [input], output: node.outputs[0], channels: this.builder.shapeOf(input)[0],
      scale: get(1, 'the scale'), bias: get(2, 'B'), mean: get(3, 'the mean'), variance: get(4, 'the variance'),
      epsilon: floatAttr(node, 'epsilon', 1e-5),
    });
  }

  private convertPad(node: OnnxNode, name: string): void {
    const input = this.value(node.inputs[0]);
    const rank = this.builder.shapeOf(input).length + 1;
    const mode = node.attributes.get('mode')?.s ?? 'constant';
    if (mode !== 'constant') throw new Error(`mode '${mode}' is not supported (only constant zero padding)`);
    let pads: number[];
    let value = 0;
    let axes: number[] = Array.from({ length: rank }, (_, i) => i);
    if (this.opset < 11) {
      pads = node.attributes.get('pads')?.ints ?? [];
      value = floatAttr(node, 'value', 0);
    } else {
      pads = Array.from(this.constant(node, 1, 'the pads').data);
      const v = this.optionalConstant(node, 2, 'the constant value');
      if (v) value = v.data[0];
      const a = this.optionalConstant(node, 3, 'the axes');
      if (a) axes = Array.from(a.data, (d) => (d < 0 ? d + rank : d));
    }
    if (value !== 0) throw new Error(`padding with ${value} is not supported (only zeros)`);
    if (pads.length !== 2 * axes.length) throw new Error(`expects ${2 * axes.length} pads, got [${pads.join(', ')}]`);
    const full = new Array<number>(2 * rank).fill(0);
    axes.forEach((ax, i) => {
      full[ax] = pads[i];
      full[rank + ax] = pads[axes.length + i];
    });
    if (rank !== 4) {
      if (full.every((p) => p === 0)) {
        this.builder.add({ kind: 'identity', name, inputs: [input], output: node.outputs[0] });
        return;
      }
      throw new Error(`padding an N×${this.builder.shapeOf(input).join('×')} value is not supported (only the H and W axes of N×C×H×W)`);
    }
    if (full.some((p) => p < 0)) throw new Error(`negative pads [${full.join(', ')}] (cropping) are not supported`);
    if (full[0] || full[1] || full[4] || full[5]) throw new Error(`pads [${full.join(', ')}] touch the batch or channel axis; only H and W may be padded`);
    const p: Pads4 = [full[2], full[3], full[6], full[7]];
    this.builder.add({ kind: 'pad', name, inputs: [input], output: node.outputs[0], pads: p });
  }

  private window(node: OnnxNode, input: string) {
    const kernel = pair(node, 'kernel_shape', null);
    const stride = pair(node, 'strides', [1, 1]);
    const dilation = pair(node, 'dilations', [1, 1]);
    const pads = this.pads(node, input, kernel, stride, dilation);
    return { kernel, stride, pads, dilation };
  }

  private pads(node: OnnxNode, input: string, kernel: Pair, stride: Pair, dilation: Pair): Pads4 {
    const autoPad = node.attributes.get('auto_pad')?.s ?? 'NOTSET';
    if (autoPad === 'NOTSET') {
      const p = node.attributes.get('pads')?.ints ?? [0, 0, 0, 0];
      if (p.length !== 4) throw new Error(`expects 4 pads for a 2-D window, got [${p.join(', ')}]`);
      if (p.some((v) => v < 0)) throw new Error(`negative pads [${p.join(', ')}] are not supported`);
      // ONNX order is [h_begin, w_begin, h_end, w_end], which is already [top, left, bottom, right].
      return [p[0], p[1], p[2], p[3]];
    }
    if (autoPad === 'VALID') return [0, 0, 0, 0];
    if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') throw new Error(`unknown auto_pad '${autoPad}'`);
    const shape = this.builder.shapeOf(input);
    const total = [0, 1].map((a) => {
      const size = shape[1 + a];
      const out = Math.ceil(size / stride[a]);
      return Math.max(0, (out - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1 - size);
    });
    const small = total.map((t) => Math.floor(t / 2));
    const big = total.map((t, a) => t - small[a]);
    return autoPad === 'SAME_UPPER' ? [small[0], small[1], big[0], big[1]] : [big[0], big[1], small[0], small[1]];
  }

  private convertConv(node: OnnxNode, name: string): void {
    const input = this.value(node.inputs[0]);
    const w = this.constant(node, 1, 'the weight');
    if (w.dims.length !== 4) throw new Error(`only 2-D convolutions are supported (weight shape [${w.dims.join(', ')}])`);
    const b = this.optionalConstant(node, 2, 'the bias');
    const [outC, inPerGroup, kh, kw] = w.dims;
    if (w.dims.some((d) => !(d > 0))) throw new Error(`the weight has an empty shape [${w.dims.join(', ')}]`);
    const groups = intAttr(node, 'group', 1);
    if (!(Number.isSafeInteger(groups) && groups >= 1)) throw new Error(`group must be a whole number >= 1, got ${groups}`);
    if (outC % groups !== 0) throw new Error(`the weight's ${outC} output channels do not divide into group = ${groups}`);
    const kernelAttr = node.attributes.get('kernel_shape')?.ints;
    if (kernelAttr && (kernelAttr[0] !== kh || kernelAttr[1] !== kw)) {
      throw new Error(`kernel_shape [${kernelAttr.join(', ')}] disagrees with the weight [${w.dims.join(', ')}]`);
    }
    const stride = pair(node, 'strides', [1, 1]);
    const dilation = pair(node, 'dilations', [1, 1]);
    const kernel: Pair = [kh, kw];
    const spec = {
      kind: 'conv' as const, name, inputs: [input], output: node.outputs[0],
      inChannels: inPerGroup * groups, outChannels: outC, kernel, stride, dilation, groups,
      pads: this.pads(node, input, kernel, stride, dilation),
      weight: toF32(w.data), bias: b ? broadcastBias(b, outC, null) : new Float32Array(outC),
      ...(b ? {} : { hasBias: false }),
    };
    this.builder.add(spec);
  }

  private convertDense(node: OnnxNode, name: string): void {
    const input = this.value(node.inputs[0]);
    const shape = this.builder.shapeOf(input);
    // Gemm is 2-D; MatMul by a constant acts on the last axis of any input (a transformer's Linear).
    if (this.moved(input)) {
      // Rows of any layout (torch's out_proj on (L*N, E)): a dense over the last axis, if that axis is the last per-sample one.
      if (!lastAxisIsLastSample(this.layout(input), shape.length) || (node.opType === 'Gemm' && this.onnxRank(input) !== 2)) {
        throw new Error(`a ${node.opType} over ONNX view ${this.showView(input)} is not supported (with a moved batch axis, only over a last axis that holds no batch)`);
      }
    } else if (node.opType === 'Gemm' && shape.length !== 1) throw new Error(`expects a flat N×F input, got N×${shape.join('×')} (is a Flatten missing?)`);
    const B = this.constant(node, 1, 'the weight');
    if (B.dims.length !== 2) throw new Error(`expects a 2-D weight, got [${B.dims.join(', ')}]`);
    if (B.dims.some((d) => !(d > 0))) throw new Error(`the weight has an empty shape [${B.dims.join(', ')}]: a layer with no inputs or no outputs`);
    let weight: Float32Array;
    let outF: number;
    let bias: Float32Array;
    let hasBias = true;
    let sourceLayout: 'out-in' | 'in-out' = 'in-out';
    if (node.opType === 'Gemm') {
      if (intAttr(node, 'transA', 0) !== 0) throw new Error('transA=1 is not supported (it would mix samples of the batch)');
      const transB = intAttr(node, 'transB', 0) === 1;
      if (transB) sourceLayout = 'out-in';
      const alpha = floatAttr(node, 'alpha', 1);
      const beta = floatAttr(node, 'beta', 1);
      outF = transB ? B.dims[0] : B.dims[1];
      weight = transB ? toF32(B.data).slice() : transpose(B.data, B.dims[0], B.dims[1]);
      if (alpha !== 1) for (let i = 0; i < weight.length; i++) weight[i] *= alpha;
      const C = this.optionalConstant(node, 2, 'C');
      bias = C ? broadcastBias(C, outF, 2, 'C') : new Float32Array(outF);
      hasBias = C !== null;
      if (beta !== 1) for (let i = 0; i < bias.length; i++) bias[i] *= beta;
    } else {
      outF = B.dims[1];
      weight = transpose(B.data, B.dims[0], B.dims[1]);
      bias = new Float32Array(outF);
      hasBias = false;
    }
    const inF = weight.length / outF;
    this.builder.add({
      kind: 'dense', name, inputs: [input], output: node.outputs[0], inFeatures: inF, outFeatures: outF, weight, bias, sourceLayout,
      ...(hasBias ? {} : { hasBias: false }),
    });
  }

  private convertReshape(node: OnnxNode, name: string): void {
    const shapeT = node.inputs[1] ? this.constant(node, 1, 'the target shape') : null;
    const target = shapeT ? Array.from(shapeT.data) : node.attributes.get('shape')?.ints;
    if (!target) throw new Error('has no target shape');
    const input = this.value(node.inputs[0]);
    const shape = this.builder.shapeOf(input);
    const features = numel(shape);
    const show = `[${target.map((d) => (Number.isNaN(d) ? 'N' : d)).join(', ')}]`;
    // The batch moved, or merged with another axis (a NaN past the first, torch's (L, N*H, hd)):
    // a per-sample view through the layouts (batch-layout.ts).
    if (this.moved(input) || target.slice(1).some((d) => Number.isNaN(d))) return this.reshapeMoved(node, name, input, target, show);
    // The batch may be kept by 0, -1 or the batch size read by a folded Shape (BATCH), or 1 (an
    // export at batch 1).
    const batchOk = target[0] === 0 || target[0] === -1 || target[0] === 1 || Object.is(target[0], BATCH);
    const rest = target.slice(1);
    const restOk = rest.length === 1 && (rest[0] === -1 || rest[0] === features);
    if (batchOk && restOk && !(target[0] === -1 && rest[0] === -1)) {
      this.builder.add({ kind: 'flatten', name, inputs: [input], output: node.outputs[0] });
      return;
    }
    if (target.length === shape.length + 1 && batchOk && target.slice(1).every((d, i) => d === shape[i] || d === 0)) {
      this.builder.add({ kind: 'identity', name, inputs: [input], output: node.outputs[0] });
      return;
    }
    // Any other reshape of each sample is a view of its row-major data (0 copies the input's axis,
    // one -1 takes what is left), if the batch axis stays the batch.
    const resolved = batchOk && !(target[0] === -1 && rest.includes(-1)) ? resolveReshape(rest, shape) : null;
    // The batch merged with the axes after it (rows (N*L, E) for a Gemm): a per-sample view too.
    if (!resolved && Object.is(target[0], BATCH)) return this.reshapeMoved(node, name, input, target, show);
    if (!resolved) throw new Error(`reshape of N×[${shape.join(', ')}] to ${show} is not supported (the batch axis must stay first, the rest resolve to ${features} values)`);
    this.builder.add({ kind: 'reshape', name, inputs: [input], output: node.outputs[0], shape: resolved });
  }

  /** A Reshape that moves the batch or reads a moved one: a per-sample view, or refused where samples would mix. */
  private reshapeMoved(node: OnnxNode, name: string, input: string, target: readonly number[], show: string): void {
    const l = this.layout(input);
    const shape = this.builder.shapeOf(input);
    const dims = onnxDims(l, shape);
    const allowZero = intAttr(node, 'allowzero', 0) === 1;
    const resolved = target.map((d, i) => (d === 0 && !allowZero ? dims[i] : d));
    const r = resolved.some((d) => d === undefined) ? 'the target copies axes the input lacks' : reshapeLayout(l, shape, resolved);
    if (typeof r === 'string') throw new Error(`reshape of ONNX view ${this.showView(input)} to ${show} is not supported: ${r}`);
    const out = node.outputs[0];
    const same = r.shape.length === shape.length && r.shape.every((d, i) => d === shape[i]);
    if (same) this.builder.add({ kind: 'identity', name, inputs: [input], output: out });
    else this.builder.add({ kind: 'reshape', name, inputs: [input], output: out, shape: r.shape });
    this.setLayout(out, r.layout);
  }

  /** The graph as decompositions.ts matches it. */
  private patternGraph(): PatternGraph {
    const outputs = new Set(this.model.outputs.map((o) => o.name));
    return {
      readers: (v) => this.consumers.get(v) ?? [],
      isOutput: (v) => outputs.has(v),
      rank: (v) => this.builder.shapeOf(v).length,
      constant: (v) => {
        const known = this.constants.get(v);
        if (known) return known;
        // A Constant node later in the file: evaluate it ahead (it folds again when reached).
        const p = this.producers.get(v);
        return p && p.opType === 'Constant' ? foldConstantNode(p, [], this.opset, () => []) : null;
      },
    };
  }

  private convertLayerNorm(node: OnnxNode, name: string): void {
    this.onlyFirstOutput(node, 'Mean and InvStdDev');
    const input = this.value(node.inputs[0]);
    const rank = this.builder.shapeOf(input).length + 1;
    const axis = intAttr(node, 'axis', -1);
    if (axis !== -1 && axis !== rank - 1) throw new Error(`normalising from axis ${axis} is not supported (only the last axis, -1)`);
    const scale = this.constant(node, 1, 'the scale');
    const bias = this.optionalConstant(node, 2, 'the bias');
    this.addLayerNorm(name, input, node.outputs[0], toF32(scale.data), bias ? toF32(bias.data) : null, floatAttr(node, 'epsilon', 1e-5));
  }

  /** gamma and beta of n values, or one broadcast, or absent (ones, zeros). */
  private addLayerNorm(name: string, input: string, output: string, scale: Float32Array | null, bias: Float32Array | null, epsilon: number): void {
    const shape = this.builder.shapeOf(input);
    const n = shape[shape.length - 1];
    const vec = (t: Float32Array | null, fill: number, what: string): Float32Array => {
      if (!t) return new Float32Array(n).fill(fill);
      if (t.length === 1) return new Float32Array(n).fill(t[0]);
      if (t.length !== n) throw new Error(`${what} has ${t.length} values for the ${n} of the last axis of [${shape.join(', ')}]`);
      return t.slice();
    };
    this.builder.add({ kind: 'layernorm', name, inputs: [input], output, scale: vec(scale, 1, 'the scale'), bias: vec(bias, 0, 'the bias'), epsilon });
  }

  private convertTranspose(node: OnnxNode, name: string): void {
    const input = this.value(node.inputs[0]);
    const rank = this.onnxRank(input);
    const perm = node.attributes.get('perm')?.ints ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    if (perm.length !== rank || [...perm].sort((p, q) => p - q).some((p, i) => p !== i)) {
      throw new Error(`perm [${perm.join(', ')}] is not a permutation of the ${rank} axes`);
    }
    if (this.moved(input) || perm[0] !== 0) {
      // The batch moves (torch's seq-first attention): a relabelling, plus a per-sample transpose
      // only where the per-sample axes change order.
      const t = transposeLayout(this.layout(input), perm);
      if (t.perSample) this.builder.add({ kind: 'transpose', name, inputs: [input], output: node.outputs[0], perm: t.perSample });
      else this.builder.add({ kind: 'identity', name, inputs: [input], output: node.outputs[0] });
      this.setLayout(node.outputs[0], t.layout);
      return;
    }
    this.builder.add({ kind: 'transpose', name, inputs: [input], output: node.outputs[0], perm: perm.slice(1).map((a) => a - 1) });
  }
}

/** A Reshape's per-sample target with 0 (copy the axis) and one -1 (the rest) resolved, or null where it does not fit. */
function resolveReshape(target: readonly number[], shape: readonly number[]): number[] | null {
  const dims = target.map((d, i) => (d === 0 ? shape[i] : d));
  if (dims.some((d) => d === undefined || Number.isNaN(d) || (d < 1 && d !== -1)) || dims.filter((d) => d === -1).length > 1) return null;
  const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = numel(shape);
  const out = dims.map((d) => (d === -1 ? total / known : d));
  return out.every((d) => Number.isSafeInteger(d) && d >= 1) && numel(out) === total ? out : null;
}

/**
 * A constant that runs along the last axis of an activation of per-sample shape `shape` (rank 2
 * or more; a flat input's one axis is also its channel axis): [F] or [1, ..., F], F the last axis,
 * as a Linear's bias or a channels-last layer scale is written.
 */
function isLastAxisVector(t: OnnxTensor, shape: readonly number[]): boolean {
  const last = shape[shape.length - 1];
  return shape.length > 1 && last > 1 && t.dims.length >= 1 && t.dims.length <= shape.length + 1 && t.data.length === last
    && t.dims[t.dims.length - 1] === last;
}

/** Operators that map through a moved batch axis (batch-layout.ts); any other reading one is refused. */
const FOLLOWS_LAYOUT = new Set([
  'Transpose', 'Reshape', 'MatMul', 'Gemm', 'Add', 'Mul', 'Div', 'Softmax', 'Slice', 'Split', 'Gather', 'Relu', 'LeakyRelu', 'Clip',
  'Sigmoid', 'Tanh', 'HardSigmoid', 'HardSwish', 'Gelu', 'Identity', 'Dropout',
]);
/** Of those, the ones that set their output's layout themselves. */
const LAYOUT_SETTERS = new Set(['Transpose', 'Reshape', 'Gather']);

export function convertModel(model: OnnxModel, opts: ImportOptions): ConvertedModel {
  return new Converter(model, opts.source).convert(opts.output);
}

/**
 * Convert, then canonize (src/graph/canonize/): the graph every executor runs. Callers that want
 * to show what the canonizer did use `convertOnnx` and `canonize` themselves.
 */
export function importOnnx(bytes: Uint8Array, opts: ImportOptions): Graph {
  const { graph } = convertOnnx(bytes, opts);
  try {
    return canonize(graph).graph;
  } catch (e) {
    const msg = (e as Error).message;
    throw new Error(msg.startsWith(opts.source) ? msg : `${opts.source}: ${msg}`);
  }
}

/** Names the operator and where it sits: its place in the file's node list and the values it reads. */
function unsupported(node: OnnxNode, at: string): Error {
  const op = node.domain ? `${node.domain}.${node.opType}` : node.opType;
  const reads = node.inputs.filter(Boolean).map((i) => `'${i}'`).join(', ');
  return new Error(`unsupported operator ${op} (${at}${reads ? `, reading ${reads}` : ''}); supported: ${SUPPORTED_OPS.join(', ')}`);
}

function nodeName(node: OnnxNode): string {
  return node.name || `${node.opType}(${node.outputs[0] ?? '?'})`;
}

function intAttr(node: OnnxNode, name: string, dflt: number): number {
  return node.attributes.get(name)?.i ?? dflt;
}

function floatAttr(node: OnnxNode, name: string, dflt: number): number {
  return node.attributes.get(name)?.f ?? dflt;
}

function pair(node: OnnxNode, name: string, dflt: Pair | null): Pair {
  const v = node.attributes.get(name)?.ints;
  if (!v) {
    if (!dflt) throw new Error(`attribute ${name} is required`);
    return dflt;
  }
  if (v.length !== 2) throw new Error(`only 2-D windows are supported (${name} = [${v.join(', ')}])`);
  if (v.some((d) => d <= 0)) throw new Error(`${name} must be positive, got [${v.join(', ')}]`);
  return [v[0], v[1]];
}

function toF32(data: Float32Array | Float64Array): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

function transpose(data: Float32Array | Float64Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/**
 * A constant added to an activation of per-sample shape `shape` that spans the whole sample (its
 * rank that of the sample, after a leading batch axis of 1; broadcast along axes of 1), as a
 * positional embedding is written, and is not a per-channel bias: its values per sample; else null.
 */
function wholeSampleConstant(t: OnnxTensor, shape: readonly number[]): Float32Array | null {
  const dims = t.dims.length === shape.length + 1 && t.dims[0] === 1 ? t.dims.slice(1) : t.dims.length === shape.length ? t.dims : null;
  if (!dims || shape.length < 2) return null;
  if (dims.some((d, i) => d !== shape[i] && d !== 1)) return null;
  // [C, 1, ..., 1] is a bias per channel; a scalar too.
  if (dims.slice(1).every((d) => d === 1)) return null;
  const out = new Float32Array(numel(shape));
  const strides = dims.map((_, i) => (dims[i] === 1 ? 0 : numel(dims.slice(i + 1))));
  for (let k = 0; k < out.length; k++) {
    let src = 0;
    let rest = k;
    for (let i = shape.length - 1; i >= 0; i--) {
      src += (rest % shape[i]) * strides[i];
      rest = Math.floor(rest / shape[i]);
    }
    out[k] = t.data[src];
  }
  return out;
}

/**
 * A per-channel bias. `rank` is that of the tensor it is added to under numpy broadcasting (4 for
 * a conv output, 2 for a dense one), so [C] on a conv output (which would broadcast along W) is
 * rejected; null means an operator's own bias input, which is always [C].
 */
function broadcastBias(t: OnnxTensor, channels: number, rank: number | null, what = 'the bias'): Float32Array {
  if (t.data.length === 1 && t.dims.length <= (rank ?? 1)) return new Float32Array(channels).fill(t.data[0]);
  const dims = rank === null ? t.dims : [...Array(Math.max(0, rank - t.dims.length)).fill(1), ...t.dims];
  const ok = rank === null
    ? dims.length === 1 && dims[0] === channels
    : dims.length === rank && dims.every((d, i) => (i === 1 ? d === channels : d === 1));
  if (!ok) throw new Error(`${what} of shape [${t.dims.join(', ')}] is not a per-channel bias for ${channels} channels`);
  return toF32(t.data).slice();
}

export { dataTypeName };
