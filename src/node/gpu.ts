/**
 * Dawn start-up in Node: the `webgpu` package's navigator.gpu, the adapter's real limits, and a
 * shader loader over the package's `shaders/` folder.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { create, globals } from 'webgpu';
import { deviceDescriptor, GpuContext, type PipelineProgress, type Tuning } from '../gpu/context.ts';
import type { ShaderLoader } from '../gpu/shaders.ts';
import { PACKAGE_ROOT } from './package-root.ts';
import { compileReporter, type CompileReporter } from './compile-progress.ts';

// The core uses WebGPU's global constants (GPUBufferUsage, GPUMapMode), as in a browser.
Object.assign(globalThis, globals);

export const SHADER_DIR = join(PACKAGE_ROOT, 'shaders');

export const nodeShaderLoader: ShaderLoader = (path) => readFile(join(SHADER_DIR, path), 'utf8');

export interface NodeGpu {
  readonly ctx: GpuContext;
  readonly device: GPUDevice;
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits) / mesa / cpu". */
  readonly adapterName: string;
  readonly instance: unknown;
  /** Time spent compiling pipelines, when compile progress is on. */
  readonly compile: CompileReporter | null;
  /** Releases the device so the process can exit. */
  close(): void;
}

export interface NodeGpuOptions {
  /** Dawn toggles and options, e.g. `backend=vulkan`, `adapter=NAME`. */
  dawnOptions?: string[];
  powerPreference?: GPUPowerPreference;
  /** Kernel configuration family; default: read off the adapter. */
  tuning?: Tuning;
  /** Where WGSL comes from; default: the package's `shaders/` folder. */
  shaders?: ShaderLoader;
  /**
   * Say on stderr when pipelines are being compiled (a cold driver cache) with a count (default
   * true); false for silence (tests).
   */
  compileProgress?: boolean;
  /** Pipeline compilation progress to a callback of the caller's instead (then nothing is printed). */
  onPipelineProgress?: (p: PipelineProgress) => void;
  /** Whether kernels may run their subgroups variants (GpuContextOptions.subgroups; default true). */
  subgroups?: boolean;
}

/**
 * lavapipe's worker threads per CPU core where LP_NUM_THREADS is unset. lavapipe hands a dispatch's
 * workgroups to its threads and waits for the last; at batch 1 a layer has few large workgroups,
 * so with one thread per core a core often idles at the tail. Oversubscribed, the OS shares the
 * tail out: VGG-16's forward pass on 2 cores took 2.87 s with 2 threads, 2.46 with 4, 2.25 with 8,
 * 1.90 with 16, 1.95 with 32 (bench/RESULTS.md, "lavapipe's settings"). Other drivers ignore it.
 */
export const LAVAPIPE_THREADS_PER_CORE = 8;

/**
 * Sets LP_NUM_THREADS in this process's environment unless the caller has: lavapipe reads it when
 * the first Vulkan device is made, so this must run before Dawn's create(). Returns the value.
 */
export function defaultLavapipeThreads(env: NodeJS.ProcessEnv = process.env): string {
  env.LP_NUM_THREADS ??= String(LAVAPIPE_THREADS_PER_CORE * availableParallelism());
  return env.LP_NUM_THREADS;
}

export async function createNodeGpu(opts: NodeGpuOptions = {}): Promise<NodeGpu> {
  defaultLavapipeThreads();
  const gpu = create(opts.dawnOptions ?? []);
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new Error(
      'no WebGPU adapter: Dawn found no Vulkan driver. On a machine without a GPU run scripts/setup.sh, '
      + 'which installs Mesa\'s lavapipe (mesa-vulkan-drivers from bookworm-backports).',
    );
  }
  const device = await adapter.requestDevice(deviceDescriptor(adapter));
  const info = adapter.info;
  const adapterName = [info.description || info.device || 'unknown adapter', info.vendor, info.architecture]
    .filter(Boolean).join(' / ');
  const compile = opts.compileProgress === false || opts.onPipelineProgress ? null : compileReporter();
  const ctx = new GpuContext(device, {
    shaders: opts.shaders ?? nodeShaderLoader, tuning: opts.tuning, subgroups: opts.subgroups, onPipelineProgress: opts.onPipelineProgress ?? compile?.onProgress,
  });
  return {
    ctx, device, adapterName, compile,
    // Dawn's instance must outlive its devices: if the GC collects it, event processing touches
    // a destroyed mutex and the process aborts. Holding it here ties its life to this object.
    instance: gpu,
    close() {
      ctx.destroy();
      device.destroy();
    },
  };
}
