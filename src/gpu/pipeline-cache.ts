import type { ShaderLoader } from './shaders.ts';

export type Constants = Record<string, number | boolean>;

/**
 * One compiled pipeline per (shader, override constants). Shapes live in uniforms, so the key
 * stays small and a model of 16 layers compiles a handful of pipelines, once.
 */
export class PipelineCache {
  private readonly modules = new Map<string, Promise<GPUShaderModule>>();
  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();

  constructor(private readonly device: GPUDevice, private readonly load: ShaderLoader) {}

  get size(): number {
    return this.pipelines.size;
  }

  get(shader: string, constants: Constants = {}, entryPoint = 'main'): Promise<GPUComputePipeline> {
    const keys = Object.keys(constants).sort();
    const key = `${shader}#${entryPoint}#${keys.map((k) => `${k}=${Number(constants[k])}`).join(',')}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = this.create(shader, constants, entryPoint, key);
      this.pipelines.set(key, p);
      // A failed compile must not stay cached: the next call reports the error again.
      p.catch(() => this.pipelines.delete(key));
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
