/**
 * Float64 reference of the transformer kinds (lrp-rules.md, "Modern CNNs and vision transformers"),
 * forward and relevance, as plain loops over the definitions; test/reference/forward.ts and
 * relevance.ts dispatch to it. Data is batched, batch first, then the IR's per-sample shape.
 */
import type { ConcatConstLayer, GatherLayer, Layer, Shape, SliceLayer } from '../../src/graph/ir.ts';
import { numel } from '../../src/graph/ir.ts';
import type { LayerRule } from '../../src/lrp/rule-spec.ts';

function split(shape: Shape, axis: number): [number, number, number] {
  return [numel(shape.slice(0, axis)), shape[axis], numel(shape.slice(axis + 1))];
}

function stab(d: number, eps: number): number {
  return d >= 0 ? d + eps : d - eps;
}

/** [start, start + m) of the axis (a slice; a gather is m = 1). */
function windowOf(layer: SliceLayer | GatherLayer): [number, number] {
  return layer.kind === 'slice' ? [layer.start, layer.length] : [layer.index, 1];
}

export function referenceAttentionForward(layer: Layer, xs: readonly Float64Array[], shapes: readonly Shape[], N: number): Float64Array {
  const x = xs[0];
  const s = shapes[0];
  switch (layer.kind) {
    case 'slice':
    case 'gather': {
      const [o, n, inner] = split(s, layer.axis);
      const [start, m] = windowOf(layer);
      const y = new Float64Array(N * o * m * inner);
      for (let b = 0; b < N * o; b++) {
        for (let j = 0; j < m; j++) for (let i = 0; i < inner; i++) y[(b * m + j) * inner + i] = x[(b * n + start + j) * inner + i];
      }
      return y;
    }
    case 'concatconst': {
      const [o, n, inner] = split(s, layer.axis);
      const mc = layer.constShape[layer.axis];
      const m = n + mc;
      const y = new Float64Array(N * o * m * inner);
      for (let b = 0; b < N * o; b++) {
        for (let j = 0; j < m; j++) {
          for (let i = 0; i < inner; i++) {
            const jx = layer.before ? j - mc : j;
            y[(b * m + j) * inner + i] = jx >= 0 && jx < n ? x[(b * n + jx) * inner + i] : layer.constant[((b % o) * mc + (layer.before ? j : j - n)) * inner + i];
          }
        }
      }
      return y;
    }
    case 'addconst':
      return x.map((v, i) => v + layer.constant[i % layer.constant.length]);
    case 'softmax': {
      const L = s[s.length - 1];
      const y = new Float64Array(x.length);
      for (let r = 0; r < x.length / L; r++) {
        let mx = -Infinity;
        for (let k = 0; k < L; k++) mx = Math.max(mx, x[r * L + k]);
        let sum = 0;
        for (let k = 0; k < L; k++) sum += (y[r * L + k] = Math.exp(x[r * L + k] - mx));
        for (let k = 0; k < L; k++) y[r * L + k] /= sum;
      }
      return y;
    }
    case 'matmul': {
      const { mats, M, K, Nn } = geometry(shapes, N);
      const [a, bm] = xs;
      const y = new Float64Array(mats * M * Nn);
      for (let b = 0; b < mats; b++) {
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < Nn; n++) {
            let acc = 0;
            for (let k = 0; k < K; k++) acc += a[(b * M + m) * K + k] * bm[(b * K + k) * Nn + n];
            y[(b * M + m) * Nn + n] = acc;
          }
        }
      }
      return y;
    }
    default:
      throw new Error(`${layer.name}: ${layer.kind} is not a transformer kind`);
  }
}

function geometry(shapes: readonly Shape[], N: number): { mats: number; M: number; K: number; Nn: number } {
  const [a, b] = shapes;
  const r = a.length;
  return { mats: N * numel(a.slice(0, r - 2)), M: a[r - 2], K: a[r - 1], Nn: b[r - 1] };
}

/**
 * The relevance (or gradient) at each input of a transformer kind: `xs` the inputs, `z` the
 * output, `relOut` the relevance at the output.
 */
export function referenceAttentionRelevance(
  layer: Layer, rule: LayerRule, xs: readonly Float64Array[], shapes: readonly Shape[], z: Float64Array, relOut: Float64Array, N: number,
): Float64Array[] {
  const x = xs[0];
  const s = shapes[0];
  switch (layer.kind) {
    case 'slice':
    case 'gather': {
      const [o, n, inner] = split(s, layer.axis);
      const [start, m] = windowOf(layer);
      const r = new Float64Array(x.length);
      for (let b = 0; b < N * o; b++) {
        for (let j = 0; j < m; j++) for (let i = 0; i < inner; i++) r[(b * n + start + j) * inner + i] = relOut[(b * m + j) * inner + i];
      }
      return [r];
    }
    case 'concatconst': {
      const l = layer as ConcatConstLayer;
      const [o, n, inner] = split(s, l.axis);
      const mc = l.constShape[l.axis];
      const m = n + mc;
      const off = l.before ? mc : 0;
      const r = new Float64Array(x.length);
      for (let b = 0; b < N * o; b++) {
        for (let j = 0; j < n; j++) for (let i = 0; i < inner; i++) r[(b * n + j) * inner + i] = relOut[(b * m + j + off) * inner + i];
      }
      return [r];
    }
    case 'addconst':
      if (rule.rule === 'pass' || rule.rule === 'gradient') return [Float64Array.from(relOut)];
      if (rule.rule === 'norm') return [x.map((v, i) => (v * relOut[i]) / stab(z[i], rule.stabilizer))];
      break;
    case 'softmax':
      if (rule.rule === 'pass') return [Float64Array.from(relOut)];
      if (rule.rule === 'gradient') {
        const L = s[s.length - 1];
        const r = new Float64Array(x.length);
        for (let row = 0; row < x.length / L; row++) {
          let d = 0;
          for (let k = 0; k < L; k++) d += z[row * L + k] * relOut[row * L + k];
          for (let k = 0; k < L; k++) r[row * L + k] = z[row * L + k] * (relOut[row * L + k] - d);
        }
        return [r];
      }
      break;
    case 'matmul': {
      const { mats, M, K, Nn } = geometry(shapes, N);
      const [a, bm] = xs;
      let g = relOut;
      if (rule.rule === 'z' || rule.rule === 'epsilon') {
        const eps = rule.rule === 'z' ? rule.stabilizer : rule.epsilon;
        g = relOut.map((r, i) => r / stab(z[i], eps));
      } else if (rule.rule !== 'gradient') {
        break;
      }
      const ra = new Float64Array(a.length);
      const rb = new Float64Array(bm.length);
      for (let b = 0; b < mats; b++) {
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < Nn; n++) {
            const gv = g[(b * M + m) * Nn + n];
            for (let k = 0; k < K; k++) {
              ra[(b * M + m) * K + k] += gv * bm[(b * K + k) * Nn + n];
              rb[(b * K + k) * Nn + n] += a[(b * M + m) * K + k] * gv;
            }
          }
        }
      }
      if (rule.rule === 'gradient') return [ra, rb];
      // CP-LRP: the first factor is constant and gets nothing; the second gets b * a^T s.
      return [new Float64Array(a.length), rb.map((v, i) => v * bm[i])];
    }
    default:
      throw new Error(`${layer.name}: ${layer.kind} is not a transformer kind`);
  }
  throw new Error(`${layer.name}: rule '${rule.rule}' does not apply to a ${layer.kind} layer`);
}

/** The rule a transformer kind gets with no entry: LRP's default, or its true derivative under a method. */
export function defaultAttentionRule(layer: Layer, method: boolean, stabilizer: number): LayerRule | null {
  switch (layer.kind) {
    case 'matmul': return method ? { rule: 'gradient' } : { rule: 'z', stabilizer };
    case 'softmax': return method ? { rule: 'gradient' } : { rule: 'pass' };
    case 'addconst': return method ? { rule: 'pass' } : { rule: 'norm', stabilizer };
    case 'slice': case 'gather': case 'concatconst': return { rule: 'pass' };
    default: return null;
  }
}
