/** Dispatches described as data, so a layer's work can be recorded, profiled and labelled; the context runs them. */

/** One buffer binding: a whole buffer or a range of it. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/** One compute dispatch, described, so a layer's work can be recorded, profiled and labelled. */
export interface Dispatch {
  /** What runs, e.g. `conv2d` — the kernel named in errors and profiles. */
  readonly kernel: string;
  /** Which layer it runs for. */
  readonly layer: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindings: readonly Binding[];
  readonly workgroups: readonly [number, number, number];
  /** Floating-point operations, for GFLOP/s in profiles (2 per multiply-add). */
  readonly flops?: number;
  /** Bytes read and written, for GB/s. */
  readonly bytes?: number;
}
