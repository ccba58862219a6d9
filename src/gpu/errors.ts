/** A WebGPU failure, named by what was running: the kernel, the layer, the model. */
export class GpuError extends Error {
  constructor(
    message: string,
    readonly kind: 'validation' | 'out-of-memory' | 'internal' | 'device-lost' | 'limits',
    readonly where: string,
  ) {
    super(`${where}: ${kind === 'device-lost' ? 'GPU device lost' : `WebGPU ${kind} error`}: ${message}`);
    this.name = 'GpuError';
  }
}
