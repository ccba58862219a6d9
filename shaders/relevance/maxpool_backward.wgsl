// Max-pooling relevance as a gather: one invocation per INPUT element, looping over the windows
// that contain it. WGSL has no atomic float add, so a scatter from the outputs could not sum the
// shares an input receives from overlapping windows; a gather sums them in a register.
//   MODE 0 (winner, and the gradient): R_i = sum of R_j over the windows whose maximum is i. The
//     argmax is recomputed per window: the first maximum in row-major window order wins a tie,
//     exactly as PyTorch's max_pool2d routes its gradient. With RELU_IN the comparison is on
//     max(x, 0), so a window of non-positive values is a tie of zeros won by its first element.
//   MODE 1 (proportional): R_i = x_i * sum_j R_j / stab(z_j), z_j the stored pooled output.
// stab(d) = d + eps * sign(d) with sign(0) = +1. Padding is no input: it never wins and gets nothing.
// TILED: the windows tile the input exactly (kernel = stride, no padding or dilation, the input a
// whole number of windows: VGG's 2x2/2 pools), so each input has one window and a scatter cannot
// collide: one invocation per OUTPUT finds its argmax once and writes all of its window. The
// gather recomputes a window's argmax for each of its inputs and tests each tap with a runtime
// modulo (LLVM scalarises those on lavapipe): VGG-16's pools ran 4.6 times their forward time.

struct Params {
  total: u32, channels: u32, inH: u32, inW: u32,
  outH: u32, outW: u32, kH: u32, kW: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  dilH: u32, dilW: u32, eps: f32,
}

override MODE: u32 = 0u;
override RELU_IN: bool = false;
// Add into relIn instead of overwriting it: another consumer of the same value wrote there first.
override ACCUMULATE: bool = false;
override TILED: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;
@group(0) @binding(3) var<storage, read> relOut: array<f32>;
@group(0) @binding(4) var<storage, read_write> relIn: array<f32>;

fn load(i: u32) -> f32 {
  var v = x[i];
  if (RELU_IN) { v = max(v, 0.0); }
  return v;
}

fn stab(d: f32) -> f32 {
  return select(d - p.eps, d + p.eps, d >= 0.0);
}

// The in-plane index (iy * inW + ix) of the first maximum of window (oy, ox) in plane `base`.
fn argmax(base: u32, oy: u32, ox: u32) -> u32 {
  let iy0 = i32(oy * p.strideH) - i32(p.padT);
  let ix0 = i32(ox * p.strideW) - i32(p.padL);
  var best = 0.0;
  var bestAt = 0xffffffffu; // none yet: the first in-image element always takes the lead
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = iy0 + i32(ky * p.dilH);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ix = ix0 + i32(kx * p.dilW);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      let at = u32(iy) * p.inW + u32(ix);
      let v = load(base + at);
      // Strict '>': a later equal value does not take over.
      if (bestAt == 0xffffffffu || v > best) {
        best = v;
        bestAt = at;
      }
    }
  }
  return bestAt;
}

fn put(i: u32, v: f32) {
  if (ACCUMULATE) {
    relIn[i] += v;
  } else {
    relIn[i] = v;
  }
}

// TILED: output j of `total` (here the number of outputs) writes its window's inputs.
fn window(j: u32) {
  let ox = j % p.outW;
  let oy = (j / p.outW) % p.outH;
  let nc = j / (p.outW * p.outH);
  let base = nc * p.inH * p.inW;
  var share = relOut[j];
  var winner = 0xffffffffu;
  if (MODE == 0u) {
    winner = argmax(base, oy, ox);
  } else {
    share /= stab(z[j]);
  }
  for (var ky = 0u; ky < p.kH; ky++) {
    let row = base + (oy * p.kH + ky) * p.inW + ox * p.kW;
    for (var kx = 0u; kx < p.kW; kx++) {
      let at = row + kx;
      if (MODE == 0u) {
        put(at, select(0.0, share, at - base == winner));
      } else {
        put(at, load(at) * share);
      }
    }
  }
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  if (TILED) {
    window(i);
    return;
  }
  let ix = i % p.inW;
  let iy = (i / p.inW) % p.inH;
  let nc = i / (p.inW * p.inH);
  let base = nc * p.inH * p.inW;
  let outBase = nc * p.outH * p.outW;
  let me = iy * p.inW + ix;
  var acc = 0.0;
  // Window (oy, ox) holds input row iy at tap ky when oy * strideH - padT + ky * dilH = iy.
  for (var ky = 0u; ky < p.kH; ky++) {
    let ty = i32(iy + p.padT) - i32(ky * p.dilH);
    if (ty < 0 || u32(ty) % p.strideH != 0u) { continue; }
    let oy = u32(ty) / p.strideH;
    if (oy >= p.outH) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let tx = i32(ix + p.padL) - i32(kx * p.dilW);
      if (tx < 0 || u32(tx) % p.strideW != 0u) { continue; }
      let ox = u32(tx) / p.strideW;
      if (ox >= p.outW) { continue; }
      let j = outBase + oy * p.outW + ox;
      if (MODE == 0u) {
        if (argmax(base, oy, ox) == me) { acc += relOut[j]; }
      } else {
        acc += relOut[j] / stab(z[j]);
      }
    }
  }
  if (MODE == 1u) { acc *= load(i); }
  put(i, acc);
}
