// The forward half of an LRP rule on a convolution: the rule's denominators d_j, computed as a
// convolution with modified inputs and weights, and divided into the upper relevance in the
// epilogue, so what leaves the kernel is already s_j = R_j / stab(d_j) (no extra pass).
//
// A rule's denominator may sum several terms, e.g. p_j = sum_i x_i+ w_ij+ + x_i- w_ij- + b_j+.
// The terms are concatenated along the reduction: segment t of the K loop gathers IN_t(x) and
// reads the weight through W_t, scaled by coef[t], so one GEMM computes the whole sum:
//   d_j = sum_t coef_t * sum_i IN_t(x)_i * W_t(w_ij) + bias_j       (bias modified on the CPU)
// The weights are the forward kernel's own [g][Kpad][Npad] buffer: modifiers are applied in
// registers, so no rule costs weight memory.
//
// Modifier codes. IN: 0 x, 1 x+, 2 x-, 3 ones (1 inside the image, 0 in padding), 4 low[c],
// 5 high[c] (zbox bounds, 0 in padding). W: 0 w, 1 w+, 2 w-, 3 ones, 4 w^2, 5 w + gamma w+,
// 6 w + gamma w-.
// Epilogues (MODE): 0 s = R * gate / stab(d) into slice `outSlice`, gate from the stored z
// (GATE 0 none, 1 [z > 0], 2 [z < 0]); 1 alpha-beta from z: d is p, n = min(z - p, 0), writes
// s_p = R / stab(p) to slice 0 and s_n = R / (n - eps) to slice 1 (for inputs >= 0, the one extra
// convolution of alpha-beta); 2 gamma from z: d is p = x W+ + b+, writes R [z>0] / stab(z + g p)
// and R [z<0] / stab(z + g n).

struct Params {
  batch: u32, inC: u32, inH: u32, inW: u32,
  outC: u32, outH: u32, outW: u32, groups: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  dilH: u32, dilW: u32, cinPerGroup: u32, coutPerGroup: u32,
  K: u32, Kpad: u32, Npad: u32, M: u32,
  eps: f32, gamma: f32, sliceLen: u32, outSlice: u32,
  coef0: f32, coef1: f32, coef2: f32,
}

override KH: u32 = 3u;
override KW: u32 = 3u;
override RELU_IN: bool = false;
override SEGS: u32 = 1u;
override IN0: u32 = 0u;
override IN1: u32 = 0u;
override IN2: u32 = 0u;
override W0: u32 = 0u;
override W1: u32 = 0u;
override W2: u32 = 0u;
override MODE: u32 = 0u;
override GATE: u32 = 0u;
override WG_M: u32 = 16u;
override WG_N: u32 = 16u;
override BK: u32 = 16u;

const TM: u32 = 4u;
const TN: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> rel: array<f32>;
@group(0) @binding(5) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read> bounds: array<f32>;
@group(0) @binding(7) var<storage, read_write> s: array<f32>;

// Sized for the largest tile configuration (constants: override-sized workgroup arrays crash Dawn).
var<workgroup> As: array<vec4<f32>, 512>;
var<workgroup> Bs: array<vec4<f32>, 256>;

fn inMod(code: u32, v: f32, ci: u32) -> f32 {
  switch code {
    case 1u: { return max(v, 0.0); }
    case 2u: { return min(v, 0.0); }
    case 3u: { return 1.0; }
    case 4u: { return bounds[ci]; }
    case 5u: { return bounds[p.inC + ci]; }
    default: { return v; }
  }
}

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

fn segIn(seg: u32) -> u32 { return select(select(IN0, IN1, seg == 1u), IN2, seg == 2u); }
fn segW(seg: u32) -> u32 { return select(select(W0, W1, seg == 1u), W2, seg == 2u); }
fn segCoef(seg: u32) -> f32 { return select(select(p.coef0, p.coef1, seg == 1u), p.coef2, seg == 2u); }

fn stab(d: f32) -> f32 {
  return d + p.eps * select(-1.0, 1.0, d >= 0.0);
}

@compute @workgroup_size(WG_N, WG_M, 1)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
  @builtin(num_workgroups) nwg: vec3<u32>,
) {
  let BM = TM * WG_M;
  let BN = TN * WG_N;
  let threads = WG_M * WG_N;
  let g = wid.z;
  // <generated: fold-grid columns=p.coutPerGroup bn=BN bm=BM>
  // The grid may fold m-tiles into x (tileGrid in src/gpu/grid.ts); this undoes it. Spare
  // workgroups of the last row leave before any barrier (all of it is uniform per workgroup).
  let nTiles = (p.coutPerGroup + BN - 1u) / BN;
  let fold = nwg.x / nTiles;
  let m0 = (wid.y * fold + wid.x / nTiles) * BM;
  let n0 = (wid.x % nTiles) * BN;
  if (m0 >= p.M) { return; }
  // </generated>
  let KK = KH * KW;
  let plane = p.inH * p.inW;

  let aM = tid % BM;
  let aK0 = tid / BM;
  let aKStep = threads / BM;
  let m = m0 + aM;
  let mValid = m < p.M;
  let ox = m % p.outW;
  let oyn = m / p.outW;
  let oy = oyn % p.outH;
  let sample = oyn / p.outH;
  let iy0 = i32(oy * p.strideH) - i32(p.padT);
  let ix0 = i32(ox * p.strideW) - i32(p.padL);
  let xBase = (sample * p.inC + g * p.cinPerGroup) * plane;

  let bN4 = tid % (BN / 4u);
  let bK0 = tid / (BN / 4u);
  let bKStep = threads / (BN / 4u);
  let npad4 = p.Npad / 4u;
  let bCol = n0 / 4u + bN4;
  let wBase = g * p.Kpad * npad4;

  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < TM; i++) { acc[i] = vec4<f32>(0.0); }

  for (var seg = 0u; seg < SEGS; seg++) {
    let im = segIn(seg);
    let wm = segW(seg);
    let coef = segCoef(seg);
    for (var k0 = 0u; k0 < p.Kpad; k0 += BK) {
      for (var kk = aK0; kk < BK; kk += aKStep) {
        let k = k0 + kk;
        var v = 0.0;
        if (mValid && k < p.K) {
          let ci = k / KK;
          let r = k - ci * KK;
          let ky = r / KW;
          let kx = r - ky * KW;
          let iy = iy0 + i32(ky * p.dilH);
          let ix = ix0 + i32(kx * p.dilW);
          if (iy >= 0 && iy < i32(p.inH) && ix >= 0 && ix < i32(p.inW)) {
            var xv = x[xBase + ci * plane + u32(iy) * p.inW + u32(ix)];
            if (RELU_IN) { xv = max(xv, 0.0); }
            v = inMod(im, xv, g * p.cinPerGroup + ci);
          }
        }
        As[kk * (BM / 4u) + aM / 4u][aM % 4u] = v;
      }
      for (var kk = bK0; kk < BK; kk += bKStep) {
        var b = vec4<f32>(0.0);
        if (bCol < npad4) { b = coef * wMod(wm, w[wBase + (k0 + kk) * npad4 + bCol]); }
        Bs[kk * (BN / 4u) + bN4] = b;
      }
      workgroupBarrier();
      for (var kk = 0u; kk < BK; kk++) {
        let a = As[kk * (BM / 4u) + lid.y];
        let b = Bs[kk * (BN / 4u) + lid.x];
        acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
        acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
        acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
        acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
      }
      workgroupBarrier();
    }
  }

  let outPlane = p.outH * p.outW;
  for (var i = 0u; i < TM; i++) {
    let mm = m0 + lid.y * TM + i;
    if (mm >= p.M) { break; }
    let pix = mm % outPlane;
    let smp = mm / outPlane;
    for (var j = 0u; j < TN; j++) {
      let n = n0 + lid.x * TN + j;
      if (n >= p.coutPerGroup) { break; }
      let co = g * p.coutPerGroup + n;
      let o = (smp * p.outC + co) * outPlane + pix;
      let d = acc[i][j] + bias[co];
      let r = rel[o];
      if (MODE == 1u) {
        s[o] = r / stab(d);
        // n = z - p <= 0 by definition (a sum of non-positive terms); rounding can leave z - p at 0
        // or slightly above when n is below float32's resolution of z, and stab() would then add
        // +eps where the true n takes -eps, flipping the sign of s_n. So n is clamped and always
        // stabilised downwards (n = 0 exactly means every term x_i w-_ij is 0: s_n multiplies nothing).
        s[p.sliceLen + o] = r / (min(z[o] - d, 0.0) - p.eps);
      } else if (MODE == 2u) {
        let zo = z[o];
        s[o] = select(0.0, r / stab(zo + p.gamma * d), zo > 0.0);
        s[p.sliceLen + o] = select(0.0, r / stab(zo + p.gamma * min(zo - d, 0.0)), zo < 0.0);
      } else {
        var gate = 1.0;
        if (GATE == 1u) { gate = select(0.0, 1.0, z[o] > 0.0); }
        if (GATE == 2u) { gate = select(0.0, 1.0, z[o] < 0.0); }
        s[p.outSlice * p.sliceLen + o] = gate * r / stab(d);
      }
    }
  }
}
