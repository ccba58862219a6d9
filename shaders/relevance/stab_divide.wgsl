// s = R * gate / stab(z) element-wise: the whole forward half of the z and epsilon rules, whose
// denominator is the layer's own stored output, so they need no extra convolution at all.

struct Params { total: u32, eps: f32 }

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> rel: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read_write> s: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let d = z[i];
  s[i] = rel[i] / (d + p.eps * select(-1.0, 1.0, d >= 0.0));
}
