// One axis of a tensor seen as [outer, axis, inner], copied into another such window: the forward
// and backward passes of slice, gather and the concatenation of a constant (its relevance dropped).
// dst[o, j, i] = src[o, j - shift, i] where 0 <= j - shift < n; elsewhere the constant (HAS_CONST:
// cst[o % constOuter, j, i] before the copied range, cst[o % constOuter, j - n, i] after it) or 0.
// The relevance of a slice is its input's: 0 outside the slice, so the first consumer of a Split's
// input writes every entry and later ones add theirs (ACCUMULATE).

struct Params { total: u32, m: u32, n: u32, inner: u32, shift: i32, constOuter: u32 }

override RELU_IN: bool = false;
override HAS_CONST: bool = false;
override ACCUMULATE: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> cst: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.y * nwg.x * WG + gid.x;
  if (idx >= p.total) { return; }
  let i = idx % p.inner;
  let j = (idx / p.inner) % p.m;
  let o = idx / (p.inner * p.m);
  let js = i32(j) - p.shift;
  var v = 0.0;
  if (js >= 0 && js < i32(p.n)) {
    v = src[(o * p.n + u32(js)) * p.inner + i];
    if (RELU_IN) { v = max(v, 0.0); }
  } else if (HAS_CONST) {
    let cm = p.m - p.n;
    let cj = select(j - p.n, j, js < 0);
    v = cst[((o % p.constOuter) * cm + cj) * p.inner + i];
  }
  if (ACCUMULATE) {
    dst[idx] += v;
  } else {
    dst[idx] = v;
  }
}
