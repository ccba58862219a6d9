// Adds the row slices of a split statistics GEMM (patterns/stats_gemm.wgsl, splits > 1) into the
// running sums, one slice after the other in a fixed order (the result does not depend on
// scheduling), each compensated as in stats_gemm.wgsl: `state` holds the sums in [0, total) and
// their compensations in [total, 2 total); `part` is splits x total.

struct Params { total: u32, splits: u32 }

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.y * nwg.x * WG + gid.x;
  if (e >= p.total) { return; }
  var s = state[e];
  var c = state[p.total + e];
  for (var k = 0u; k < p.splits; k++) {
    let v = part[k * p.total + e];
    let t = s + v;
    c += select((v - t) + s, (s - t) + v, abs(s) >= abs(v));
    s = t;
  }
  state[e] = s;
  state[p.total + e] = c;
}
