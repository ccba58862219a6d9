/**
 * What a backward op holds, given back at once by destroy(): weight copies shared through the
 * WeightStore (released, not destroyed), buffers of its own, and uniform sets. An op builds into
 * one of these and calls destroy() itself if building fails, so nothing leaks on an error.
 */
import type { SharedBuffer } from '../../gpu/weight-store.ts';
import type { UniformsByBatch } from '../../gpu/uniforms.ts';

export class OpResources {
  private readonly shared: SharedBuffer[] = [];
  private readonly owned: GPUBuffer[] = [];
  private readonly uniformSets: UniformsByBatch[] = [];

  /** A buffer this op made; destroyed with it. */
  own = (b: GPUBuffer): GPUBuffer => (this.owned.push(b), b);
  /** A uniform set this op made; destroyed with it. */
  held = <U extends UniformsByBatch>(u: U): U => (this.uniformSets.push(u), u);
  /** A WeightStore copy this op took; released (not destroyed) with it. */
  share = (s: SharedBuffer): SharedBuffer => (this.shared.push(s), s);

  destroy = (): void => {
    this.shared.forEach((s) => s.release());
    this.owned.forEach((b) => b.destroy());
    this.uniformSets.forEach((u) => u.destroy());
  };
}
