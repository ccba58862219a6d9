// Element-wise activations (src/graph/activation.ts): y = act(ACT, x), the function chosen by the
// ACT override, so each activation compiles its own pipeline and the switch folds away. x is read
// through a ReLU with RELU_IN (a ReLU view). alpha and beta are HardSigmoid's and HardSwish's.

struct Params { total: u32, alpha: f32, beta: f32 }

override ACT: u32 = 0u;
override RELU_IN: bool = false;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// <generated: activation>
// (sigmoid(v), 1 - sigmoid(v)), both as quotients of e = exp(-|v|): no overflow, no cancellation.
fn sigmoidOf(v: f32) -> vec2<f32> {
  let e = exp(-abs(v));
  let big = 1.0 / (1.0 + e);
  let small = e / (1.0 + e);
  return select(vec2<f32>(small, big), vec2<f32>(big, small), v >= 0.0);
}

// tanh through exp(-2|v|); near 0 its Taylor series (relative error below 2e-9 for |v| < 0.125).
fn tanhOf(v: f32) -> f32 {
  let a = abs(v);
  if (a < 0.125) {
    let s = v * v;
    return v * (1.0 + s * (-1.0 / 3.0 + s * (2.0 / 15.0 + s * (-17.0 / 315.0))));
  }
  let e = exp(-2.0 * a);
  return sign(v) * (1.0 - e) / (1.0 + e);
}

// The normal CDF Phi(v) = erfc(-v / sqrt 2) / 2 (WGSL has no erf), by the Chebyshev fit of erfc
// in Numerical Recipes' erfcc: fractional error below 1.2e-7 everywhere, so Phi keeps its relative
// accuracy in the far negative tail, where 1 - Phi(-v) would cancel.
fn phiOf(v: f32) -> f32 {
  let z = abs(v) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  let e = t * exp(-z * z + poly);
  return select(0.5 * e, 1.0 - 0.5 * e, v >= 0.0);
}

// d/dv of v sigmoid(2u), u = sqrt(2/pi) (v + 0.044715 v^3): s + v s (1 - s) 2u'.
fn geluTanhDerivative(v: f32) -> f32 {
  let s = sigmoidOf(1.5957691216057308 * fma(0.044715 * v, v * v, v));
  return s.x + v * s.x * s.y * 1.5957691216057308 * fma(0.134145, v * v, 1.0);
}

fn act(code: u32, v: f32) -> f32 {
  switch code {
    case 1u: { return tanhOf(v); }
    case 2u: { return clamp(fma(p.alpha, v, p.beta), 0.0, 1.0); }
    case 3u: { return v * sigmoidOf(v).x; }
    case 4u: { return v * clamp(fma(p.alpha, v, p.beta), 0.0, 1.0); }
    case 5u: { return v * phiOf(v); }
    case 6u: { return v * sigmoidOf(1.5957691216057308 * fma(0.044715 * v, v * v, v)).x; }
    default: { return sigmoidOf(v).x; }
  }
}

fn dact(code: u32, v: f32) -> f32 {
  switch code {
    case 1u: { return 1.0 - tanhOf(v) * tanhOf(v); }
    case 2u: { return select(0.0, p.alpha, fma(p.alpha, v, p.beta) > 0.0 && fma(p.alpha, v, p.beta) < 1.0); }
    case 3u: { return sigmoidOf(v).x * fma(v, sigmoidOf(v).y, 1.0); }
    case 4u: { return clamp(fma(p.alpha, v, p.beta), 0.0, 1.0) + select(0.0, p.alpha * v, fma(p.alpha, v, p.beta) > 0.0 && fma(p.alpha, v, p.beta) < 1.0); }
    case 5u: { return phiOf(v) + v * 0.3989422804014327 * exp(-0.5 * v * v); }
    case 6u: { return geluTanhDerivative(v); }
    default: { return sigmoidOf(v).x * sigmoidOf(v).y; }
  }
}
// </generated>

@compute @workgroup_size(WG, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.y * nwg.x * WG + gid.x;
  if (i >= p.total) { return; }
  var v = x[i];
  if (RELU_IN) { v = max(v, 0.0); }
  y[i] = act(ACT, v);
}
