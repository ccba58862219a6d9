// A permutation of the per-sample axes, one invocation per element of y (the batch axis stays
// first): y is N x dims (dims padded to 4 with leading 1s), and element (n, i0, i1, i2, i3) of y
// reads x[n * count + i0 * srcStride.x + i1 * srcStride.y + i2 * srcStride.z + i3 * srcStride.w],
// srcStride the input's row-major strides taken in the output's axis order. The forward pass of a
// Transpose, and its relevance and gradient (the inverse permutation, adding into relIn with
// ACCUMULATE where another consumer of the value wrote there first).

struct Params { total: u32, count: u32, dims: vec4<u32>, srcStride: vec4<u32> }

override RELU_IN: bool = false;
override ACCUMULATE: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let n = i / p.count;
  var r = i % p.count;
  let i3 = r % p.dims.w;
  r = r / p.dims.w;
  let i2 = r % p.dims.z;
  r = r / p.dims.z;
  let i1 = r % p.dims.y;
  let i0 = r / p.dims.y;
  var v = x[n * p.count + i0 * p.srcStride.x + i1 * p.srcStride.y + i2 * p.srcStride.z + i3 * p.srcStride.w];
  if (RELU_IN) { v = max(v, 0.0); }
  if (ACCUMULATE) {
    y[i] += v;
  } else {
    y[i] = v;
  }
}
