// Average pooling (and global average pooling: one window over the whole map), one invocation
// per output element. The divisor follows ONNX count_include_pad: the window clipped to the
// padded extent, or only its in-image part.

struct Params {
  total: u32, channels: u32, inH: u32, inW: u32,
  outH: u32, outW: u32, kH: u32, kW: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  padB: u32, padR: u32, countIncludePad: u32,
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
  let y0 = i32(oy * p.strideH) - i32(p.padT);
  let x0 = i32(ox * p.strideW) - i32(p.padL);
  let y1 = min(y0 + i32(p.kH), i32(p.inH + p.padB));
  let x1 = min(x0 + i32(p.kW), i32(p.inW + p.padR));
  var sum = 0.0;
  var inside = 0u;
  for (var iy = max(y0, 0); iy < min(y1, i32(p.inH)); iy++) {
    for (var ix = max(x0, 0); ix < min(x1, i32(p.inW)); ix++) {
      var v = x[base + u32(iy) * p.inW + u32(ix)];
      if (RELU_IN) { v = max(v, 0.0); }
      sum += v;
      inside++;
    }
  }
  var count = f32(inside);
  if (p.countIncludePad != 0u) { count = f32((y1 - y0) * (x1 - x0)); }
  y[i] = sum / count;
}
