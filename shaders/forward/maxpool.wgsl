// Max pooling, one invocation per output element. Padding never wins (it acts as -inf), so a
// window entirely in the padding cannot occur: ceil_mode drops such windows in shape inference.

struct Params {
  total: u32, channels: u32, inH: u32, inW: u32,
  outH: u32, outW: u32, kH: u32, kW: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  dilH: u32, dilW: u32,
}

override RELU_IN: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let ox = i % p.outW;
  let oy = (i / p.outW) % p.outH;
  let nc = i / (p.outW * p.outH);
  let base = nc * p.inH * p.inW;
  let iy0 = i32(oy * p.strideH) - i32(p.padT);
  let ix0 = i32(ox * p.strideW) - i32(p.padL);
  var best = bitcast<f32>(0xff7fffffu); // -FLT_MAX: padding never wins
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = iy0 + i32(ky * p.dilH);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ix = ix0 + i32(kx * p.dilW);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      best = max(best, x[base + u32(iy) * p.inW + u32(ix)]);
    }
  }
  if (RELU_IN) { best = max(best, 0.0); }
  y[i] = best;
}
