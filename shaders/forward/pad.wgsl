// Zero padding of the spatial axes: one invocation per output element, x is N x C x inH x inW,
// y is N x C x outH x outW with the input at rows [top, top + inH) and columns [left, left + inW).

struct Params { total: u32, inH: u32, inW: u32, outH: u32, outW: u32, top: u32, left: u32 }

override RELU_IN: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  let ow = i % p.outW;
  let oh = (i / p.outW) % p.outH;
  let nc = i / (p.outW * p.outH);
  // Unsigned wrap-around makes rows and columns above or left of the input large: out of range too.
  let h = oh - p.top;
  let w = ow - p.left;
  var v = 0.0;
  if (h < p.inH && w < p.inW) {
    v = x[(nc * p.inH + h) * p.inW + w];
    if (RELU_IN) { v = max(v, 0.0); }
  }
  y[i] = v;
}
