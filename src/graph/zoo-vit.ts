/**
 * The built-in Vision Transformer (src/graph/zoo.ts registers it): torchvision.models.vit_b_16's
 * layout and module names (conv_proj, class_token, encoder.pos_embedding,
 * encoder.layers.encoder_layer_K.{ln_1, self_attention.in_proj, self_attention.out_proj, ln_2,
 * mlp.0, mlp.3}, encoder.ln, heads.head), with the attention written as torch.onnx.export writes
 * nn.MultiheadAttention: one in-projection split into q, k and v, heads as a batch axis, q divided
 * by sqrt(head size) before q k^T, the softmax over the last axis, A v, the heads merged back.
 *
 * Decisions:
 * - Random weights as the other built-ins: every Linear and the patch convolution He-initialised
 *   with zero biases, LayerNorm gamma ~ U(0.5, 1.5) and beta 0, the class token 0 (torchvision's
 *   init) and the positional embedding 0 (torchvision draws it from N(0, 0.02^2)): with every
 *   additive constant 0, LRP conserves relevance through the whole network, as whole-model tests
 *   rely on (lrp-rules.md: the class token's share, dropped, is then 0).
 * - Another input size (a multiple of 16, for tests) changes only the number of tokens.
 */
import { GraphBuilder } from './builder.ts';
import type { Graph, LayerKind } from './ir.ts';
import type { LayerOf } from './kinds.ts';

/** What the builder draws its weights from (zoo.ts's Rng). */
export interface WeightSource {
  fillNormal(a: Float32Array, std: number): void;
  uniform(): number;
}

export interface VitConfig {
  readonly patch: number;
  readonly dim: number;
  readonly depth: number;
  readonly heads: number;
  readonly mlp: number;
  readonly classes: number;
}

/** torchvision's vit_b_16. */
export const VIT_B_16: VitConfig = { patch: 16, dim: 768, depth: 12, heads: 12, mlp: 3072, classes: 1000 };

type Spec<K extends LayerKind> = Omit<LayerOf<K>, 'output'> & { output?: string };

export function visionTransformer(name: string, rng: WeightSource, size: number, cfg: VitConfig, input: string, output: string): Graph {
  const { patch, dim, heads, mlp } = cfg;
  if (!(Number.isInteger(size / patch) && size >= patch)) throw new Error(`${name}: the input size ${size} is not a multiple of the patch size ${patch}`);
  const side = size / patch;
  const tokens = side * side + 1;
  const hd = dim / heads;
  const b = new GraphBuilder(name, input, [3, size, size]);
  const add = <K extends LayerKind>(l: Spec<K>): string => {
    const out = l.output ?? l.name;
    b.add({ ...l, output: out } as never);
    return out;
  };
  const normal = (n: number, std: number): Float32Array => {
    const a = new Float32Array(n);
    rng.fillNormal(a, std);
    return a;
  };
  const dense = (nm: string, x: string, outF: number, out = nm): string => {
    const shape = b.shapeOf(x);
    const inF = shape[shape.length - 1];
    return add<'dense'>({ kind: 'dense', name: nm, inputs: [x], output: out, inFeatures: inF, outFeatures: outF, weight: normal(inF * outF, Math.sqrt(2 / inF)), bias: new Float32Array(outF) });
  };
  const layerNorm = (nm: string, x: string): string => add<'layernorm'>({
    kind: 'layernorm', name: nm, inputs: [x], epsilon: 1e-6,
    scale: Float32Array.from({ length: dim }, () => 0.5 + rng.uniform()), bias: new Float32Array(dim),
  });
  const transpose = (nm: string, x: string, perm: number[]) => add<'transpose'>({ kind: 'transpose', name: nm, inputs: [x], perm });
  const reshape = (nm: string, x: string, shape: number[]) => add<'reshape'>({ kind: 'reshape', name: nm, inputs: [x], shape });

  const fan = 3 * patch * patch;
  add<'conv'>({
    kind: 'conv', name: 'conv_proj', inputs: [input], inChannels: 3, outChannels: dim, kernel: [patch, patch], stride: [patch, patch],
    pads: [0, 0, 0, 0], dilation: [1, 1], groups: 1, weight: normal(dim * fan, Math.sqrt(2 / fan)), bias: new Float32Array(dim),
  });
  let x = transpose('transpose', reshape('reshape', 'conv_proj', [dim, side * side]), [1, 0]);
  x = add<'concatconst'>({ kind: 'concatconst', name: 'class_token', inputs: [x], axis: 0, constShape: [1, dim], constant: new Float32Array(dim), before: true });
  x = add<'addconst'>({ kind: 'addconst', name: 'encoder.pos_embedding', inputs: [x], constant: new Float32Array(tokens * dim) });
  for (let k = 0; k < cfg.depth; k++) {
    const p = `encoder.layers.encoder_layer_${k}`;
    const a = `${p}.self_attention`;
    const qkv = dense(`${a}.in_proj`, layerNorm(`${p}.ln_1`, x), 3 * dim);
    // [T, 3D] -> q, k, v [T, D] -> [T, H, hd] -> q, v [H, T, hd]; k [H, hd, T].
    const part = (i: number, nm: string) => reshape(`${a}.reshape_${nm}`, add<'slice'>({ kind: 'slice', name: `${a}.split:${i}`, inputs: [qkv], axis: 1, start: i * dim, length: dim }), [tokens, heads, hd]);
    const q = add<'scale'>({ kind: 'scale', name: `${a}.scale_q`, inputs: [transpose(`${a}.transpose_q`, part(0, 'q'), [1, 0, 2])], scale: Float32Array.of(1 / Math.sqrt(hd)) });
    const kt = transpose(`${a}.transpose_k`, part(1, 'k'), [1, 2, 0]);
    const v = transpose(`${a}.transpose_v`, part(2, 'v'), [1, 0, 2]);
    const attn = add<'softmax'>({ kind: 'softmax', name: `${a}.softmax`, inputs: [add<'matmul'>({ kind: 'matmul', name: `${a}.qk`, inputs: [q, kt] })] });
    const o = add<'matmul'>({ kind: 'matmul', name: `${a}.av`, inputs: [attn, v] });
    const merged = reshape(`${a}.merge_heads`, transpose(`${a}.transpose_o`, o, [1, 0, 2]), [tokens, dim]);
    x = add<'add'>({ kind: 'add', name: `${p}.add_1`, inputs: [dense(`${a}.out_proj`, merged, dim), x] });
    const h = add<'gelu'>({ kind: 'gelu', name: `${p}.mlp.1`, inputs: [dense(`${p}.mlp.0`, layerNorm(`${p}.ln_2`, x), mlp)], approximate: 'none' });
    x = add<'add'>({ kind: 'add', name: `${p}.add_2`, inputs: [x, dense(`${p}.mlp.3`, h, dim)] });
  }
  x = add<'gather'>({ kind: 'gather', name: 'class_token_out', inputs: [layerNorm('encoder.ln', x)], axis: 0, index: 0 });
  return b.build(dense('heads.head', x, cfg.classes, output));
}
