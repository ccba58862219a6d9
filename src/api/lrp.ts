/**
 * The library's entry: `Lrp.create()` takes a WebGPU device (yours, or one it requests from the
 * browser's `navigator.gpu`), `lrp.loadModel()` puts a model on it. In Node, `webgpu-lrp/node`
 * exports an `Lrp` with the same methods that starts Dawn and also reads files.
 *
 * Decisions:
 * - WGSL comes from the sources embedded in the package (src/kernels/wgsl.generated.ts), so a
 *   bundled page needs no shader files or loader; `shaders` overrides that (e.g. to fetch them).
 * - A device the caller passes stays the caller's: `destroy()` frees what the library made on it
 *   and leaves the device alone; a device the library requested, it destroys.
 * - A model URL is fetched; when no preprocessing is given, `URL.json` beside it is tried (as Node
 *   reads `MODEL.onnx.json` beside a file), and its absence (a 404) only means none.
 */
import { CONV_MODES, type ConvMode } from '../forward/winograd.ts';
import { deviceDescriptor, GpuContext, type PipelineProgress } from '../gpu/context.ts';
import type { ShaderLoader } from '../gpu/shaders.ts';
import { checkModelFits } from '../forward/size-limits.ts';
import { ForwardModel } from '../forward/model.ts';
import type { Graph } from '../graph/ir.ts';
import { importOnnx } from '../graph/onnx/import.ts';
import { BUILTIN_MODELS, builtinModel, isBuiltinSpec } from '../graph/zoo.ts';
import { parseLabels } from '../io/labels.ts';
import { WGSL } from '../kernels/wgsl.generated.ts';
import { builtinPreprocess } from '../preprocess/presets.ts';
import { parsePreprocessSpec, parsePreprocessSpecText, type PreprocessSpec } from '../preprocess/spec.ts';
import { describeValue, requireOptions } from '../io/arguments.ts';
import { checkPreprocessFits } from './input.ts';
import { Model, type ModelParts } from './model.ts';

/** Options of {@link Lrp.create}. */
export interface LrpOptions {
  /**
   * A device of yours (e.g. the one your renderer uses, so relevance left on the GPU can feed
   * your kernels). Default: one the library requests from `navigator.gpu` with the adapter's
   * full limits.
   */
  readonly device?: GPUDevice;
  /** Which adapter to ask for when the library requests the device. Default `'high-performance'`. */
  readonly powerPreference?: GPUPowerPreference;
  /** Where WGSL comes from, by path below `shaders/`. Default: the sources embedded in the package. */
  readonly shaders?: ShaderLoader;
  /**
   * Told as GPU pipelines are compiled and first run, for a progress display: a first run
   * compiles every kernel, which takes a while on some drivers and in some browsers.
   */
  readonly onPipelineProgress?: (progress: PipelineProgress) => void;
}

/**
 * A model to load: ONNX bytes, a URL to fetch them from, or a built-in architecture with random
 * weights (`'vgg16:random'`, `'alexnet:random:SEED'`, ...). In Node a string may also be a file path.
 */
export type ModelSource = Uint8Array | ArrayBuffer | URL | string;

/** A preprocessing spec (shared/docs/evaluation-protocol.md, "Preprocessing"), as an object or JSON text; in Node also a file path. */
export type PreprocessSource = PreprocessSpec | string;

/** Options of {@link Lrp.loadModel}. */
export interface LoadModelOptions {
  /**
   * How images become the model's input: resize, channel order, scale, mean and std. Default:
   * `MODEL.onnx.json` beside the model (a file in Node, `URL.json` for a URL), the built-in
   * models' own, or none (then the model takes tensors only).
   *
   * @example
   * ```ts
   * { size: [224, 224], channels: 'RGB', scale: 1 / 255, mean: [0.485, 0.456, 0.406],
   *   std: [0.229, 0.224, 0.225], resize: 'shorter-side-crop', shorter: 256 }
   * ```
   */
  readonly preprocess?: PreprocessSource;
  /**
   * Class names for predictions: a list, or the text of a labels file (synset_words.txt, one name
   * per line, or JSON); in Node also a file path.
   */
  readonly labels?: readonly string[] | string;
  /** The graph output to explain, for models with several (default: the first). */
  readonly output?: string;
  /** The name messages use (default: the file or URL name, `model.onnx` for bytes). */
  readonly name?: string;
  /**
   * How 3x3 stride-1 convolutions run: `'direct'`, `'winograd'` (Winograd F(4x4, 3x3) wherever it
   * applies; `Model.convMethods` says where it could not), or `'auto'` (the default: on CPU
   * adapters, for layers of 64 or more channels, Winograd F(4x4, 3x3) on planes of 28x28 and more,
   * F(2x2, 3x3) on 14x14, direct below; direct elsewhere and on GPUs). The relevance passes of an
   * explainer of the model (denominators and redistribution) follow it, each pass choosing by its
   * own plane (the redistribution takes F(2x2, 3x3) on 7x7 too).
   */
  readonly conv?: ConvMode;
}

/** No WebGPU in this environment, or no adapter: the message says what to do. */
export class NoWebGpuError extends Error {
  /** `'NoWebGpuError'`, to tell it apart from other errors. */
  override name = 'NoWebGpuError';
}

/** The shader loader over the embedded WGSL. */
export const embeddedShaders: ShaderLoader = (path) => {
  const text = WGSL[path];
  if (text === undefined) throw new Error(`shader ${path}: not among the package's embedded WGSL files (${Object.keys(WGSL).length} of them)`);
  return text;
};

function isDevice(x: unknown): x is GPUDevice {
  return typeof x === 'object' && x !== null && typeof (x as GPUDevice).createBuffer === 'function' && 'queue' in x;
}

/** "vendor / architecture / description", and whether it is a CPU fallback. */
export function adapterName(info: GPUAdapterInfo | undefined): string {
  if (!info) return 'unnamed adapter';
  const fallback = Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter);
  const name = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unnamed adapter';
  return fallback ? `${name} (fallback adapter, on the CPU)` : name;
}

/** Requests a device from `gpu` (navigator.gpu or Dawn's) with the adapter's full limits; errors say what to do. */
export async function requestDevice(gpu: GPU, powerPreference: GPUPowerPreference = 'high-performance'): Promise<{ device: GPUDevice; adapter: string }> {
  const adapter = await gpu.requestAdapter({ powerPreference });
  if (!adapter) {
    throw new NoWebGpuError('WebGPU is present but found no adapter (requestAdapter returned null): the GPU may be '
      + 'block-listed or its driver missing. In Chrome see chrome://gpu; on Linux try --enable-unsafe-webgpu '
      + '--enable-features=Vulkan, or --use-webgpu-adapter=swiftshader for a CPU adapter.');
  }
  const device = await adapter.requestDevice(deviceDescriptor(adapter));
  return { device, adapter: adapterName(adapter.info) };
}

/** The browser's WebGPU, or an error saying how to get one. */
export function browserGpu(): GPU {
  const nav = (globalThis as { navigator?: Navigator & { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const node = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
  if (node) {
    throw new NoWebGpuError("Node has no navigator.gpu: use the Lrp of 'webgpu-lrp/node', which starts Dawn, or pass { device } to Lrp.create");
  }
  throw new NoWebGpuError('This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Chromium '
    + '(113 or newer); on Linux start it with --enable-unsafe-webgpu (and --enable-features=Vulkan for a GPU). '
    + 'Firefox needs dom.webgpu.enabled; Safari 18+ needs WebGPU switched on in its feature flags. '
    + 'WebGPU also needs a secure context: http://localhost or https://.');
}

/**
 * The library on one WebGPU device: loads models onto it. One per device is plenty; everything it
 * makes is freed by `destroy()`.
 *
 * @example
 * ```ts
 * import { Lrp } from 'webgpu-lrp';
 * const lrp = await Lrp.create();
 * const model = await lrp.loadModel(new URL('model.onnx', location.href));
 * const explainer = await model.explainer('cmp-alpha2-flat');
 * const explanation = await explainer.explain(imageData);
 * ```
 */
export class Lrp {
  /** @internal */
  readonly context: GpuContext;
  /** The adapter the device came from, e.g. "nvidia / ampere / ..." or "llvmpipe ... (on the CPU)". */
  readonly adapter: string;
  private readonly models = new Set<Model>();
  private destroyed = false;

  protected constructor(context: GpuContext, adapter: string, private readonly release: () => void) {
    this.context = context;
    this.adapter = adapter;
  }

  /**
   * Starts the library on a device: `options.device`, or one requested from `navigator.gpu`.
   * Throws a `NoWebGpuError` saying what to do where there is no WebGPU.
   */
  static async create(options: LrpOptions = {}): Promise<Lrp> {
    options = requireOptions('Lrp.create', options);
    const shaders = options.shaders ?? embeddedShaders;
    if (options.device !== undefined) {
      if (!isDevice(options.device)) throw new Error('options.device is not a GPUDevice');
      const ctx = new GpuContext(options.device, { shaders, onPipelineProgress: options.onPipelineProgress });
      return new Lrp(ctx, adapterName((options.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo), () => ctx.destroy());
    }
    const { device, adapter } = await requestDevice(browserGpu(), options.powerPreference);
    const ctx = new GpuContext(device, { shaders, onPipelineProgress: options.onPipelineProgress });
    return new Lrp(ctx, adapter, () => {
      ctx.destroy();
      device.destroy();
    });
  }

  /** The WebGPU device everything runs on. */
  get device(): GPUDevice {
    return this.context.device;
  }

  /**
   * Loads a model onto the device: imports the ONNX graph (or builds a built-in one), uploads and
   * re-lays out the weights, and compiles the forward kernels.
   */
  async loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<Model> {
    if (this.destroyed) throw new Error('this Lrp was destroyed; create another with Lrp.create()');
    options = requireOptions('loadModel', options);
    const parts = await this.readModel(source, options);
    if (parts.preprocess) checkPreprocessFits(parts.graph, parts.preprocess, parts.name);
    if (options.conv !== undefined && !CONV_MODES.includes(options.conv)) {
      throw new Error(`loadModel: options.conv must be one of ${CONV_MODES.join(', ')}, got ${describeValue(options.conv)}`);
    }
    const gone = () => new Error(`loadModel: the Lrp was destroyed while '${parts.name}' was loading (destroy() came before it finished)`);
    checkModelFits(parts.graph, { binding: this.context.maxBinding }, parts.name);
    let forward: ForwardModel;
    try {
      forward = await ForwardModel.create(this.context, parts.graph, { conv: options.conv });
    } catch (e) {
      throw this.destroyed ? gone() : e;
    }
    if (this.destroyed) {
      forward.destroy();
      throw gone();
    }
    const model = Model.of({ ...parts }, forward, () => this.models.delete(model));
    this.models.add(model);
    return model;
  }

  /** Frees every model, explainer and evaluator made here, and the device if the library requested it. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const m of [...this.models]) m.destroy();
    this.release();
  }

  /** @internal The graph, name, preprocessing and labels of a source; Node's Lrp adds files. */
  protected async readModel(source: ModelSource, options: LoadModelOptions): Promise<ModelParts> {
    let graph: Graph;
    let name: string;
    let preprocess: PreprocessSpec | null = null;
    if (typeof source === 'string') {
      if (!isBuiltinSpec(source)) {
        throw new Error(`'${source}' is not a built-in model (${BUILTIN_MODELS.map((m) => `${m}:random`).join(', ')}); `
          + "give the ONNX bytes or a URL, or in Node use the Lrp of 'webgpu-lrp/node' to load files by path");
      }
      graph = builtinModel(source);
      name = source;
      preprocess = builtinPreprocess(source);
      if (options.output !== undefined && options.output !== graph.output) {
        throw new Error(`${source}: no output named '${options.output}' (outputs: ${graph.outputs.join(', ')})`);
      }
    } else if (source instanceof URL) {
      name = options.name ?? (decodeURIComponent(source.pathname.split('/').pop() ?? '') || source.href);
      const res = (await fetchOk(source, 'model'))!;
      graph = importOnnx(new Uint8Array(await res.arrayBuffer()), { source: name, output: options.output });
      if (options.preprocess === undefined) preprocess = await this.fetchBeside(new URL(`${source.href}.json`));
    } else if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
      name = options.name ?? 'model.onnx';
      graph = importOnnx(source instanceof Uint8Array ? source : new Uint8Array(source), { source: name, output: options.output });
    } else {
      throw new Error('a model source is ONNX bytes (Uint8Array or ArrayBuffer), a URL, or a built-in name such as "vgg16:random"');
    }
    if (options.preprocess !== undefined) preprocess = await this.readPreprocess(options.preprocess);
    const labels = options.labels === undefined ? null : await this.readLabels(options.labels);
    return { graph, name: options.name ?? name, preprocess, labels };
  }

  /** @internal A preprocessing option as a spec. */
  protected async readPreprocess(value: PreprocessSource): Promise<PreprocessSpec> {
    if (typeof value !== 'string') return parsePreprocessSpec(value, 'the preprocess option');
    if (!value.trim().startsWith('{')) {
      throw new Error('the preprocess option is a string but not JSON text (which starts with "{"); give the spec as an object or JSON text'
        + " (in Node, the Lrp of 'webgpu-lrp/node' also takes a file path)");
    }
    return parsePreprocessSpecText(value, 'the preprocess option');
  }

  /** @internal A labels option as a list. */
  protected async readLabels(value: readonly string[] | string): Promise<string[]> {
    if (typeof value === 'string') return parseLabels(value, 'the labels option');
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error('the labels option must be a list of class names or the text of a labels file');
    return [...value];
  }

  private async fetchBeside(url: URL): Promise<PreprocessSpec | null> {
    const res = await fetchOk(url, "model's preprocessing spec", true);
    return res ? parsePreprocessSpecText(await res.text(), url.href) : null;
  }
}

/** The response, or null for a 404 when `missingOk`; any other failure throws naming the URL. */
async function fetchOk(url: URL, what: string, missingOk = false): Promise<Response | null> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${url.href}: cannot fetch the ${what} (${(e as Error).message})`);
  }
  if (missingOk && res.status === 404) return null;
  if (!res.ok) throw new Error(`${url.href}: ${res.status} ${res.statusText} (fetching the ${what})`);
  return res;
}
