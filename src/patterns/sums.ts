/**
 * PatternAttribution's statistics and the pattern they give (shared/docs/lrp-rules.md,
 * "PatternAttribution"; iNNvestigate 1.0.x's estimator with `pattern_type = "relu"`).
 *
 * A linear layer's weight is a C x K matrix here, in the IR's own layout: C outputs (a conv's
 * output channels, a dense layer's output features) by K inputs of one output's receptive field
 * (a conv's input channels of its group x kernel taps, padding included; a dense layer's input
 * features). Over the rows r of a statistics set (every sample, and for a conv every output
 * position of every sample), with x_r the input patch, y_r = W x_r the output without the bias and
 * m_r = [z_r > 0] (z = y + b the layer's output), the sums are, per output j and input i:
 *
 *   sx[j, i]  = sum_r m_rj x_ri        sxy[j, i] = sum_r m_rj x_ri y_rj
 *   sy[j]     = sum_r y_rj             count[j]  = sum_r m_rj              rows = number of r
 *
 * Decision where the doc says "the ReLU that follows the layer, or the layer's own output where
 * none follows": ReLU(z) > 0 exactly when z > 0, so the mask is [z > 0] in both cases and needs no
 * look at the graph. A BatchNormalization folded into the layer at import is part of its weight:
 * the pattern is that of the folded weight (A * W, what the backward pass uses, is the same either
 * way up to the folding scale, which cancels).
 */
import type { ConvLayer, DenseLayer, LinearLayer, Shape } from '../graph/ir.ts';

/** The sums of one linear layer over a statistics set, float64, in the weight's C x K layout. */
export interface LayerSums {
  readonly layer: string;
  /** C: outputs (conv output channels, dense output features). */
  readonly outputs: number;
  /** K: inputs per output (conv: input channels per group x kh x kw; dense: input features). */
  readonly fanIn: number;
  /** Rows counted for every output: samples x output positions. */
  readonly rows: number;
  /** C x K: sum of m x. */
  readonly sx: Float64Array;
  /** C x K: sum of m x y. */
  readonly sxy: Float64Array;
  /** C: sum of y over every row (not only m = 1: iNNvestigate's estimator). */
  readonly sy: Float64Array;
  /** C: sum of m. */
  readonly count: Float64Array;
}

/** The shape of a linear layer's statistics problem. */
export interface LinearGeometry {
  /** C. */
  readonly outputs: number;
  /** K. */
  readonly fanIn: number;
  /** Rows per sample: output positions of a conv (outH x outW), 1 for a dense layer. */
  readonly plane: number;
  readonly groups: number;
}

export function linearGeometry(layer: LinearLayer, outShape: Shape): LinearGeometry {
  if (layer.kind === 'conv') return convGeometry(layer, outShape);
  if (outShape.length !== 1) {
    // The statistics kernels read a dense layer's input as one flat row per sample.
    throw new Error(`layer '${layer.name}': learning patterns of a dense layer over the last axis of a [${outShape.join(', ')}] output is not supported (only flat dense layers)`);
  }
  return denseGeometry(layer);
}

function convGeometry(l: ConvLayer, outShape: Shape): LinearGeometry {
  const [, outH, outW] = outShape;
  return { outputs: l.outChannels, fanIn: (l.inChannels / l.groups) * l.kernel[0] * l.kernel[1], plane: outH * outW, groups: l.groups };
}

function denseGeometry(l: DenseLayer): LinearGeometry {
  return { outputs: l.outFeatures, fanIn: l.inFeatures, plane: 1, groups: 1 };
}

/** Empty (zero) sums for a layer. */
export function emptySums(layer: string, g: LinearGeometry): LayerSums {
  return {
    layer, outputs: g.outputs, fanIn: g.fanIn, rows: 0,
    sx: new Float64Array(g.outputs * g.fanIn), sxy: new Float64Array(g.outputs * g.fanIn),
    sy: new Float64Array(g.outputs), count: new Float64Array(g.outputs),
  };
}

/**
 * The pattern A of a layer from its sums, in float64, rounded to float32 at the end; `weight` is
 * the layer's C x K weight (the IR layout). Per output j:
 *   E+[x] = sx / count, E+[xy] = sxy / count (a count of 0 divides by 1), E[y] = sy / rows,
 *   cov = E+[xy] - E+[x] E[y], d = sum_i W_ij cov_ij (0 becomes 1), A = cov / d.
 */
export function patternFromSums(weight: Float32Array, s: LayerSums): Float32Array {
  const { outputs: C, fanIn: K } = s;
  if (weight.length !== C * K) throw new Error(`${s.layer}: weight has ${weight.length} values, the sums ${C}x${K}`);
  const A = new Float32Array(C * K);
  const cov = new Float64Array(K);
  for (let j = 0; j < C; j++) {
    const n = s.count[j] === 0 ? 1 : s.count[j];
    const ey = s.sy[j] / (s.rows === 0 ? 1 : s.rows);
    let d = 0;
    for (let i = 0; i < K; i++) {
      const c = s.sxy[j * K + i] / n - (s.sx[j * K + i] / n) * ey;
      cov[i] = c;
      d += weight[j * K + i] * c;
    }
    if (d === 0) d = 1;
    for (let i = 0; i < K; i++) A[j * K + i] = cov[i] / d;
  }
  return A;
}
