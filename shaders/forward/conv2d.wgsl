// 2-D convolution as a tiled implicit GEMM.
//
//   C[m, n] = sum_k A[m, k] * B[k, n] + bias[n]
//   m = (sample, oy, ox)   output pixel        (M = batch * outH * outW)
//   n = output channel within the group         (N = outC / groups)
//   k = (ci, ky, kx)       input channel and tap (K = inC / groups * KH * KW)
//
// A is never materialised: each tile of it is gathered from the NCHW input on the fly (the
// "implicit" im2col). B is the weight, re-laid out once at load time to [groups][Kpad][Npad]
// (k-major, zero-padded to whole tiles) so that a tile row is one aligned vec4 load.
//
// A workgroup of WG_M x WG_N threads owns a (4*WG_M) x (4*WG_N) tile of C; each thread keeps a
// 4x4 block in registers, so every value staged in workgroup memory is used 4 times from there.
// Shapes come in a uniform and the kernel size as override constants: the pipeline is shared by
// every layer with the same kernel size, and the tap decomposition divides by constants.

struct Params {
  batch: u32, inC: u32, inH: u32, inW: u32,
  outC: u32, outH: u32, outW: u32, groups: u32,
  strideH: u32, strideW: u32, padT: u32, padL: u32,
  dilH: u32, dilW: u32, cinPerGroup: u32, coutPerGroup: u32,
  K: u32, Kpad: u32, Npad: u32, M: u32,
}

override KH: u32 = 3u;
override KW: u32 = 3u;
// Apply max(x, 0) while gathering: a ReLU before this layer is a view, not a pass over memory.
override RELU_IN: bool = false;
override WG_M: u32 = 16u;
override WG_N: u32 = 16u;
override BK: u32 = 16u;

const TM: u32 = 4u;
const TN: u32 = 4u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// As[k][m] and Bs[k][n], both as vec4 along m / n.
// Sized for the largest tile configuration (BK * WG_M <= 512, BK * WG_N <= 256): Dawn on
// lavapipe crashes compiling workgroup arrays sized by override expressions.
var<workgroup> As: array<vec4<f32>, 512>;
var<workgroup> Bs: array<vec4<f32>, 256>;

@compute @workgroup_size(WG_N, WG_M, 1)
fn main(
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_index) tid: u32,
) {
  let BM = TM * WG_M;
  let BN = TN * WG_N;
  let threads = WG_M * WG_N;
  let g = wid.z;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let KK = KH * KW;
  let plane = p.inH * p.inW;

  // Each thread gathers A for one fixed output pixel per row of the tile it loads: decompose
  // that pixel once, outside the k loop.
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
          v = x[xBase + ci * plane + u32(iy) * p.inW + u32(ix)];
          if (RELU_IN) { v = max(v, 0.0); }
        }
      }
      As[kk * (BM / 4u) + aM / 4u][aM % 4u] = v;
    }
    for (var kk = bK0; kk < BK; kk += bKStep) {
      var b = vec4<f32>(0.0);
      if (bCol < npad4) { b = w[wBase + (k0 + kk) * npad4 + bCol]; }
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

  let outPlane = p.outH * p.outW;
  for (var i = 0u; i < TM; i++) {
    let mm = m0 + lid.y * TM + i;
    if (mm >= p.M) { break; }
    let pix = mm % outPlane;
    let s = mm / outPlane;
    for (var j = 0u; j < TN; j++) {
      let n = n0 + lid.x * TN + j;
      if (n >= p.coutPerGroup) { break; }
      let co = g * p.coutPerGroup + n;
      y[(s * p.outC + co) * outPlane + pix] = acc[i][j] + bias[co];
    }
  }
}
