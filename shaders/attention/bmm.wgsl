// Batched matrix product of two activations, c[b] = A[b] B[b] (M x K by K x N), tiled like the
// project's GEMMs: a T x T tile of c per workgroup, K in steps of T through workgroup memory.
// The operands are read through strides, so the same kernel serves the forward pass (A, B),
// the gradients (g B^T, A^T g) and CP-LRP's redistribution (A^T s, times B element-wise):
//   A[b, m, k] = a[b * aB + m * aR + k * aC], B[b, k, n] = bm[b * bB + k * bR + n * bC];
//   c is contiguous [batch, M, N]; with MUL_E, c = e * (A B), e of c's layout.
// RELU_A / RELU_B / RELU_E read an operand through a ReLU (a ReLU view).

struct Params { batch: u32, M: u32, N: u32, K: u32, aB: u32, aR: u32, aC: u32, bB: u32, bR: u32, bC: u32 }

override RELU_A: bool = false;
override RELU_B: bool = false;
override RELU_E: bool = false;
override MUL_E: bool = false;
override ACCUMULATE: bool = false;
const T: u32 = 16u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> bm: array<f32>;
@group(0) @binding(3) var<storage, read> e: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let b = wid.z;
  let row = wid.y * T + lid.y;
  let col = wid.x * T + lid.x;
  var acc = 0.0;
  let tiles = (p.K + T - 1u) / T;
  for (var t = 0u; t < tiles; t++) {
    // ta[y][x] = A[row, t*T + x]; tb[y][x] = B[t*T + y, col].
    let ka = t * T + lid.x;
    var va = 0.0;
    if (row < p.M && ka < p.K) {
      va = a[b * p.aB + row * p.aR + ka * p.aC];
      if (RELU_A) { va = max(va, 0.0); }
    }
    ta[lid.y][lid.x] = va;
    let kb = t * T + lid.y;
    var vb = 0.0;
    if (col < p.N && kb < p.K) {
      vb = bm[b * p.bB + kb * p.bR + col * p.bC];
      if (RELU_B) { vb = max(vb, 0.0); }
    }
    tb[lid.y][lid.x] = vb;
    workgroupBarrier();
    for (var k = 0u; k < T; k++) { acc += ta[lid.y][k] * tb[k][lid.x]; }
    workgroupBarrier();
  }
  if (row >= p.M || col >= p.N) { return; }
  let i = (b * p.M + row) * p.N + col;
  if (MUL_E) {
    var ve = e[i];
    if (RELU_E) { ve = max(ve, 0.0); }
    acc *= ve;
  }
  if (ACCUMULATE) {
    c[i] += acc;
  } else {
    c[i] = acc;
  }
}
