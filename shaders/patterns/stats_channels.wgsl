// PatternAttribution's per-output statistics of one linear layer for one batch: over every row r
// (sample, output position), sum y = z - bias (all rows: iNNvestigate's estimator) and the count
// of m = [z > 0], added into the running sums compensated as in patterns/stats_gemm.wgsl.
// One workgroup per output channel: its threads stride over the rows, a tree in workgroup memory
// adds their partial sums, thread 0 adds the batch's total into the running sums. `state` holds
// the sums [sum y (C), count (C)] in [0, 2C) and their compensations in [2C, 4C).

struct Params { batch: u32, channels: u32, plane: u32 }

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;

var<workgroup> red: array<vec2<f32>, WG>;

// <generated: neumaier-accumulate comp="2u * p.channels">
// Adds v into the running sum of element e, compensated (Neumaier): the compensation collects the
// rounding error of each addition, exactly (Fast2Sum with the larger magnitude first).
fn accumulate(e: u32, v: f32) {
  let s = state[e];
  let t = s + v;
  let err = select((v - t) + s, (s - t) + v, abs(s) >= abs(v));
  state[e] = t;
  state[2u * p.channels + e] += err;
}
// </generated>

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // One workgroup per channel, the grid folded into 2-D past the per-dimension limit (uniform per
  // workgroup, so spare workgroups leave before the barrier).
  let co = wid.y * nwg.x + wid.x;
  if (co >= p.channels) { return; }
  let b = bias[co];
  var acc = vec2<f32>(0.0);
  for (var n = 0u; n < p.batch; n++) {
    let base = (n * p.channels + co) * p.plane;
    for (var i = t; i < p.plane; i += WG) {
      let zv = z[base + i];
      acc += vec2<f32>(zv - b, select(0.0, 1.0, zv > 0.0));
    }
  }
  red[t] = acc;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w >>= 1u) {
    if (t < w) { red[t] += red[t + w]; }
    workgroupBarrier();
  }
  if (t == 0u) {
    accumulate(co, red[0].x);
    accumulate(p.channels + co, red[0].y);
  }
}
