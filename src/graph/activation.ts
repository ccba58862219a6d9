/**
 * The element-wise activations as one list of codes: the forward kernel (forward/activation.wgsl)
 * and the gradient kernel (relevance/activation_backward.wgsl) read the code as their ACT override,
 * and `npm run shaders` writes the function of each code into both from scripts/shadergen/snippets.ts
 * (the `activation` region), so the numbers on the two sides are one list.
 *
 * Decisions:
 * - One generic kernel per direction, the function chosen by an override constant (each activation
 *   compiles its own pipeline, the switch folds away), rather than one shader per activation.
 * - The gradient is computed from the input x alone (not from the stored output), so every code has
 *   one derivative expression; x is what the executor keeps for every layer anyway.
 */
import type { GeluLayer, HardSigmoidLayer, HardSwishLayer, SigmoidLayer, SiluLayer, TanhLayer } from './ir.ts';

export enum Activation { Sigmoid = 0, Tanh = 1, HardSigmoid = 2, Silu = 3, HardSwish = 4, Gelu = 5, GeluTanh = 6 }

export type ActivationLayer = SigmoidLayer | TanhLayer | SiluLayer | HardSigmoidLayer | HardSwishLayer | GeluLayer;

/** A layer's code and the alpha, beta its function reads (0 where it reads none). */
export function activationOf(layer: ActivationLayer): { code: Activation; alpha: number; beta: number } {
  switch (layer.kind) {
    case 'sigmoid': return { code: Activation.Sigmoid, alpha: 0, beta: 0 };
    case 'tanh': return { code: Activation.Tanh, alpha: 0, beta: 0 };
    case 'silu': return { code: Activation.Silu, alpha: 0, beta: 0 };
    case 'hardsigmoid': return { code: Activation.HardSigmoid, alpha: layer.alpha, beta: layer.beta };
    case 'hardswish': return { code: Activation.HardSwish, alpha: layer.alpha, beta: layer.beta };
    case 'gelu': return { code: layer.approximate === 'tanh' ? Activation.GeluTanh : Activation.Gelu, alpha: 0, beta: 0 };
  }
}
