/**
 * Float64 CPU oracle of PatternAttribution's statistics (shared/docs/lrp-rules.md,
 * "PatternAttribution"): the masked sums of every linear layer over a set, written as plain loops
 * over rows and receptive-field taps (zero padding included), from the float64 reference forward
 * pass. The GPU's statistics are tested against it.
 */
import type { ConvLayer, Graph, LinearLayer, Shape } from '../../src/graph/ir.ts';
import { isLinear, valueInfo } from '../../src/graph/ir.ts';
import { emptySums, linearGeometry, type LayerSums } from '../../src/patterns/sums.ts';
import { referenceForward } from './forward.ts';

/** The sums of every linear layer of `graph` over `batch` samples of `input`. */
export function referencePatternSums(graph: Graph, input: Float64Array, batch: number): Map<string, LayerSums> {
  const values = referenceForward(graph, input, batch);
  const out = new Map<string, LayerSums>();
  for (const layer of graph.layers) {
    if (!isLinear(layer)) continue;
    const x = values.get(layer.inputs[0])!;
    const z = values.get(layer.output)!;
    out.set(layer.name, referenceLayerSums(layer, x, valueInfo(graph, layer.inputs[0]).shape, z, valueInfo(graph, layer.output).shape, batch));
  }
  return out;
}

/**
 * One layer's sums: `x` its input (any ReLU applied), `z` its output (bias included). A dense
 * layer is read as a 1x1 convolution of a 1x1 map whose channels are its input features.
 */
export function referenceLayerSums(
  layer: LinearLayer, x: Float64Array, inShape: Shape, z: Float64Array, outShape: Shape, batch: number,
): LayerSums {
  const g = linearGeometry(layer, outShape);
  const s = emptySums(layer.name, g);
  const conv: Pick<ConvLayer, 'kernel' | 'stride' | 'dilation' | 'pads' | 'groups'> = layer.kind === 'conv'
    ? layer
    : { kernel: [1, 1], stride: [1, 1], dilation: [1, 1], pads: [0, 0, 0, 0], groups: 1 };
  const [C, H, W] = layer.kind === 'conv' ? inShape : [layer.inFeatures, 1, 1];
  const [CO, OH, OW] = layer.kind === 'conv' ? outShape : [layer.outFeatures, 1, 1];
  const [kh, kw] = conv.kernel;
  const [sh, sw] = conv.stride;
  const [dh, dw] = conv.dilation;
  const [pt, pl] = conv.pads;
  const cinG = C / conv.groups;
  const coutG = CO / conv.groups;
  const K = g.fanIn;
  const patch = new Float64Array(K);
  for (let n = 0; n < batch; n++) {
    for (let co = 0; co < CO; co++) {
      const grp = Math.floor(co / coutG);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const zv = z[((n * CO + co) * OH + oh) * OW + ow];
          const y = zv - layer.bias[co];
          s.sy[co] += y;
          if (!(zv > 0)) continue;
          s.count[co] += 1;
          for (let ci = 0; ci < cinG; ci++) {
            for (let i = 0; i < kh; i++) {
              for (let j = 0; j < kw; j++) {
                const h = oh * sh - pt + i * dh;
                const w = ow * sw - pl + j * dw;
                const inside = h >= 0 && h < H && w >= 0 && w < W;
                patch[(ci * kh + i) * kw + j] = inside ? x[((n * C + grp * cinG + ci) * H + h) * W + w] : 0;
              }
            }
          }
          for (let i = 0; i < K; i++) {
            s.sx[co * K + i] += patch[i];
            s.sxy[co * K + i] += patch[i] * y;
          }
        }
      }
    }
  }
  return { ...s, rows: batch * g.plane };
}
