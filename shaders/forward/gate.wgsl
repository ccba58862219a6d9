// A gate: y = x * g (src/graph/ir.ts GateLayer). g holds one value per `plane` consecutive values
// of x: plane = H * W for a squeeze-and-excitation gate (N×C×1×1 against N×C×H×W), 1 where g has
// x's shape; so g's index is i / plane either way. Each input is read through its ReLU view where
// it is one (RELU_X, RELU_G).

struct Params { total: u32, plane: u32 }

override RELU_X: bool = false;
override RELU_G: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  var u = x[i];
  var v = g[i / p.plane];
  if (RELU_X) { u = max(u, 0.0); }
  if (RELU_G) { v = max(v, 0.0); }
  y[i] = u * v;
}
