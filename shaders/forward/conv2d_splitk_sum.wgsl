// Finishes a convolution whose reduction was split (forward/conv2d.wgsl, splits > 1): adds the
// slices' partial sums and the bias. part is splits x (N x C x plane), y is N x C x plane.
// The slices are added in a fixed order, so the result does not depend on scheduling.

struct Params { total: u32, splits: u32, plane: u32, channels: u32 }

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  var v = part[i];
  for (var s = 1u; s < p.splits; s++) { v += part[s * p.total + i]; }
  y[i] = v + bias[(i / p.plane) % p.channels];
}
