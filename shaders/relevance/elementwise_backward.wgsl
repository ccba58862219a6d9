// Element-wise relevance steps, one invocation per element of relIn:
//   MODE 0 (copy): relIn = relOut. With ACCUMULATE it is the `add` of a fan-out (relIn += relOut),
//     and it is the pass rule (ReLU, LRN, Flatten, Identity) when the buffers cannot be aliased.
//   MODE 1 (ReLU gradient): relIn = relOut * [x > 0], x the ReLU's input (the pre-activation).
//   MODE 2 (guided backprop's ReLU): relIn = relOut * [x > 0] * [relOut > 0].
//   MODE 3 (concat split): relIn = the channel slice [offset, offset + channels) of relOut, which
//     has outChannels channels: one input of a channel concatenation.
//   MODE 4 (times input): relIn = relOut * x, gradient-x-input at the input layer.
// x is read through a ReLU with RELU_IN (a ReLU view); [max(x, 0) > 0] = [x > 0], so the masks do
// not depend on it. Modes that do not read x are bound with relOut in its place.

struct Params { total: u32, channels: u32, plane: u32, outChannels: u32, offset: u32 }

override MODE: u32 = 0u;
override RELU_IN: bool = false;
// Add into relIn instead of overwriting it: another consumer of the same value wrote there first.
override ACCUMULATE: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> relOut: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> relIn: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  var g: f32;
  if (MODE == 3u) {
    let pix = i % p.plane;
    let c = (i / p.plane) % p.channels;
    let n = i / (p.plane * p.channels);
    g = relOut[(n * p.outChannels + p.offset + c) * p.plane + pix];
  } else {
    g = relOut[i];
  }
  if (MODE == 1u || MODE == 2u || MODE == 4u) {
    var v = x[i];
    if (RELU_IN) { v = max(v, 0.0); }
    if (MODE == 1u) {
      g = select(0.0, g, v > 0.0);
    } else if (MODE == 2u) {
      g = select(0.0, g, v > 0.0 && g > 0.0);
    } else {
      g *= v;
    }
  }
  if (ACCUMULATE) {
    relIn[i] += g;
  } else {
    relIn[i] = g;
  }
}
