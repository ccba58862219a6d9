import type {
  ConvLayer, DenseLayer, Graph, Layer, Pads4, Pair, Shape, ValueInfo,
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

/** A NaN or infinite parameter (a corrupt weight file) is refused at load time, naming where it is. */
function checkFinite(layer: LayerSpec, what: string, values: Float32Array): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) fail(layer, `${what} value ${i} of ${values.length} is ${values[i]}: the parameters are corrupt`);
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
  if (layer.kind !== 'concat' && inputs.length !== 1) fail(layer, `expects 1 input, got ${inputs.length}`);
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
      return [...x];
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
  if (!(Number.isSafeInteger(groups) && groups >= 1)) fail(layer, `groups must be a whole number >= 1, got ${groups}`);
  if (!(Number.isSafeInteger(co) && co >= 1)) fail(layer, `has ${co} output channels`);
  checkFinite(layer, 'weight', layer.weight);
  checkFinite(layer, 'bias', layer.bias);
  if (x[0] !== ci) fail(layer, `expects ${ci} input channels, got ${x[0]}`);
  if (ci % groups !== 0 || co % groups !== 0) fail(layer, `channels ${ci}→${co} do not divide into ${groups} groups`);
  if (layer.weight.length !== co * (ci / groups) * kernel[0] * kernel[1]) {
    fail(layer, `weight has ${layer.weight.length} values, expected ${co}×${ci / groups}×${kernel[0]}×${kernel[1]}`);
  }
  if (layer.bias.length !== co) fail(layer, `bias has ${layer.bias.length} values, expected ${co}`);
  const [h, w] = windowOutputHW(x, kernel, layer.stride, layer.pads, layer.dilation, false);
  return [co, h, w];
}

function denseShape(layer: DenseLayer, x: Shape): number[] {
  if (x.length !== 1) fail(layer, `expects a flat input, got [${x.join(', ')}] (is a Flatten missing?)`);
  if (!(Number.isSafeInteger(layer.outFeatures) && layer.outFeatures >= 1)) fail(layer, `has ${layer.outFeatures} output features`);
  checkFinite(layer, 'weight', layer.weight);
  checkFinite(layer, 'bias', layer.bias);
  if (x[0] !== layer.inFeatures) fail(layer, `expects ${layer.inFeatures} input features, got ${x[0]}`);
  if (layer.weight.length !== layer.inFeatures * layer.outFeatures) {
    fail(layer, `weight has ${layer.weight.length} values, expected ${layer.outFeatures}×${layer.inFeatures}`);
  }
  if (layer.bias.length !== layer.outFeatures) fail(layer, `bias has ${layer.bias.length} values, expected ${layer.outFeatures}`);
  return [layer.outFeatures];
}

export type { Pads4, Pair };
