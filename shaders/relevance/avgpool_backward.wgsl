// Average-pooling relevance (and global average pooling: one window over the whole map) as a
// gather: one invocation per INPUT element, summing over the windows that contain it, since WGSL
// has no atomic float add for a scatter from the outputs. div_j is the forward divisor of
// forward/avgpool.wgsl (ONNX count_include_pad: the window clipped to the padded extent, or only
// its in-image part); count_j is the window's in-image size.
//   MODE 0 (norm, zennit's Norm): R_i = x_i * sum_j (1 / div_j) R_j / stab(z_j), z_j the stored output.
//   MODE 1 (flat, inputs replaced by ones): R_i = sum_j (1 / div_j) R_j / stab(o_j), o_j = count_j / div_j.
//   MODE 2 (gradient): R_i = sum_j R_j / div_j.
// stab(d) = d + eps * sign(d) with sign(0) = +1.

struct Params {
  total: u32, channels: u32, inH: u32, inW: u32,
  outH: u32, outW: u32, kH: u32, kW: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  padB: u32, padR: u32, countIncludePad: u32, eps: f32,
}

override MODE: u32 = 0u;
override RELU_IN: bool = false;
// Add into relIn instead of overwriting it: another consumer of the same value wrote there first.
override ACCUMULATE: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> relOut: array<f32>;
@group(0) @binding(4) var<storage, read_write> relIn: array<f32>;

fn stab(d: f32) -> f32 {
  return select(d - p.eps, d + p.eps, d >= 0.0);
}

// The windows along one axis that contain padded position t = i + padBegin: o * stride <= t < o * stride + k.
fn windowRange(t: i32, k: u32, stride: u32, count: u32) -> vec2<i32> {
  let a = t - i32(k) + 1;
  let lo = select(0, (a + i32(stride) - 1) / i32(stride), a > 0);
  let hi = min(t / i32(stride), i32(count) - 1);
  return vec2<i32>(lo, hi);
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let ix = i % p.inW;
  let iy = (i / p.inW) % p.inH;
  let nc = i / (p.inW * p.inH);
  let outBase = nc * p.outH * p.outW;
  let ry = windowRange(i32(iy + p.padT), p.kH, p.strideH, p.outH);
  let rx = windowRange(i32(ix + p.padL), p.kW, p.strideW, p.outW);
  var acc = 0.0;
  for (var oy = ry.x; oy <= ry.y; oy++) {
    let y0 = oy * i32(p.strideH) - i32(p.padT);
    let y1 = min(y0 + i32(p.kH), i32(p.inH + p.padB));
    let rows = min(y1, i32(p.inH)) - max(y0, 0);
    for (var ox = rx.x; ox <= rx.y; ox++) {
      let x0 = ox * i32(p.strideW) - i32(p.padL);
      let x1 = min(x0 + i32(p.kW), i32(p.inW + p.padR));
      let inside = f32(rows * (min(x1, i32(p.inW)) - max(x0, 0)));
      var div = inside;
      if (p.countIncludePad != 0u) { div = f32((y1 - y0) * (x1 - x0)); }
      let j = outBase + u32(oy) * p.outW + u32(ox);
      if (MODE == 0u) {
        acc += relOut[j] / div / stab(z[j]);
      } else if (MODE == 1u) {
        acc += relOut[j] / div / stab(inside / div);
      } else {
        acc += relOut[j] / div;
      }
    }
  }
  if (MODE == 0u) {
    var v = x[i];
    if (RELU_IN) { v = max(v, 0.0); }
    acc *= v;
  }
  if (ACCUMULATE) {
    relIn[i] += acc;
  } else {
    relIn[i] = acc;
  }
}
