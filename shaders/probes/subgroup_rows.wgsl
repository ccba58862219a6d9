enable subgroups;
// Where a device's subgroups fall in a workgroup, for the kernels' subgroups variants (the
// gemm-fma step of scripts/shadergen/snippets.ts with rows=subgroups). Each of n = 8 x 4
// invocations writes its subgroup size, its lane, and the local index of its subgroup's lane 0
// (as broadcast from there); src/gpu/subgroups.ts accepts the device only when every subgroup is
// 4 or 8 consecutive invocations starting at a multiple of its size, so that the subgroups of an
// 8-wide row lie inside the row. WGSL leaves this layout to the implementation, hence the probe.

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(8, 4, 1)
fn main(
  @builtin(local_invocation_index) tid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
  @builtin(subgroup_size) size: u32,
) {
  let first = subgroupBroadcast(tid, 0u);
  if (tid < p.n) {
    out[3u * tid] = size;
    out[3u * tid + 1u] = lane;
    out[3u * tid + 2u] = first;
  }
}
