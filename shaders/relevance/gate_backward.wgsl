// The true derivative of a gate y = x * g for the gradient methods (LRP's rule holds g constant and
// runs no kernel): relX = relOut * g, relG = sum over g's plane of relOut * x. One workgroup per
// value of g (groups of them, folded into 2-D past the per-dimension limit): its WG invocations
// stride over the plane (H * W for a squeeze-and-excitation gate, 1 where g has x's shape), write
// relX, and reduce relG in workgroup memory. A gate of x's shape thus leaves WG - 1 invocations
// idle per element: such gates are rare (SiLU and HardSwish are fused into one activation).
// Each input is read through its ReLU view (RELU_X, RELU_G); ACC_X and ACC_G add into relX, relG.

struct Params { groups: u32, plane: u32 }

override RELU_X: bool = false;
override RELU_G: bool = false;
override ACC_X: bool = false;
override ACC_G: bool = false;
// A power of two (the tree reduction halves it).
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> relOut: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> relX: array<f32>;
@group(0) @binding(5) var<storage, read_write> relG: array<f32>;

var<workgroup> part: array<f32, WG>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = wid.y * nwg.x + wid.x;
  // Uniform per workgroup: spare workgroups of the last row leave before the barrier together.
  if (j >= p.groups) { return; }
  var gv = g[j];
  if (RELU_G) { gv = max(gv, 0.0); }
  var sum = 0.0;
  for (var k = t; k < p.plane; k += WG) {
    let i = j * p.plane + k;
    let r = relOut[i];
    var xv = x[i];
    if (RELU_X) { xv = max(xv, 0.0); }
    sum = fma(r, xv, sum);
    if (ACC_X) {
      relX[i] += r * gv;
    } else {
      relX[i] = r * gv;
    }
  }
  part[t] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (t < s) { part[t] += part[t + s]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    if (ACC_G) {
      relG[j] += part[0];
    } else {
      relG[j] = part[0];
    }
  }
}
