// Max-pooling relevance, from the outputs: one invocation per window finds its argmax (or its
// share) once and adds it into the window's inputs.
//   MODE 0 (winner, and the gradient): R_i = sum of R_j over the windows whose maximum is i. The
//     first maximum in row-major window order wins a tie, exactly as PyTorch's max_pool2d routes
//     its gradient. With RELU_IN the comparison is on max(x, 0), so a window of non-positive
//     values is a tie of zeros won by its first element.
//   MODE 1 (proportional): R_i = x_i * sum_j R_j / stab(z_j), z_j the stored pooled output.
// stab(d) = d + eps * sign(d) with sign(0) = +1. Padding is no input: it never wins and gets nothing.
// WGSL has no atomic float add, so overlapping windows must not write at once: the host runs the
// windows in phases (py, px) of period (Py, Px) along each axis, Py = ceil(window extent /
// stride), whose windows are disjoint, one dispatch per phase, each adding into relIn (after a
// clearing dispatch, p.clear, unless the op accumulates). ResNet's 3x3/2 pool: 4 phases. The
// gather this replaced (one invocation per input, recomputing the argmax of every window holding
// it and testing each tap with a runtime modulo, which LLVM scalarises on lavapipe) took 27 to
// 115 times the forward pool's time on ResNet-50, the phases 1.4 to 4 times (bench/RESULTS.md).
// TILED: the windows tile the input exactly (kernel = stride, no padding or dilation, the input a
// whole number of windows: VGG's 2x2/2 pools): one phase, which writes all of each window
// (overwriting, or adding where ACCUMULATE), so no clearing pass.

struct Params {
  total: u32, channels: u32, inH: u32, inW: u32,
  outH: u32, outW: u32, kH: u32, kW: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  dilH: u32, dilW: u32, eps: f32,
  // Phased (not TILED): a dispatch that zeroes relIn's `total` values instead, or phase (py, px)
  // of period (Py, Px), whose windows (py + qy * Py, px + qx * Px) number phaseH x phaseW a plane.
  clear: u32, py: u32, px: u32, Py: u32, Px: u32, phaseH: u32, phaseW: u32,
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

// Phased: window t of the phase (of `total`, here batch x channels x phaseH x phaseW) adds its
// relevance into its inputs, which no other window of the phase holds.
fn phased(t: u32) {
  let ox = p.px + (t % p.phaseW) * p.Px;
  let oy = p.py + ((t / p.phaseW) % p.phaseH) * p.Py;
  let nc = t / (p.phaseW * p.phaseH);
  let base = nc * p.inH * p.inW;
  let j = (nc * p.outH + oy) * p.outW + ox;
  if (MODE == 0u) {
    let winner = argmax(base, oy, ox);
    if (winner != 0xffffffffu) { relIn[base + winner] += relOut[j]; }
    return;
  }
  let share = relOut[j] / stab(z[j]);
  let iy0 = i32(oy * p.strideH) - i32(p.padT);
  let ix0 = i32(ox * p.strideW) - i32(p.padL);
  for (var ky = 0u; ky < p.kH; ky++) {
    let iy = iy0 + i32(ky * p.dilH);
    if (iy < 0 || iy >= i32(p.inH)) { continue; }
    for (var kx = 0u; kx < p.kW; kx++) {
      let ix = ix0 + i32(kx * p.dilW);
      if (ix < 0 || ix >= i32(p.inW)) { continue; }
      let at = base + u32(iy) * p.inW + u32(ix);
      relIn[at] += load(at) * share;
    }
  }
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  if (TILED) {
    window(i);
  } else if (p.clear != 0u) {
    relIn[i] = 0.0;
  } else {
    phased(i);
  }
}
