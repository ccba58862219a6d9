// The randomization check's maps (shared/docs/evaluation-protocol.md, "Model-parameter
// randomization"): per map, R summed over channels, its absolute value, scaled by the map's
// largest |R| into [0, 1]. One workgroup per map. Also per map: the largest |R| and how many
// pixels were not finite (an exponent of all ones: inf or NaN), so the host can refuse a
// non-finite map instead of comparing it; a map whose largest |R| is 0 stays 0 (the host calls
// that pair degenerate).
//
// Each invocation scales the pixels it wrote itself, after the workgroup's maximum is known, so
// the second pass needs no storage barrier.

struct Params {
  channels: u32,
  plane: u32,   // H * W
  maps: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
// N x C x H x W float32: input relevance.
@group(0) @binding(1) var<storage, read> rel: array<f32>;
// N x H x W: the scaled maps.
@group(0) @binding(2) var<storage, read_write> maps: array<f32>;
// Per map: [bits of max |R| as f32, count of non-finite pixels].
@group(0) @binding(3) var<storage, read_write> stats: array<u32>;

var<workgroup> wmax: array<f32, WG>;
var<workgroup> wbad: array<u32, WG>;

@compute @workgroup_size(WG, 1, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let m = wid.y * nwg.x + wid.x;
  if (m >= p.maps) { return; } // uniform per workgroup
  let base = m * p.channels * p.plane;
  let out = m * p.plane;
  var mx = 0.0;
  var bad = 0u;
  for (var i = lid; i < p.plane; i += WG) {
    var r = 0.0;
    for (var c = 0u; c < p.channels; c++) { r += rel[base + c * p.plane + i]; }
    let a = abs(r);
    if ((bitcast<u32>(a) & 0x7f800000u) == 0x7f800000u) {
      bad += 1u;
    } else {
      mx = max(mx, a);
    }
    maps[out + i] = a;
  }
  wmax[lid] = mx;
  wbad[lid] = bad;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      wmax[lid] = max(wmax[lid], wmax[lid + s]);
      wbad[lid] += wbad[lid + s];
    }
    workgroupBarrier();
  }
  let top = wmax[0];
  for (var i = lid; i < p.plane; i += WG) {
    maps[out + i] = select(0.0, maps[out + i] / top, top > 0.0);
  }
  if (lid == 0u) {
    stats[2u * m] = bitcast<u32>(top);
    stats[2u * m + 1u] = wbad[0];
  }
}
