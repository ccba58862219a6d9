// The sum of two activations of one shape (a skip connection): y = a + b, each input read through
// its ReLU view where it is one (RELU_A, RELU_B).

struct Params { total: u32 }

override RELU_A: bool = false;
override RELU_B: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  var u = a[i];
  var v = b[i];
  if (RELU_A) { u = max(u, 0.0); }
  if (RELU_B) { v = max(v, 0.0); }
  y[i] = u + v;
}
