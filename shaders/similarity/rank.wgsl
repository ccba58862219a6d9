// Average ranks (1-based, ties share the mean of their positions, as scipy's rankdata 'average')
// of each map's pixels, by a counting pass: rank_i = #{j : x_j < x_i} + (#{j : x_j == x_i} + 1) / 2.
// O(plane^2) comparisons per map (4096 pixels: 17 M; 224 x 224: 2.5 G); exact in f32 while
// counts stay below 2^23 (the host refuses larger maps). A sort would cost O(plane log^2 plane)
// but needs a dispatch per merge step; at the check's map sizes the single pass is simpler and,
// on a GPU, fast enough. Every invocation of a workgroup reads the same x_j at the same time (one
// broadcast load on a GPU); staging them in workgroup memory instead was half as fast on
// lavapipe (demo maps, 64 x 64), where each workgroup-memory read in a loop is a loop over lanes.
//
// Grid: x = ceil(plane / WG) tiles of pixels, y = the map.

struct Params {
  plane: u32,
  maps: u32,
}

const WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
// N x plane values.
@group(0) @binding(1) var<storage, read> maps: array<f32>;
// N x plane average ranks.
@group(0) @binding(2) var<storage, read_write> ranks: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let m = wid.y;
  let i = wid.x * WG + lid;
  if (m >= p.maps || i >= p.plane) { return; }
  let base = m * p.plane;
  let v = maps[base + i];
  var less = 0u;
  var equal = 0u;
  for (var j = 0u; j < p.plane; j++) {
    let x = maps[base + j];
    less += select(0u, 1u, x < v);
    equal += select(0u, 1u, x == v);
  }
  ranks[base + i] = f32(less) + 0.5 * f32(equal + 1u);
}
