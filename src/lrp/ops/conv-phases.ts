/**
 * The transposed convolution of the relevance pass, decomposed by stride phase into ordinary
 * stride-1 convolutions over s (see shaders/relevance/conv_transpose.wgsl for the derivation),
 * and the weight layout those read: one section per phase, taps flipped, k-major like the
 * forward's.
 */
import type { ConvLayer } from '../../graph/ir.ts';

/**
 * The stride phases of the transposed convolution along one axis: input rows `start`,
 * `start + stride`, ... (`count` of them), and the kernel taps that reach an output from them,
 * i.e. (start + pad - k * dil) divisible by the stride: `taps` of them, k = k0, k0 + step, ...
 * (the solutions of a linear congruence, an arithmetic progression).
 */
export interface AxisPhase { start: number; count: number; k0: number; taps: number; step: number }

export function axisPhases(size: number, kernel: number, stride: number, pad: number, dil: number): AxisPhase[] {
  const out: AxisPhase[] = [];
  for (let start = 0; start < Math.min(stride, size); start++) {
    const ks: number[] = [];
    for (let k = 0; k < kernel; k++) if ((((start + pad - k * dil) % stride) + stride) % stride === 0) ks.push(k);
    const step = ks.length > 1 ? ks[1] - ks[0] : 1;
    if (ks.some((k, i) => k !== ks[0] + i * step)) throw new Error(`internal: taps ${ks.join(',')} are not a progression`);
    out.push({ start, count: Math.ceil((size - start) / stride), k0: ks[0] ?? 0, taps: ks.length, step });
  }
  return out;
}

/**
 * One phase along one axis as a stride-1 convolution over s: `taps` taps a' (flipped: tap a' is
 * kernel index k0 + (taps - 1 - a') * step) at dilation `dil`, input row i reading s row
 * i - pad + a' * dil.
 */
export interface AxisConv { taps: number; dil: number; pad: number }

export function axisConv(ph: AxisPhase, stride: number, pad: number, dil: number): AxisConv {
  if (ph.taps === 0) return { taps: 0, dil: 0, pad: 0 };
  // Output row of tap a (unflipped): (start + pad - (k0 + a step) dil) / stride = off - a d.
  const off = (ph.start + pad - ph.k0 * dil) / stride;
  const d = ph.taps > 1 ? (ph.step * dil) / stride : 0;
  if (!Number.isInteger(off) || !Number.isInteger(d)) throw new Error('internal: a phase whose taps do not divide by the stride');
  return { taps: ph.taps, dil: d, pad: (ph.taps - 1) * d - off };
}

export interface ConvPhase {
  readonly y: AxisPhase;
  readonly x: AxisPhase;
  readonly cy: AxisConv;
  readonly cx: AxisConv;
  /** Reduction length: output channels per group x taps (0 where no tap reaches the phase). */
  readonly K: number;
  /** K rounded up to whole BK steps. */
  readonly Kpad: number;
  /** Input pixels of the phase, per sample. */
  readonly pixels: number;
  /** Where the phase's weight section starts in the transposed layout, in vec4s. */
  readonly wOffset: number;
}

/** The phases of a layer over an inH x inW input, their weight sections laid out for depth BK. */
export function convPhases(layer: ConvLayer, inH: number, inW: number, BK: number): ConvPhase[] {
  const { kernel, stride, pads, dilation, groups } = layer;
  const coutPG = layer.outChannels / groups;
  const npad = Math.ceil(layer.inChannels / groups / 4) * 4;
  const out: ConvPhase[] = [];
  let offset = 0;
  for (const y of axisPhases(inH, kernel[0], stride[0], pads[0], dilation[0])) {
    for (const x of axisPhases(inW, kernel[1], stride[1], pads[1], dilation[1])) {
      const K = coutPG * y.taps * x.taps;
      const Kpad = Math.ceil(K / BK) * BK;
      out.push({
        y, x, cy: axisConv(y, stride[0], pads[0], dilation[0]), cx: axisConv(x, stride[1], pads[1], dilation[1]),
        K, Kpad, pixels: y.count * x.count, wOffset: offset / 4,
      });
      offset += groups * Kpad * npad;
    }
  }
  return out;
}

/** The WeightStore key of transposedLayout: everything its bytes depend on besides the layer. */
export function transposedKey(phases: readonly ConvPhase[], BK: number): string {
  return `conv transposed bk${BK} ${phases.map((p) => `${p.y.start}.${p.x.start}`).join(',')}`;
}

/**
 * Weight [outC][cin/g][kh][kw] → per phase [g][co * ty * tx + a' * tx + b'][Cpad], taps flipped
 * (a' = taps - 1 - a), k-major, zero-padded to whole BK steps and vec4 rows.
 */
export function transposedLayout(layer: ConvLayer, phases: readonly ConvPhase[], BK: number, weight: Float32Array = layer.weight): Float32Array {
  const { groups, outChannels, inChannels, kernel: [kh, kw] } = layer;
  const cinPG = inChannels / groups;
  const coutPG = outChannels / groups;
  const npad = Math.ceil(cinPG / 4) * 4;
  const total = phases.reduce((n, p) => n + groups * p.Kpad * npad, 0);
  const data = new Float32Array(Math.max(total, 4));
  for (const ph of phases) {
    const { y, x } = ph;
    if (ph.Kpad !== Math.ceil(ph.K / BK) * BK) throw new Error('internal: phases laid out for another depth');
    for (let g = 0; g < groups; g++) {
      const base = 4 * ph.wOffset + g * ph.Kpad * npad;
      for (let co = 0; co < coutPG; co++) {
        for (let a = 0; a < y.taps; a++) {
          const ky = y.k0 + (y.taps - 1 - a) * y.step;
          for (let b = 0; b < x.taps; b++) {
            const kx = x.k0 + (x.taps - 1 - b) * x.step;
            const row = base + ((co * y.taps + a) * x.taps + b) * npad;
            for (let ci = 0; ci < cinPG; ci++) {
              data[row + ci] = weight[(((g * coutPG + co) * cinPG + ci) * kh + ky) * kw + kx];
            }
          }
        }
      }
    }
  }
  return data;
}
