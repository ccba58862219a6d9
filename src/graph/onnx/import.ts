/**
 * ONNX → IR. Canonization happens here, while the ONNX graph is still at hand: a bias `Add` and a
 * `BatchNormalization` are folded into the Conv/Gemm/MatMul before them, constants are folded
 * (MNIST-7 reshapes its dense weights at run time), and a trailing Softmax is stripped so the
 * output is the logits LRP starts from.
 */
import { GraphBuilder, type LayerSpec } from '../builder.ts';
import type { Graph, Pads4, Pair } from '../ir.ts';
import { numel } from '../ir.ts';
import { dataTypeName, decodeModel, type DecodeOptions, type OnnxModel, type OnnxNode, type OnnxTensor } from './model.ts';

export const SUPPORTED_OPS = [
  'AveragePool', 'BatchNormalization', 'Concat', 'Constant', 'Conv', 'Dropout', 'Flatten', 'Gemm',
  'GlobalAveragePool', 'Identity', 'LRN', 'MatMul', 'MaxPool', 'Relu', 'Reshape', 'Softmax',
  'Add (as a bias after Conv, Gemm or MatMul)',
] as const;

export const OPSET_RANGE: Pair = [7, 21];

export interface ImportOptions extends DecodeOptions {
  /** The graph output to predict and explain (`--output NAME`); the first output by default. */
  output?: string;
}

export function importOnnx(bytes: Uint8Array, opts: ImportOptions): Graph {
  return convertModel(decodeModel(bytes, opts), opts);
}

class Converter {
  private readonly constants = new Map<string, OnnxTensor>();
  private readonly consumers = new Map<string, OnnxNode[]>();
  private readonly done = new Set<OnnxNode>();
  /** A stripped Softmax's output maps to its input, so `--output prob` still finds the logits. */
  private readonly aliases = new Map<string, string>();
  private builder!: GraphBuilder;

  constructor(private readonly model: OnnxModel, private readonly source: string) {
    for (const [name, t] of model.initializers) this.constants.set(name, t);
    for (const node of model.nodes) {
      for (const i of node.inputs) if (i) (this.consumers.get(i) ?? this.consumers.set(i, []).get(i)!).push(node);
    }
  }

  convert(requested: string | undefined): Graph {
    const { model } = this;
    const opset = model.opsets.get('') ?? 0;
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

    for (const node of model.nodes) {
      if (this.done.has(node)) continue;
      this.done.add(node);
      try {
        this.convertNode(node);
      } catch (e) {
        const msg = (e as Error).message;
        throw new Error(msg.startsWith(this.source) ? msg : `${this.source}: node '${nodeName(node)}' (${node.opType}): ${msg}`);
      }
    }

    const outputs = model.outputs.map((o) => o.name);
    if (outputs.length === 0) throw new Error(`${this.source}: the graph declares no output`);
    const chosen = requested ?? outputs[0];
    if (!outputs.includes(chosen) && !this.builder.has(this.resolve(chosen))) {
      throw new Error(`${this.source}: no output named '${chosen}' (outputs: ${outputs.join(', ')})`);
    }
    if (!this.builder.has(this.resolve(chosen))) {
      // Declared, but no node produces it (or it is a constant or the input itself).
      throw new Error(`${this.source}: output '${chosen}' is not computed by any supported node of the graph`);
    }
    return this.builder.build(this.resolve(chosen), [...new Set(outputs.map((o) => this.resolve(o)))]);
  }

  private resolve(name: string): string {
    return this.aliases.get(name) ?? name;
  }

  private value(name: string): string {
    const v = this.resolve(name);
    if (this.constants.has(v)) throw new Error(`input '${name}' is a constant where an activation is expected`);
    return v;
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

  /** The node that alone consumes `value`, if folding into the producer of `value` is safe. */
  private soleConsumer(value: string): OnnxNode | null {
    const cs = this.consumers.get(value) ?? [];
    if (cs.length !== 1 || this.model.outputs.some((o) => o.name === value)) return null;
    return cs[0];
  }

  private convertNode(node: OnnxNode): void {
    if (node.domain && node.domain !== 'ai.onnx') {
      throw unsupported(node);
    }
    const name = nodeName(node);
    const out = node.outputs[0];
    const x = () => this.value(node.inputs[0]);
    switch (node.opType) {
      case 'Constant': {
        const t = node.attributes.get('value')?.t;
        const vf = node.attributes.get('value_float')?.f;
        const vfs = node.attributes.get('value_floats')?.floats;
        const vi = node.attributes.get('value_int')?.i;
        const vis = node.attributes.get('value_ints')?.ints;
        let tensor: OnnxTensor;
        if (t) tensor = { ...t, name: out };
        else if (vf !== undefined) tensor = { name: out, dims: [], dataType: 1, data: Float32Array.of(vf) };
        else if (vfs) tensor = { name: out, dims: [vfs.length], dataType: 1, data: Float32Array.from(vfs) };
        else if (vi !== undefined) tensor = { name: out, dims: [], dataType: 7, data: Float64Array.of(vi) };
        else if (vis) tensor = { name: out, dims: [vis.length], dataType: 7, data: Float64Array.from(vis) };
        else throw new Error('has no supported value attribute');
        this.constants.set(out, tensor);
        return;
      }
      case 'Conv':
        return this.convertConv(node, name);
      case 'Gemm':
      case 'MatMul':
        return this.convertDense(node, name);
      case 'Relu':
        this.builder.add({ kind: 'relu', name, inputs: [x()], output: out });
        return;
      case 'MaxPool': {
        if (node.outputs.length > 1 && node.outputs[1] && this.consumers.has(node.outputs[1])) {
          throw new Error('the Indices output is not supported');
        }
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
      case 'Dropout':
        if (node.outputs[1] && this.consumers.has(node.outputs[1])) throw new Error('the mask output is not supported');
        this.builder.add({ kind: 'identity', name, inputs: [x()], output: out });
        return;
      case 'Identity':
        if (this.constants.has(node.inputs[0])) {
          this.constants.set(out, { ...this.constants.get(node.inputs[0])!, name: out });
          return;
        }
        this.builder.add({ kind: 'identity', name, inputs: [x()], output: out });
        return;
      case 'Concat': {
        const inputs = node.inputs.map((i) => this.value(i));
        const rank = this.builder.shapeOf(inputs[0]).length + 1;
        const axis = intAttr(node, 'axis', 1);
        if (axis !== 1 && axis !== 1 - rank) throw new Error(`concatenation along axis ${axis} is not supported (only channels, axis 1)`);
        this.builder.add({ kind: 'concat', name, inputs, output: out });
        return;
      }
      case 'Softmax': {
        const isFinal = !this.consumers.has(out) && this.model.outputs.some((o) => o.name === out);
        if (!isFinal) throw new Error('a Softmax inside the network is not supported (only a trailing one, which is stripped)');
        this.aliases.set(out, x());
        return;
      }
      case 'Add':
        throw new Error('Add is supported only as a bias directly after Conv, Gemm or MatMul');
      case 'BatchNormalization':
        throw new Error('BatchNormalization can only be folded into a Conv, Gemm or MatMul that feeds it alone');
      default:
        throw unsupported(node);
    }
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
    };
    this.builder.add(this.foldFollowers(spec));
  }

  private convertDense(node: OnnxNode, name: string): void {
    const input = this.value(node.inputs[0]);
    const shape = this.builder.shapeOf(input);
    if (shape.length !== 1) throw new Error(`expects a flat N×F input, got N×${shape.join('×')} (is a Flatten missing?)`);
    const B = this.constant(node, 1, 'the weight');
    if (B.dims.length !== 2) throw new Error(`expects a 2-D weight, got [${B.dims.join(', ')}]`);
    if (B.dims.some((d) => !(d > 0))) throw new Error(`the weight has an empty shape [${B.dims.join(', ')}]: a layer with no inputs or no outputs`);
    let weight: Float32Array;
    let outF: number;
    let bias: Float32Array;
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
      if (beta !== 1) for (let i = 0; i < bias.length; i++) bias[i] *= beta;
    } else {
      outF = B.dims[1];
      weight = transpose(B.data, B.dims[0], B.dims[1]);
      bias = new Float32Array(outF);
    }
    const inF = weight.length / outF;
    this.builder.add(this.foldFollowers({
      kind: 'dense', name, inputs: [input], output: node.outputs[0], inFeatures: inF, outFeatures: outF, weight, bias, sourceLayout,
    }));
  }

  /** Folds a chain of bias Adds and BatchNormalizations that follow a linear layer into it. */
  private foldFollowers<T extends LayerSpec & { kind: 'conv' | 'dense'; weight: Float32Array; bias: Float32Array }>(layer: T): T {
    let cur = layer;
    const outCh = layer.kind === 'conv' ? layer.outChannels : layer.outFeatures;
    for (;;) {
      const next = this.soleConsumer(cur.output);
      if (!next || this.done.has(next)) return cur;
      if (next.opType === 'Add') {
        const other = next.inputs[0] === cur.output ? 1 : 0;
        const c = this.constants.get(next.inputs[other]);
        if (!c) return cur;
        const add = broadcastBias(c, outCh, layer.kind === 'conv' ? 4 : 2, `the constant of Add '${nodeName(next)}'`);
        const bias = cur.bias.slice();
        for (let i = 0; i < outCh; i++) bias[i] += add[i];
        cur = { ...cur, bias, output: next.outputs[0] };
      } else if (next.opType === 'BatchNormalization') {
        const get = (i: number, what: string) => toF32(this.constant(next, i, `BatchNormalization ${what}`).data);
        const [gamma, beta, mean, variance] = [get(1, 'scale'), get(2, 'B'), get(3, 'mean'), get(4, 'var')];
        const eps = floatAttr(next, 'epsilon', 1e-5);
        const weight = cur.weight.slice();
        const bias = cur.bias.slice();
        const per = weight.length / outCh;
        for (let c = 0; c < outCh; c++) {
          const s = gamma[c] / Math.sqrt(variance[c] + eps);
          for (let k = 0; k < per; k++) weight[c * per + k] *= s;
          bias[c] = (bias[c] - mean[c]) * s + beta[c];
        }
        cur = { ...cur, weight, bias, output: next.outputs[0] };
      } else {
        return cur;
      }
      this.done.add(next);
    }
  }

  private convertReshape(node: OnnxNode, name: string): void {
    const src = node.inputs[0];
    const shapeT = node.inputs[1] ? this.constant(node, 1, 'the target shape') : null;
    const target = shapeT ? Array.from(shapeT.data) : node.attributes.get('shape')?.ints;
    if (!target) throw new Error('has no target shape');
    if (this.constants.has(src)) {
      // Constant folding: a weight reshaped at run time (MNIST-7 does this to its dense weight).
      const t = this.constants.get(src)!;
      const total = t.data.length;
      const dims = target.map((d, i) => (d === 0 ? t.dims[i] : d));
      const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const resolved = dims.map((d) => (d === -1 ? total / known : d));
      if (numel(resolved) !== total) throw new Error(`cannot reshape [${t.dims.join(', ')}] to [${target.join(', ')}]`);
      this.constants.set(node.outputs[0], { ...t, name: node.outputs[0], dims: resolved });
      return;
    }
    const input = this.value(src);
    const shape = this.builder.shapeOf(input);
    const features = numel(shape);
    // Only a flatten of each sample is a reshape the batch-agnostic IR can express.
    const batchOk = target[0] === 0 || target[0] === -1 || target[0] === 1;
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
    throw new Error(`reshape of N×[${shape.join(', ')}] to [${target.join(', ')}] is not supported (only flattening each sample)`);
  }
}

export function convertModel(model: OnnxModel, opts: ImportOptions): Graph {
  return new Converter(model, opts.source).convert(opts.output);
}

function unsupported(node: OnnxNode): Error {
  const op = node.domain ? `${node.domain}.${node.opType}` : node.opType;
  return new Error(`unsupported operator ${op}; supported: ${SUPPORTED_OPS.join(', ')}`);
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
