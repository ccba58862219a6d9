/**
 * Whether a model's declared sizes fit the device and the host, decided from the graph alone,
 * before any weight is uploaded, any pipeline compiled or any image decoded: a 1 KB ONNX file
 * declaring a 3×20000×20000 input would otherwise make every image be resized to 4.5 GiB before a
 * later check noticed. `ForwardModel.create` runs it first (so every command and the library's
 * `loadModel` do), and the commands that read images run it as soon as the device is open,
 * before reading their inputs.
 *
 * Decisions:
 * - Per sample, the model's input and every value it computes must fit one binding (the smaller
 *   of maxStorageBufferBindingSize and maxBufferSize): the forward and relevance passes keep each
 *   value whole in one buffer. So must each convolution's weight (conv.ts binds it whole); dense
 *   weights are exempt, they are split by rows (dense.ts).
 * - One sample's input may take at most HOST_SAMPLE_BYTES of host memory as float32 (images are
 *   decoded and resized to it on the CPU): 1 GiB, a 3×18918×18918 image, far above any CNN's input.
 */
import { isLinear, numel, valueInfo, type Graph } from '../graph/ir.ts';

/** The most bytes one sample's input may take in host memory, as float32. */
export const HOST_SAMPLE_BYTES = 2 ** 30;

export interface SizeLimits {
  /** The largest buffer one binding may see (GpuContext.maxBinding). */
  readonly binding: number;
  /** The most bytes one sample's input may take in host memory (default HOST_SAMPLE_BYTES). */
  readonly hostSample?: number;
}

const bytesText = (b: number) => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${b} bytes`);

/**
 * Throws, naming the model, the value, its size and the limit and what to change, unless every
 * declared size of `graph` fits `limits`. Reads only shapes: nothing is allocated.
 */
export function checkModelFits(graph: Graph, limits: SizeLimits, name: string = graph.name): void {
  const binding = limits.binding;
  const host = limits.hostSample ?? HOST_SAMPLE_BYTES;
  const bindingText = `this device's binding limit of ${bytesText(binding)} (the smaller of maxStorageBufferBindingSize and maxBufferSize)`;
  const shape = graph.input.shape;
  const inputBytes = 4 * numel(shape);
  const smaller = 'export the model with a smaller input size (e.g. 3×224×224) and give it a preprocessing spec of that size';
  if (inputBytes > host) {
    throw new Error(`model '${name}' declares an input of ${shape.join('×')} per sample (${bytesText(inputBytes)} as float32), `
      + `over the ${bytesText(host)} one sample may take in host memory, where images are decoded and resized to it: ${smaller}`);
  }
  if (inputBytes > binding) {
    throw new Error(`model '${name}' declares an input of ${shape.join('×')} per sample (${bytesText(inputBytes)} as float32): `
      + `one sample's input exceeds the binding limit, ${bindingText}: ${smaller}`);
  }
  for (const layer of graph.layers) {
    const out = valueInfo(graph, layer.output).shape;
    const bytes = 4 * numel(out);
    if (bytes > binding) {
      throw new Error(`model '${name}': one sample's largest activation, the output of layer '${layer.name}' (${out.join('×')}, ${bytesText(bytes)} as float32), `
        + `exceeds the binding limit, ${bindingText}: ${smaller}, or use a device with larger bindings`);
    }
    if (isLinear(layer) && layer.kind === 'conv' && 4 * layer.weight.length > binding) {
      throw new Error(`model '${name}': the weight of convolution '${layer.name}' (${bytesText(4 * layer.weight.length)}) exceeds the binding limit, `
        + `${bindingText}: use a device with larger bindings`);
    }
  }
}
