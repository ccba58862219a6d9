// The redistribution of an LRP rule (and the gradient) through a depthwise convolution: for each
// input of channel ci,
//   R[n, ci, iy, ix] = IN(x) * sum_{m < mult} sum_t coef_t * sum_{ky, kx} W_t(w[co, ky, kx]) * s_t[n, co, oy, ox]
// with co = ci * mult + m and oy * SH - padT + ky * DH = iy (the same for x), times the rule's
// input factor (the transpose-epilogue of relevance/conv_transpose.wgsl), written or added.
//
// Each invocation gathers a PY x PX block of inputs of one channel. PY is a multiple of SH and the
// top pad's phase PHY = padT % SH a constant, so which window row of s each (py, ky) reads, and
// whether it reads one at all (a stride skips taps), is known at compile time: with
// e = PHY + py + KH * DH * SH - ky * DH (never negative) the tap reaches an output iff e % SH == 0,
// at row e / SH - E0 of the window, the window's first row being output row q - KH * DH + E0,
// q = (iy0 + padT - PHY) / SH. Likewise along x. Every s value of the window is loaded once and
// used by every tap and input of the block that reaches it; a row of it is read as the aligned
// vec4s that hold it (as forward/depthwise.wgsl reads x).

struct Params {
  total: u32,   // batch * inC * blocksY * blocksX invocations
  outC: u32, inC: u32, mult: u32,
  inH: u32, inW: u32, outH: u32, outW: u32,
  padT: u32, padL: u32, blocksX: u32, blocksY: u32,
  sliceLen: u32, gamma: f32,
  // The rule's redistribution (relevance/conv_transpose.wgsl): read x through a ReLU, the input
  // factor, whether to add into r, per segment the slice of s, weight modifier and coefficient.
  reluIn: u32, out: u32, accumulate: u32,
  slice: vec4<u32>, wCode: vec4<u32>, coef: vec4<f32>,
}

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override DH: u32 = 1u;
override DW: u32 = 1u;
override PY: u32 = 4u;
override PX: u32 = 4u;
override PHY: u32 = 0u;
override PHX: u32 = 0u;
override SEGS: u32 = 1u;
override WG: u32 = 64u;

override KK4: u32 = (KH * KW + 3u) / 4u;
override E0Y: u32 = (PHY + KH * DH * SH - (KH - 1u) * DH) / SH;
override E0X: u32 = (PHX + KW * DW * SW - (KW - 1u) * DW) / SW;
override NY: u32 = (PHY + PY - 1u + KH * DH * SH) / SH - E0Y + 1u;
override NX: u32 = (PHX + PX - 1u + KW * DW * SW) / SW - E0X + 1u;
override NV: u32 = (NX + 6u) / 4u;

const MAX_K4: u32 = 32u;
const MAX_SX: u32 = 32u;
const MAX_OUT: u32 = 64u;
const MAX_NV: u32 = 9u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> bounds: array<f32>;
@group(0) @binding(5) var<storage, read_write> r: array<f32>;

// <generated: weight-modifier>
fn wMod(code: u32, v: vec4<f32>) -> vec4<f32> {
  switch code {
    case 1u: { return max(v, vec4<f32>(0.0)); }
    case 2u: { return min(v, vec4<f32>(0.0)); }
    case 3u: { return vec4<f32>(1.0); }
    case 4u: { return v * v; }
    case 5u: { return v + p.gamma * max(v, vec4<f32>(0.0)); }
    case 6u: { return v + p.gamma * min(v, vec4<f32>(0.0)); }
    default: { return v; }
  }
}
// </generated>

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

// NX values of s from flat offset `off` (column ox0 of its row; zero outside the map), read as
// the aligned vec4s that hold them, each lane's values picked by its offset mod 4 (as
// forward/depthwise.wgsl reads x).
fn windowRow(rowOk: bool, off: i32, ox0: i32) -> array<f32, MAX_SX> {
  var row: array<f32, MAX_SX>;
  if (rowOk) {
    let a = u32(off & 3);
    let q = (off - i32(a)) / 4;
    var v: array<vec4<f32>, MAX_NV>;
    for (var i = 0u; i < NV; i++) { v[i] = s[u32(q + i32(i))]; }
    for (var j = 0u; j < NX; j++) {
      let lo = select(v[j / 4u][j % 4u], v[(j + 1u) / 4u][(j + 1u) % 4u], a == 1u);
      let hi = select(v[(j + 2u) / 4u][(j + 2u) % 4u], v[(j + 3u) / 4u][(j + 3u) % 4u], a == 3u);
      row[j] = select(0.0, select(lo, hi, a >= 2u), u32(ox0 + i32(j)) < p.outW);
    }
  } else {
    for (var j = 0u; j < NX; j++) { row[j] = 0.0; }
  }
  return row;
}

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.y * nwg.x * WG + gid.x;
  if (t >= p.total) { return; }
  let bx = t % p.blocksX;
  let t1 = t / p.blocksX;
  let by = t1 % p.blocksY;
  let nc = t1 / p.blocksY;
  let ci = nc % p.inC;
  let n = nc / p.inC;
  let iy0 = by * PY;
  let ix0 = bx * PX;
  // The window's first output row and column.
  let oy0 = i32((iy0 + p.padT - PHY) / SH) - i32(KH * DH) + i32(E0Y);
  let ox0 = i32((ix0 + p.padL - PHX) / SW) - i32(KW * DW) + i32(E0X);

  var acc: array<f32, MAX_OUT>;
  for (var o = 0u; o < PY * PX; o++) { acc[o] = 0.0; }

  for (var m = 0u; m < p.mult; m++) {
    let co = ci * p.mult + m;
    // The segments written out, not a loop (see relevance/depthwise_stab.wgsl).
    var taps0: array<vec4<f32>, MAX_K4>;
    var taps1: array<vec4<f32>, MAX_K4>;
    var taps2: array<vec4<f32>, MAX_K4>;
    for (var i = 0u; i < KK4; i++) {
      let v = w[co * KK4 + i];
      taps0[i] = p.coef[0] * wMod(p.wCode[0], v);
      if (SEGS > 1u) { taps1[i] = p.coef[1] * wMod(p.wCode[1], v); }
      if (SEGS > 2u) { taps2[i] = p.coef[2] * wMod(p.wCode[2], v); }
    }
    let sPlane = (n * p.outC + co) * p.outH * p.outW;
    for (var wr = 0u; wr < NY; wr++) {
      let oy = oy0 + i32(wr);
      let rowOk = u32(oy) < p.outH;
      let off = i32(sPlane) + oy * i32(p.outW) + ox0;
      let row0 = windowRow(rowOk, off + i32(p.slice[0] * p.sliceLen), ox0);
      var row1: array<f32, MAX_SX>;
      var row2: array<f32, MAX_SX>;
      if (SEGS > 1u) { row1 = windowRow(rowOk, off + i32(p.slice[1] * p.sliceLen), ox0); }
      if (SEGS > 2u) { row2 = windowRow(rowOk, off + i32(p.slice[2] * p.sliceLen), ox0); }
      for (var py = 0u; py < PY; py++) {
        for (var ky = 0u; ky < KH; ky++) {
          let ey = PHY + py + KH * DH * SH - ky * DH;
          if (ey % SH == 0u && ey / SH - E0Y == wr) {
            for (var kx = 0u; kx < KW; kx++) {
              let k = ky * KW + kx;
              for (var px = 0u; px < PX; px++) {
                let ex = PHX + px + KW * DW * SW - kx * DW;
                if (ex % SW == 0u) {
                  let wc = ex / SW - E0X;
                  var a = fma(row0[wc], taps0[k / 4u][k % 4u], acc[py * PX + px]);
                  if (SEGS > 1u) { a = fma(row1[wc], taps1[k / 4u][k % 4u], a); }
                  if (SEGS > 2u) { a = fma(row2[wc], taps2[k / 4u][k % 4u], a); }
                  acc[py * PX + px] = a;
                }
              }
            }
          }
        }
      }
    }
  }

  let plane = nc * p.inH * p.inW;
  for (var py = 0u; py < PY; py++) {
    let iy = iy0 + py;
    for (var px = 0u; px < PX; px++) {
      let ix = ix0 + px;
      if (iy < p.inH && ix < p.inW) { epilogue(plane + iy * p.inW + ix, ci, acc[py * PX + px]); }
    }
  }
}
