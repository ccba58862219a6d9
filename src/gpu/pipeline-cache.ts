import type { ShaderLoader } from './shaders.ts';

export type Constants = Record<string, number | boolean>;

/**
 * Progress of pipeline compilation. The cache reports `requested`, `ready` and `failed` as
 * pipelines are created; GpuContext adds `running` and `ran` around the first dispatch of each
 * pipeline, because some drivers compile only then (lavapipe's LLVM code generation).
 */
/**
 * One step of pipeline compilation, for progress displays: the first run on a machine compiles
 * every GPU pipeline (seconds each on some drivers); later runs find them in the driver's cache.
 */
export interface PipelineProgress {
  readonly event: 'requested' | 'ready' | 'failed' | 'running' | 'ran';
  /** The pipeline's key (shader, entry point, constants), or the pass that runs new pipelines. */
  readonly key: string;
  /** Distinct pipelines asked for so far, how many are created, how many have run once. */
  readonly requested: number;
  readonly ready: number;
  readonly ran?: number;
  /** For `ready`, `failed` and `ran`: seconds it took. */
  readonly seconds?: number;
}

export interface PipelineCacheOptions {
  /**
   * Called as pipelines are requested and compiled, so an application can say what the first run
   * on a machine is doing (drivers compile each pipeline once, then serve it from their cache).
   * The cache itself prints nothing.
   */
  readonly onProgress?: (p: PipelineProgress) => void;
}

/**
 * One compiled pipeline per (shader, override constants). Shapes live in uniforms, so the key
 * stays small and a model of 16 layers compiles a handful of pipelines, once.
 */
export class PipelineCache {
  private readonly modules = new Map<string, Promise<GPUShaderModule>>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private requested = 0;
  private ready = 0;

  constructor(private readonly device: GPUDevice, private readonly load: ShaderLoader, private readonly opts: PipelineCacheOptions = {}) {}

  get size(): number {
    return this.pipelines.size;
  }

  /** The shader files (paths under shaders/) asked for so far: which variants a run used. */
  get shaderFiles(): string[] {
    return [...this.modules.keys()].sort();
  }

  /** Pipelines created so far (the rest are compiling). */
  get readyCount(): number {
    return this.ready;
  }

  get(shader: string, constants: Constants = {}, entryPoint = 'main'): Promise<GPUComputePipeline> {
    const keys = Object.keys(constants).sort();
    const key = `${shader}#${entryPoint}#${keys.map((k) => `${k}=${Number(constants[k])}`).join(',')}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const t0 = performance.now();
      const report = this.opts.onProgress;
      p = this.create(shader, constants, entryPoint, key);
      this.pipelines.set(key, p);
      this.requested++;
      report?.({ event: 'requested', key, requested: this.requested, ready: this.ready });
      p.then(() => {
        this.ready++;
        report?.({ event: 'ready', key, requested: this.requested, ready: this.ready, seconds: (performance.now() - t0) / 1000 });
      }, () => {
        // A failed compile must not stay cached: the next call reports the error again.
        this.pipelines.delete(key);
        this.requested--;
        report?.({ event: 'failed', key, requested: this.requested, ready: this.ready, seconds: (performance.now() - t0) / 1000 });
      });
    }
    return p;
  }

  private module(shader: string): Promise<GPUShaderModule> {
    let m = this.modules.get(shader);
    if (!m) {
      m = (async () => {
        const code = await this.load(shader);
        const mod = this.device.createShaderModule({ label: shader, code });
        const info = await mod.getCompilationInfo();
        const errors = info.messages.filter((msg) => msg.type === 'error');
        if (errors.length) {
          throw new Error(`shader ${shader} does not compile:\n${errors.map((e) => `  ${shader}:${e.lineNum}:${e.linePos}: ${e.message}`).join('\n')}`);
        }
        return mod;
      })();
      this.modules.set(shader, m);
      m.catch(() => this.modules.delete(shader));
    }
    return m;
  }

  private async create(shader: string, constants: Constants, entryPoint: string, key: string): Promise<GPUComputePipeline> {
    const module = await this.module(shader);
    const numeric: Record<string, number> = {};
    for (const [k, v] of Object.entries(constants)) numeric[k] = Number(v);
    try {
      return await this.device.createComputePipelineAsync({
        label: key, layout: 'auto', compute: { module, entryPoint, constants: numeric },
      });
    } catch (e) {
      throw new Error(`pipeline ${key} cannot be created: ${(e as Error).message}`);
    }
  }
}
