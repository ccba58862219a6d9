// The randomization check's ranking, step 1 of 3 (then bitonic_step.wgsl, rank_sorted.wgsl): each
// scaled map (values in [0, 1]) copied into a sort buffer of `pad` (the next power of two) keys
// with their pixel indices; the padding keys are 2, above every value, so they sort last.

struct Params {
  plane: u32,
  pad: u32,
  total: u32,   // maps * pad
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
// maps x plane values in [0, 1].
@group(0) @binding(1) var<storage, read> maps: array<f32>;
// maps x pad keys and pixel indices.
@group(0) @binding(2) var<storage, read_write> keys: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<u32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.y * nwg.x * WG + gid.x;
  if (t >= p.total) { return; }
  let m = t / p.pad;
  let i = t - m * p.pad;
  keys[t] = select(2.0, maps[m * p.plane + min(i, p.plane - 1u)], i < p.plane);
  idx[t] = i;
}
