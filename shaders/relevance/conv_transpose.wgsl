// The backward half of an LRP rule on a convolution: the transposed convolution that
// redistributes s_j = R_j / stab(d_j) to the inputs, times the rule's input factor:
//   R_i (+)= OUT(x)_i * sum_t coef_t * sum_j W_t(w_ij) * s[SLICE_t]_j
// as an implicit GEMM over input pixels: m = (sample, iy, ix), n = input channel in the group,
// k = (t, output channel, ky, kx).
// Strided layers run one dispatch per stride phase (iy mod strideH, ix mod strideW): within a
// phase only the taps with (iy + pad - ky * dil) divisible by the stride reach an output, and they
// form an arithmetic progression ky = ky0 + a * stepY (a < nty), likewise for kx. So the
// reduction runs over those taps alone, not over all KH*KW of which only ~1/(strideH*strideW)
// contribute (an 11x11 stride-4 layer: 121 taps, about 8 of them live per pixel). A stride-1
// layer is a single phase with every tap.
// Several terms of one rule that share the input factor (alpha-beta's alpha W+ s_p and
// -beta W- s_n for inputs >= 0) are segments of one reduction: one pass, not two.
// The weight is re-laid out once per model to [g][co*KH*KW + ky*KW + kx][Cpad]; modifier codes
// are those of conv_stab.wgsl (OUT uses the IN codes). ACCUMULATE adds into R (fan-out, or the
// second factor of a rule on signed inputs).

struct Params {
  batch: u32, inC: u32, inH: u32, inW: u32,
  outC: u32, outH: u32, outW: u32, groups: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  dilH: u32, dilW: u32, cinPerGroup: u32, coutPerGroup: u32,
  // Of this phase: K = coutPerGroup * nty * ntx, Kpad rounded up to BK, M = batch * Hp * Wp.
  K: u32, Kpad: u32, Npad: u32, M: u32,
  // wRows: rows per group of the weight buffer (coutPerGroup * KH * KW rounded up to BK).
  gamma: f32, sliceLen: u32, wRows: u32,
  coef0: f32, coef1: f32, coef2: f32,
  // The phase: its first input row and column, its rows and columns, and its taps.
  py: u32, px: u32, Hp: u32, Wp: u32,
  ky0: u32, kx0: u32, nty: u32, ntx: u32,
  stepY: u32, stepX: u32,
}

override KH: u32 = 3u;
override KW: u32 = 3u;
override RELU_IN: bool = false;
override SEGS: u32 = 1u;
override SLICE0: u32 = 0u;
override SLICE1: u32 = 0u;
override SLICE2: u32 = 0u;
override W0: u32 = 0u;
override W1: u32 = 0u;
override W2: u32 = 0u;
override OUT: u32 = 0u;
override ACCUMULATE: bool = false;
override WG_M: u32 = 16u;
override WG_N: u32 = 16u;
override BK: u32 = 16u;

const TM: u32 = 4u;
const TN: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> bounds: array<f32>;
@group(0) @binding(5) var<storage, read_write> r: array<f32>;

// Sized for the largest tile configuration (constants: override-sized workgroup arrays crash Dawn).
var<workgroup> As: array<vec4<f32>, 512>;
var<workgroup> Bs: array<vec4<f32>, 256>;

fn outMod(v: f32, ci: u32) -> f32 {
  switch OUT {
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

fn segSlice(seg: u32) -> u32 { return select(select(SLICE0, SLICE1, seg == 1u), SLICE2, seg == 2u); }
fn segW(seg: u32) -> u32 { return select(select(W0, W1, seg == 1u), W2, seg == 2u); }
fn segCoef(seg: u32) -> f32 { return select(select(p.coef0, p.coef1, seg == 1u), p.coef2, seg == 2u); }

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
  // <generated: fold-grid columns=p.cinPerGroup bn=BN bm=BM>
  // The grid may fold m-tiles into x (tileGrid in src/gpu/grid.ts); this undoes it. Spare
  // workgroups of the last row leave before any barrier (all of it is uniform per workgroup).
  let nTiles = (p.cinPerGroup + BN - 1u) / BN;
  let fold = nwg.x / nTiles;
  let m0 = (wid.y * fold + wid.x / nTiles) * BM;
  let n0 = (wid.x % nTiles) * BN;
  if (m0 >= p.M) { return; }
  // </generated>
  let KK = KH * KW;
  let outPlane = p.outH * p.outW;
  let taps = p.nty * p.ntx;

  // This thread gathers for one fixed input pixel of the phase: decompose it once.
  let aM = tid % BM;
  let aK0 = tid / BM;
  let aKStep = threads / BM;
  let m = m0 + aM;
  let mValid = m < p.M;
  let ix = p.px + (m % p.Wp) * p.strideW;
  let iyn = m / p.Wp;
  let iy = p.py + (iyn % p.Hp) * p.strideH;
  let sample = iyn / p.Hp;
  let ty0 = i32(iy + p.padT);
  let tx0 = i32(ix + p.padL);
  let sBase = (sample * p.outC + g * p.coutPerGroup) * outPlane;

  let bN4 = tid % (BN / 4u);
  let bK0 = tid / (BN / 4u);
  let bKStep = threads / (BN / 4u);
  let npad4 = p.Npad / 4u;
  let bCol = n0 / 4u + bN4;
  let wBase = g * p.wRows * npad4;

  var acc: array<vec4<f32>, 4>;
  for (var i = 0u; i < TM; i++) { acc[i] = vec4<f32>(0.0); }

  for (var seg = 0u; seg < SEGS; seg++) {
    let sOff = segSlice(seg) * p.sliceLen + sBase;
    let wm = segW(seg);
    let coef = segCoef(seg);
    for (var k0 = 0u; k0 < p.Kpad; k0 += BK) {
      for (var kk = aK0; kk < BK; kk += aKStep) {
        let k = k0 + kk;
        var v = 0.0;
        if (mValid && k < p.K) {
          let co = k / taps;
          let t = k - co * taps;
          let ky = p.ky0 + (t / p.ntx) * p.stepY;
          let kx = p.kx0 + (t % p.ntx) * p.stepX;
          // Divisible by the stride by the choice of the phase's taps: only the range is left.
          let ty = ty0 - i32(ky * p.dilH);
          let tx = tx0 - i32(kx * p.dilW);
          if (ty >= 0 && tx >= 0) {
            let oy = u32(ty) / p.strideH;
            let ox = u32(tx) / p.strideW;
            if (oy < p.outH && ox < p.outW) {
              v = s[sOff + co * outPlane + oy * p.outW + ox];
            }
          }
        }
        As[kk * (BM / 4u) + aM / 4u][aM % 4u] = v;
      }
      for (var kk = bK0; kk < BK; kk += bKStep) {
        let k = k0 + kk;
        var b = vec4<f32>(0.0);
        if (bCol < npad4 && k < p.K) {
          let co = k / taps;
          let t = k - co * taps;
          let row = co * KK + (p.ky0 + (t / p.ntx) * p.stepY) * KW + p.kx0 + (t % p.ntx) * p.stepX;
          b = coef * wMod(wm, w[wBase + row * npad4 + bCol]);
        }
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

  let plane = p.inH * p.inW;
  for (var i = 0u; i < TM; i++) {
    let mm = m0 + lid.y * TM + i;
    if (mm >= p.M) { break; }
    let oxp = p.px + (mm % p.Wp) * p.strideW;
    let rest = mm / p.Wp;
    let oyp = p.py + (rest % p.Hp) * p.strideH;
    let smp = rest / p.Hp;
    let pix = oyp * p.inW + oxp;
    for (var j = 0u; j < TN; j++) {
      let n = n0 + lid.x * TN + j;
      if (n >= p.cinPerGroup) { break; }
      let ci = g * p.cinPerGroup + n;
      let o = (smp * p.inC + ci) * plane + pix;
      var xv = 0.0;
      if (OUT != 3u) {
        xv = x[o];
        if (RELU_IN) { xv = max(xv, 0.0); }
      }
      var v = outMod(xv, ci) * acc[i][j];
      if (ACCUMULATE) { v += r[o]; }
      r[o] = v;
    }
  }
}
