// The relevance map the evaluation measures: N x C x H x W summed over channels into N x H x W
// (for --save-relevance, so only a third of the relevance comes back to the CPU).

struct Params { total: u32, channels: u32, plane: u32 }

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rel: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let n = i / p.plane;
  let j = i - n * p.plane;
  let base = n * p.channels * p.plane + j;
  var r = 0.0;
  for (var c = 0u; c < p.channels; c++) { r += rel[base + c * p.plane]; }
  out[i] = r;
}
