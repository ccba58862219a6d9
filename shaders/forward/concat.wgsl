// Copies one input of a channel concatenation into its slice of the output:
// x is N x C x plane, y is N x outC x plane, the slice starts at channel `offset`.

struct Params { total: u32, channels: u32, plane: u32, outChannels: u32, offset: u32 }

override RELU_IN: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let pix = i % p.plane;
  let c = (i / p.plane) % p.channels;
  let n = i / (p.plane * p.channels);
  var v = x[i];
  if (RELU_IN) { v = max(v, 0.0); }
  y[(n * p.outChannels + p.offset + c) * p.plane + pix] = v;
}
