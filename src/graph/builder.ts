import type {
  Graph, Layer, Pads4, Pair, Shape, ValueInfo,
} from './ir.ts';
import { graphKind, layerFail } from './kinds.ts';

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
  /** The layer producing each value, for dependsOn. */
  private readonly producers = new Map<string, Layer>();
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
    this.producers.set(layer.output, layer);
    return layer;
  }

  /** Whether `value` is computed from `ancestor` (through any path of the layers added so far). */
  dependsOn(value: string, ancestor: string): boolean {
    const seen = new Set<string>();
    const stack = [value];
    while (stack.length) {
      const v = stack.pop()!;
      const layer = this.producers.get(v);
      if (!layer) continue;
      for (const i of layer.inputs) {
        if (i === ancestor) return true;
        if (!seen.has(i)) {
          seen.add(i);
          stack.push(i);
        }
      }
    }
    return false;
  }

  build(output: string, outputs: readonly string[] = [output]): Graph {
    this.shapeOf(output);
    const values = new Map(this.values);
    values.delete(this.input.name);
    return { name: this.name, input: this.input, values, layers: this.layers, output, outputs };
  }
}

/** The per-sample output shape of `layer` on inputs of these shapes (src/graph/kinds.ts). */
export function inferShape(layer: LayerSpec, inputs: readonly Shape[]): number[] {
  const kind = graphKind(layer);
  const want = kind.arity === 'one' ? 1 : kind.arity === 'two' ? 2 : null;
  if (want !== null && inputs.length !== want) layerFail(layer, `expects ${want} input${want === 1 ? '' : 's'}, got ${inputs.length}`);
  return kind.inferShape(layer, inputs);
}

export type { Pads4, Pair };
