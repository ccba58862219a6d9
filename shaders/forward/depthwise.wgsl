// A depthwise convolution (groups == input channels, output channel co reads input channel
// co / mult): y[n, co] = bias[co] + sum_{ky, kx} w[co, ky, kx] * x[n, co / mult] at the taps.
//
// Memory-bound, so laid out for loads: each invocation computes a PY x PX block of one output
// channel. It reads the channel's taps once (KK4 vec4s: [outC][KK4] in `w`, zero-padded), then
// walks the SY input rows its block covers, loading each row's SX values once into registers and
// adding them into every output row that uses them. A 3x3 stride-1 block of 4 x 4 reads 36 inputs
// for 16 outputs (a gather per tap would read 144). On lavapipe every load whose address is not a
// constant is a loop over the SIMD lanes, so the count of loads is the cost: a row is read as the
// NV aligned vec4s that hold it (x viewed as vec4s; the buffer a whole number of them), and each
// lane picks its SX values out of them by its own offset mod 4 with selects. The geometry (kernel,
// stride, dilation, block) is in override constants, so the loops over rows, taps and outputs have
// constant trip counts and the register arrays are indexed by constants once unrolled.
// Invocations run along the blocks of a row first (neighbouring lanes read neighbouring inputs).

struct Params {
  total: u32,   // batch * outC * blocksY * blocksX invocations
  outC: u32, inC: u32, mult: u32,
  inH: u32, inW: u32, outH: u32, outW: u32,
  padT: u32, padL: u32, blocksX: u32, blocksY: u32,
  reluIn: u32,
}

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override DH: u32 = 1u;
override DW: u32 = 1u;
override PY: u32 = 4u;
override PX: u32 = 4u;
override WG: u32 = 64u;

// Taps per channel in vec4s, input rows and columns a block reads.
override KK4: u32 = (KH * KW + 3u) / 4u;
override SY: u32 = (PY - 1u) * SH + (KH - 1u) * DH + 1u;
override SX: u32 = (PX - 1u) * SW + (KW - 1u) * DW + 1u;
// Aligned vec4s that hold SX values starting anywhere in a vec4.
override NV: u32 = (SX + 6u) / 4u;

// Register arrays' capacities (the host keeps KK4, SX and PY * PX within them).
const MAX_K4: u32 = 32u;
const MAX_SX: u32 = 32u;
const MAX_OUT: u32 = 16u;
const MAX_NV: u32 = 9u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.y * nwg.x * WG + gid.x;
  if (t >= p.total) { return; }
  let bx = t % p.blocksX;
  let t1 = t / p.blocksX;
  let by = t1 % p.blocksY;
  let nc = t1 / p.blocksY;
  let co = nc % p.outC;
  let n = nc / p.outC;
  let ox0 = bx * PX;
  let oy0 = by * PY;
  let iy0 = i32(oy0 * SH) - i32(p.padT);
  let ix0 = i32(ox0 * SW) - i32(p.padL);
  let plane = (n * p.inC + co / p.mult) * p.inH * p.inW;

  var taps: array<vec4<f32>, MAX_K4>;
  for (var i = 0u; i < KK4; i++) { taps[i] = w[co * KK4 + i]; }
  var acc: array<f32, MAX_OUT>;
  for (var o = 0u; o < PY * PX; o++) { acc[o] = 0.0; }

  for (var r = 0u; r < SY; r++) {
    let iy = iy0 + i32(r);
    // Unsigned compares: a negative coordinate wraps past the bound.
    let rowOk = u32(iy) < p.inH;
    var row: array<f32, MAX_SX>;
    if (rowOk) {
      // The row's first value at flat offset `off` (negative left of the first plane: those
      // values, and any past the buffer, are masked below; an index past the array reads a
      // value of the buffer, not memory outside it).
      let off = i32(plane) + iy * i32(p.inW) + ix0;
      let a = u32(off & 3);
      let q = (off - i32(a)) / 4;
      var v: array<vec4<f32>, MAX_NV>;
      for (var i = 0u; i < NV; i++) { v[i] = x[u32(q + i32(i))]; }
      for (var j = 0u; j < SX; j++) {
        let lo = select(v[j / 4u][j % 4u], v[(j + 1u) / 4u][(j + 1u) % 4u], a == 1u);
        let hi = select(v[(j + 2u) / 4u][(j + 2u) % 4u], v[(j + 3u) / 4u][(j + 3u) % 4u], a == 3u);
        row[j] = select(0.0, select(lo, hi, a >= 2u), u32(ix0 + i32(j)) < p.inW);
      }
    } else {
      for (var j = 0u; j < SX; j++) { row[j] = 0.0; }
    }
    if (p.reluIn != 0u) {
      for (var j = 0u; j < SX; j++) { row[j] = max(row[j], 0.0); }
    }
    // Output row py takes this input row at tap ky where r = py * SH + ky * DH.
    for (var py = 0u; py < PY; py++) {
      if (r >= py * SH && (r - py * SH) % DH == 0u && (r - py * SH) / DH < KH) {
        let ky = (r - py * SH) / DH;
        for (var kx = 0u; kx < KW; kx++) {
          let k = ky * KW + kx;
          let wk = taps[k / 4u][k % 4u];
          for (var px = 0u; px < PX; px++) {
            acc[py * PX + px] = fma(row[px * SW + kx * DW], wk, acc[py * PX + px]);
          }
        }
      }
    }
  }

  let b = bias[co];
  let outBase = nc * p.outH * p.outW;
  for (var py = 0u; py < PY; py++) {
    let oy = oy0 + py;
    for (var px = 0u; px < PX; px++) {
      let ox = ox0 + px;
      if (oy < p.outH && ox < p.outW) { y[outBase + oy * p.outW + ox] = acc[py * PX + px] + b; }
    }
  }
}
