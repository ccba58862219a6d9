import type {
  BatchNormLayer, ConvLayer, DenseLayer, Graph, Layer, Pads4, Pair, Shape, ValueInfo,
} from './ir.ts';
import { numel } from './ir.ts';
import { windowOutputHW } from './shape.ts';

/** Distributes `Omit` over a union, so each layer kind keeps its own fields. */
type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
/** A layer as given to the builder: its output shape is inferred, never declared. */
export type LayerSpec = DistributiveOmit<Layer, never>;

/**
 * Builds a Graph layer by layer, inferring every value's per-sample shape as it goes, so that an
 * inconsistent model (a weight that does not match its input, a concat of unequal maps) fails at
 * load time with the layer's name rather than as a GPU validation error later.
 */
export class GraphBuilder {
  private readonly values = new Map<string, ValueInfo>();
  private readonly layers: Layer[] = [];
  private readonly input: ValueInfo;

  constructor(private readonly name: string, inputName: string, inputShape: Shape) {
    if (inputShape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new Error(`${name}: input '${inputName}' has an unusable shape [${inputShape.join(', ')}]`);
    }
    this.input = { name: inputName, shape: [...inputShape] };
    this.values.set(inputName, this.input);
  }

  get inputName(): string {
    return this.input.name;
  }

  has(value: string): boolean {
    return this.values.has(value);
  }

  shapeOf(value: string): Shape {
    const v = this.values.get(value);
    if (!v) throw new Error(`${this.name}: value '${value}' is used before it is produced`);
    return v.shape;
  }

  get layerCount(): number {
    return this.layers.length;
  }

  add(layer: LayerSpec): Layer {
    const shapes = layer.inputs.map((i) => this.shapeOf(i));
    const shape = inferShape(layer, shapes);
    if (shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new Error(`layer '${layer.name}' (${layer.kind}): output shape [${shape.join(', ')}] is empty`);
    }
    if (this.values.has(layer.output)) {
      throw new Error(`layer '${layer.name}': value '${layer.output}' is produced twice`);
    }
    this.values.set(layer.output, { name: layer.output, shape });
    this.layers.push(layer);
    return layer;
  }

  build(output: string, outputs: readonly string[] = [output]): Graph {
    this.shapeOf(output);
    const values = new Map(this.values);
    values.delete(this.input.name);
    return { name: this.name, input: this.input, values, layers: this.layers, output, outputs };
  }
}

function fail(layer: LayerSpec, msg: string): never {
  throw new Error(`layer '${layer.name}' (${layer.kind}): ${msg}`);
}

function expectRank(layer: LayerSpec, shape: Shape, rank: number): void {
  if (shape.length !== rank) {
    fail(layer, `expects a ${rank === 3 ? 'C×H×W feature map' : `rank-${rank} input`}, got [${shape.join(', ')}]`);
  }
}

export function inferShape(layer: LayerSpec, inputs: readonly Shape[]): number[] {
  const x = inputs[0];
  if (layer.kind === 'add') {
    if (inputs.length !== 2) fail(layer, `expects 2 inputs, got ${inputs.length}`);
  } else if (layer.kind !== 'concat' && inputs.length !== 1) {
    fail(layer, `expects 1 input, got ${inputs.length}`);
  }
  switch (layer.kind) {
    case 'conv':
      return convShape(layer, x);
    case 'dense':
      return denseShape(layer, x);
    case 'maxpool':
      expectRank(layer, x, 3);
      return [x[0], ...windowOutputHW(x, layer.kernel, layer.stride, layer.pads, layer.dilation, layer.ceilMode)];
    case 'avgpool':
      expectRank(layer, x, 3);
      return [x[0], ...windowOutputHW(x, layer.kernel, layer.stride, layer.pads, [1, 1], layer.ceilMode)];
    case 'globalavgpool':
      expectRank(layer, x, 3);
      return [x[0], 1, 1];
    case 'lrn':
      expectRank(layer, x, 3);
      return [...x];
    case 'flatten':
      return [numel(x)];
    case 'relu':
    case 'identity':
    case 'clip':
    case 'leakyrelu':
    case 'softmax':
      return [...x];
    case 'add':
      if (inputs[1].length !== x.length || inputs[1].some((d, i) => d !== x[i])) {
        fail(layer, `adds values of different shapes [${x.join(', ')}] and [${inputs[1].join(', ')}] (only equal shapes, no broadcasting)`);
      }
      return [...x];
    case 'batchnorm':
      return batchNormShape(layer, x);
    case 'bias':
      if (layer.bias.length !== x[0]) fail(layer, `has ${layer.bias.length} values for ${x[0]} channels`);
      return [...x];
    case 'pad':
      expectRank(layer, x, 3);
      if (layer.pads.some((p) => !Number.isInteger(p) || p < 0)) fail(layer, `pads [${layer.pads.join(', ')}] must be whole numbers >= 0`);
      return [x[0], x[1] + layer.pads[0] + layer.pads[2], x[2] + layer.pads[1] + layer.pads[3]];
    case 'concat': {
      if (inputs.length < 1) fail(layer, 'has no inputs');
      for (const s of inputs) {
        expectRank(layer, s, 3);
        if (s[1] !== x[1] || s[2] !== x[2]) {
          fail(layer, `inputs differ in spatial size: ${inputs.map((s2) => `[${s2.join(', ')}]`).join(' vs ')}`);
        }
      }
      return [inputs.reduce((c, s) => c + s[0], 0), x[1], x[2]];
    }
  }
}

function convShape(layer: ConvLayer, x: Shape): number[] {
  expectRank(layer, x, 3);
  const { inChannels: ci, outChannels: co, kernel, groups } = layer;
  if (x[0] !== ci) fail(layer, `expects ${ci} input channels, got ${x[0]}`);
  if (ci % groups !== 0 || co % groups !== 0) fail(layer, `channels ${ci}→${co} do not divide into ${groups} groups`);
  if (layer.weight.length !== co * (ci / groups) * kernel[0] * kernel[1]) {
    fail(layer, `weight has ${layer.weight.length} values, expected ${co}×${ci / groups}×${kernel[0]}×${kernel[1]}`);
  }
  if (layer.bias.length !== co) fail(layer, `bias has ${layer.bias.length} values, expected ${co}`);
  const [h, w] = windowOutputHW(x, kernel, layer.stride, layer.pads, layer.dilation, false);
  return [co, h, w];
}

function batchNormShape(layer: BatchNormLayer, x: Shape): number[] {
  if (x.length !== 1 && x.length !== 3) fail(layer, `expects a C×H×W map or a flat input, got [${x.join(', ')}]`);
  const c = layer.channels;
  if (x[0] !== c) fail(layer, `expects ${c} channels, got ${x[0]}`);
  for (const [what, a] of [['scale', layer.scale], ['bias', layer.bias], ['mean', layer.mean], ['variance', layer.variance]] as const) {
    if (a.length !== c) fail(layer, `${what} has ${a.length} values, expected ${c}`);
  }
  if (!(layer.epsilon >= 0) || layer.variance.some((v) => !(v + layer.epsilon > 0))) {
    fail(layer, 'variance + epsilon must be positive in every channel');
  }
  return [...x];
}

function denseShape(layer: DenseLayer, x: Shape): number[] {
  if (x.length !== 1) fail(layer, `expects a flat input, got [${x.join(', ')}] (is a Flatten missing?)`);
  if (x[0] !== layer.inFeatures) fail(layer, `expects ${layer.inFeatures} input features, got ${x[0]}`);
  if (layer.weight.length !== layer.inFeatures * layer.outFeatures) {
    fail(layer, `weight has ${layer.weight.length} values, expected ${layer.outFeatures}×${layer.inFeatures}`);
  }
  if (layer.bias.length !== layer.outFeatures) fail(layer, `bias has ${layer.bias.length} values, expected ${layer.outFeatures}`);
  return [layer.outFeatures];
}

export type { Pads4, Pair };
