// The Add of a constant of the sample's shape (a positional embedding), c the same for every sample:
//   MODE 0 (forward): y = x + c.
//   MODE 1 (LRP, the constant a bias): relIn = x * relOut / stab(x + c), stab(d) = d + eps sign(d),
//     sign(0) = +1.
// x is read through a ReLU with RELU_IN (a ReLU view).

struct Params { total: u32, per: u32, eps: f32 }

override MODE: u32 = 0u;
override RELU_IN: bool = false;
override ACCUMULATE: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> c: array<f32>;
@group(0) @binding(3) var<storage, read> relOut: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  var v = x[i];
  if (RELU_IN) { v = max(v, 0.0); }
  let z = v + c[i % p.per];
  var r = z;
  if (MODE == 1u) {
    r = v * relOut[i] / (z + p.eps * select(-1.0, 1.0, z >= 0.0));
  }
  if (ACCUMULATE) {
    y[i] += r;
  } else {
    y[i] = r;
  }
}
