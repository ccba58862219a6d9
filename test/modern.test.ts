/**
 * The modern CNNs of ../shared/testvectors/modern/ (lrp-rules.md, "Modern CNNs and vision
 * transformers"): EfficientNet (SiLU written as Mul(x, Sigmoid(x)), squeeze-and-excitation gates,
 * BatchNorm fused by the exporter) and MobileNetV3 (HardSwish written as Mul(x, HardSigmoid(x)),
 * ReLU and HardSigmoid SE gates, BatchNorm kept and folded exactly by the canonizer): the logits
 * and every case of each model within its tolerance, through the harness test/zennit.test.ts uses
 * (test/helpers/reference-cases.ts). The references fold BatchNorm exactly, so no case goes through
 * zennit's merged-BatchNorm function. The shared files are read inside the tests only.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { useGpu } from './helpers/gpu.ts';
import { runReferenceCases } from './helpers/reference-cases.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';
import type { ZennitCaseFile } from './helpers/zennit.ts';

/**
 * The whole set (ConvNeXt: channels-last LayerNorm between Transposes, MatMul + Add, GELU's Erf
 * formula, layer scale; the ViT: the class token's folded shape chain, Split into q, k, v, attention
 * as MatMuls of activations around an inner Softmax under CP-LRP, the positional embedding, token 0).
 */
const MODELS = ['efficientnet-tiny', 'mobilenet-v3-tiny', 'convnext-tiny', 'vit-tiny'] as const;
/** Every case the set's README lists, so a cases.json that lost one fails here. */
const CASES = ['z', 'epsilon-0.25', 'alpha2beta1', 'zplus', 'cmp-alpha1-flat', 'cmp-alpha2-flat', 'gradient', 'gradient-x-input'];

const gpu = useGpu();

describe('modern CNN reference relevance', () => {
  for (const m of MODELS) {
    const dir = `testvectors/modern/${m}/`;
    it.skipIf(!haveShared(`modern reference vectors (${m})`, `${dir}cases.json`))(`${m}: logits, and every case within its tolerance`, async () => {
      const spec = JSON.parse(readFileSync(sharedPath(`${dir}cases.json`), 'utf8')) as ZennitCaseFile;
      expect([...new Set(spec.cases.map((c) => c.name))].sort()).toEqual([...CASES].sort());
      expect(await runReferenceCases(gpu.ctx, { label: `modern/${m}`, dir: sharedPath(dir), spec, cases: spec.cases, logits: true })).toEqual([]);
    }, 900_000); // cold on lavapipe (every pipeline compiled) at load 30 on 2 cores: 104 s and 230 s; warm 13 s and 3 s; convnext-tiny 121 s cold, 7 s warm at load 14; vit-tiny 70 s cold at load 19
  }
});
