// The second half of a thin layer's redistribution (src/lrp/ops/conv-backward.ts, "columns"):
// a layer with few input channels (an image's 3) redistributes through a 1x1 GEMM of s with the
// weight as [outC][inC * KH * KW] (conv_transpose.wgsl with one tap: K = outC deep, inC * KH * KW
// columns), which writes per output position the share of every (input channel, tap):
//   cols[n, (ci * KH + ky) * KW + kx, oy, ox] = sum_t coef_t sum_co W_t(w[co, ci, ky, kx]) s[SLICE_t][n, co, oy, ox]
// This kernel sums, per input value, the columns of the taps that reach it (col2im), and applies
// the rule's input factor as conv_transpose.wgsl's epilogue does:
//   R[n, ci, iy, ix] (+)= OUT(x) * sum over (ky, kx) with oy = (iy + padT - ky dilH) / strideH
//                                   and ox = (ix + padL - kx dilW) / strideW whole and in range
// The taps are summed in order ky, kx (the transposed GEMM summed them inside its reduction):
// the same value within float32 rounding. One invocation per input value; groups 1 only.
// The GEMM may run a chunk of input channels at a time (c0 .. c0 + cN): cols then holds that
// chunk's columns, [n, (ci - c0) * KH * KW + ky * KW + kx, oy, ox], and this pass writes its channels.

struct Params {
  total: u32, inC: u32, inH: u32, inW: u32,
  outH: u32, outW: u32, KH: u32, KW: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  dilH: u32, dilW: u32, reluIn: u32, out: u32,
  accumulate: u32, c0: u32, cN: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> cols: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> bounds: array<f32>;
@group(0) @binding(4) var<storage, read_write> r: array<f32>;

// <generated: transpose-epilogue channels=p.inC>
// R at input o (channel or feature c) from the redistributed sum a: times the input factor.
fn epilogue(o: u32, c: u32, a: f32) {
  var f = 1.0;
  switch p.out {
    case 3u: { f = 1.0; }
    case 4u: { f = bounds[c]; }
    case 5u: { f = bounds[p.inC + c]; }
    default: {
      f = x[o];
      if (p.reluIn != 0u) { f = max(f, 0.0); }
      if (p.out == 1u) { f = max(f, 0.0); }
      if (p.out == 2u) { f = min(f, 0.0); }
    }
  }
  var v = f * a;
  if (p.accumulate != 0u) { v += r[o]; }
  r[o] = v;
}
// </generated>

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let ix = i % p.inW;
  let iy = (i / p.inW) % p.inH;
  let nc = i / (p.inW * p.inH);
  let cc = nc % p.cN;
  let n = nc / p.cN;
  let ci = p.c0 + cc;
  let plane = p.outH * p.outW;
  let taps = p.KH * p.KW;
  // Column (ci, 0, 0) of sample n.
  let base = (n * p.cN + cc) * taps * plane;
  var a = 0.0;
  for (var ky = 0u; ky < p.KH; ky++) {
    let ny = i32(iy + p.padT) - i32(ky * p.dilH);
    if (ny < 0 || u32(ny) % p.strideH != 0u) { continue; }
    let oy = u32(ny) / p.strideH;
    if (oy >= p.outH) { continue; }
    for (var kx = 0u; kx < p.KW; kx++) {
      let nx = i32(ix + p.padL) - i32(kx * p.dilW);
      if (nx < 0 || u32(nx) % p.strideW != 0u) { continue; }
      let ox = u32(nx) / p.strideW;
      if (ox >= p.outW) { continue; }
      a += cols[base + (ky * p.KW + kx) * plane + oy * p.outW + ox];
    }
  }
  epilogue((n * p.inC + ci) * p.inH * p.inW + iy * p.inW + ix, ci, a);
}
