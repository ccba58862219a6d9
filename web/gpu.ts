/**
 * WebGPU start-up in a page: the browser's navigator.gpu, the adapter's real limits (the same
 * deviceDescriptor Node uses), and a shader loader that fetches the repository's `shaders/`
 * files from the server by path — the same WGSL text Node reads from disk.
 */
import { deviceDescriptor, GpuContext, type PipelineProgress } from '../src/gpu/context.ts';
import type { ShaderLoader } from '../src/gpu/shaders.ts';

/** Fetches `shaders/<path>` relative to the page. */
export function fetchShaderLoader(base: string | URL = new URL('shaders/', document.baseURI)): ShaderLoader {
  return async (path) => {
    const url = new URL(path, base);
    let res: Response;
    try {
      res = await fetch(url, { cache: 'no-store' });
    } catch (e) {
      throw new Error(`shader ${path}: cannot fetch ${url} (${(e as Error).message}); is lrp web still running?`);
    }
    if (!res.ok) throw new Error(`shader ${path}: ${res.status} ${res.statusText} from ${url}`);
    return res.text();
  };
}

export interface BrowserGpu {
  readonly ctx: GpuContext;
  readonly device: GPUDevice;
  /** e.g. "google / swiftshader (fallback adapter)". */
  readonly adapterName: string;
  readonly isFallback: boolean;
  close(): void;
}

export class NoWebGpuError extends Error {
  override name = 'NoWebGpuError';
}

export async function createBrowserGpu(opts: {
  shaders?: ShaderLoader;
  onLost?: (message: string) => void;
  /** Pipeline compilation progress, for the page's status line. */
  onPipelineProgress?: (p: PipelineProgress) => void;
} = {}): Promise<BrowserGpu> {
  if (!window.isSecureContext) {
    throw new NoWebGpuError(`WebGPU needs a secure context: open this page as http://127.0.0.1:PORT/ or http://localhost:PORT/, not ${location.origin}.`);
  }
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) {
    throw new NoWebGpuError('This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Chromium '
      + '(113 or newer); on Linux start it with --enable-unsafe-webgpu (and --enable-features=Vulkan for a GPU). '
      + 'Firefox needs dom.webgpu.enabled; Safari 18+ needs WebGPU switched on in its feature flags.');
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new NoWebGpuError('WebGPU is present but found no adapter (requestAdapter returned null): the GPU may be '
      + 'block-listed or its driver missing. In Chrome see chrome://gpu; on Linux try --enable-unsafe-webgpu '
      + '--enable-features=Vulkan, or --use-webgpu-adapter=swiftshader for a CPU adapter.');
  }
  const device = await adapter.requestDevice(deviceDescriptor(adapter));
  const info = adapter.info;
  const isFallback = Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter);
  const adapterName = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ')
    + (isFallback ? ' (fallback adapter, on the CPU)' : '');
  const ctx = new GpuContext(device, { shaders: opts.shaders ?? fetchShaderLoader(), onPipelineProgress: opts.onPipelineProgress });
  device.lost.then((lost) => {
    if (lost.reason !== 'destroyed') opts.onLost?.(lost.message || 'unknown reason');
  });
  return {
    ctx, device, adapterName: adapterName || 'unnamed adapter', isFallback,
    close() {
      ctx.destroy();
      device.destroy();
    },
  };
}
