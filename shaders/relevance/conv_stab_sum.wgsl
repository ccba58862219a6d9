// Finishes a denominator GEMM whose reduction was split (conv_stab.wgsl with SPLIT): adds the
// slices' partial sums in a fixed order (the result does not depend on scheduling) and the bias,
// then applies the rule's epilogue as conv_stab.wgsl would have. part is splits x (N x C x plane).

struct Params {
  total: u32, splits: u32, plane: u32, channels: u32,
  eps: f32, gamma: f32, sliceLen: u32, outSlice: u32,
  mode: u32, gate: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> rel: array<f32>;
@group(0) @binding(4) var<storage, read> z: array<f32>;
@group(0) @binding(5) var<storage, read_write> s: array<f32>;

fn stab(d: f32) -> f32 {
  return d + p.eps * select(-1.0, 1.0, d >= 0.0);
}

// <generated: stab-epilogue>
// s from the denominator d of output o: the rule's epilogue, by p.mode and p.gate.
fn epilogue(o: u32, d: f32) {
  let r = rel[o];
  if (p.mode == 1u) {
    s[o] = r / stab(d);
    // n = z - p <= 0 by definition (a sum of non-positive terms); rounding can leave z - p at 0
    // or slightly above when n is below float32's resolution of z, and stab() would then add
    // +eps where the true n takes -eps, flipping the sign of s_n. So n is clamped and always
    // stabilised downwards (n = 0 exactly means every term x_i w-_ij is 0: s_n multiplies nothing).
    s[p.sliceLen + o] = r / (min(z[o] - d, 0.0) - p.eps);
  } else if (p.mode == 2u) {
    let zo = z[o];
    s[o] = select(0.0, r / stab(zo + p.gamma * d), zo > 0.0);
    s[p.sliceLen + o] = select(0.0, r / stab(zo + p.gamma * min(zo - d, 0.0)), zo < 0.0);
  } else {
    var gate = 1.0;
    if (p.gate == 1u) { gate = select(0.0, 1.0, z[o] > 0.0); }
    if (p.gate == 2u) { gate = select(0.0, 1.0, z[o] < 0.0); }
    s[p.outSlice * p.sliceLen + o] = gate * r / stab(d);
  }
}
// </generated>

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  var d = part[i];
  for (var k = 1u; k < p.splits; k++) { d += part[k * p.total + i]; }
  epilogue(i, d + bias[(i / p.plane) % p.channels]);
}
