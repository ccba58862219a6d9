/**
 * Built-in architectures with random weights, for benchmarks and end-to-end tests that must not
 * depend on downloading pretrained models. Browser-safe: no Node imports.
 *
 * Weights are He-initialised (normal, std sqrt(2 / fan_in), fan_in = inC/groups·kh·kw or
 * inFeatures), which keeps activations at a stable scale through deep ReLU stacks so that a random
 * VGG-16 produces neither zeros nor overflow at its logits. Biases are zero: that is what He et al.
 * prescribe, and it makes LRP's conservation exact on these models (a bias absorbs relevance), which
 * whole-model tests rely on. Bias handling is covered by the single-layer cases instead.
 */
import { GraphBuilder } from './builder.ts';
import type { Graph, Pads4, Pair, Shape } from './ir.ts';

// ---------------------------------------------------------------------------------------------
// Seeded normal generator: mulberry32 for uint32s, the Marsaglia–Tsang ziggurat for normals.
// The ziggurat needs a log only on ~1% of draws, so VGG-16's 138M weights take about a second
// (Box–Muller/polar take ~3x longer). Deterministic for a seed within one JS engine; another engine
// may differ in the last ulp of the tables (Math.exp/log are not specified to be correctly rounded).
// ---------------------------------------------------------------------------------------------

const ZIG_R = 3.442619855899;
const ZIG_KN = new Uint32Array(128);
const ZIG_WN = new Float64Array(128);
const ZIG_FN = new Float64Array(128);
{
  const m1 = 2147483648;
  const vn = 9.91256303526217e-3;
  let dn = ZIG_R;
  let tn = dn;
  const q = vn / Math.exp(-0.5 * dn * dn);
  ZIG_KN[0] = (dn / q) * m1;
  ZIG_KN[1] = 0;
  ZIG_WN[0] = q / m1;
  ZIG_WN[127] = dn / m1;
  ZIG_FN[0] = 1;
  ZIG_FN[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(vn / dn + Math.exp(-0.5 * dn * dn)));
    ZIG_KN[i + 1] = (dn / tn) * m1;
    tn = dn;
    ZIG_FN[i] = Math.exp(-0.5 * dn * dn);
    ZIG_WN[i] = dn / m1;
  }
}

/** A small deterministic PRNG (mulberry32 state). Not cryptographic. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  /** Uniform uint32. */
  nextU32(): number {
    const s = (this.state = (this.state + 0x6d2b79f5) | 0);
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in the open interval (0, 1), so its log is finite. */
  uniform(): number {
    return (this.nextU32() + 0.5) * 2.3283064365386963e-10;
  }

  /** Standard normal. */
  normal(): number {
    const hz = this.nextU32() | 0;
    const iz = hz & 127;
    return Math.abs(hz) < ZIG_KN[iz] ? hz * ZIG_WN[iz] : this.zigguratTail(hz, iz);
  }

  /** Fills `out` with normal(0, std) draws; the same stream as calling `normal()` repeatedly. */
  fillNormal(out: Float32Array | Float64Array, std: number): void {
    const n = out.length;
    let s = this.state;
    for (let i = 0; i < n; i++) {
      // mulberry32 inlined: a method call per weight doubles the time for VGG-16.
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      const hz = t ^ (t >>> 14);
      const iz = hz & 127;
      if (Math.abs(hz) < ZIG_KN[iz]) {
        out[i] = std * hz * ZIG_WN[iz];
      } else {
        this.state = s;
        out[i] = std * this.zigguratTail(hz, iz);
        s = this.state;
      }
    }
    this.state = s;
  }

  /** The ziggurat's slow path: the wedge rejection test, or the tail beyond ZIG_R for layer 0. */
  private zigguratTail(hz: number, iz: number): number {
    for (;;) {
      const x = hz * ZIG_WN[iz];
      if (iz === 0) {
        let tx: number;
        let ty: number;
        do {
          tx = -Math.log(this.uniform()) / ZIG_R;
          ty = -Math.log(this.uniform());
        } while (ty + ty < tx * tx);
        return hz > 0 ? ZIG_R + tx : -ZIG_R - tx;
      }
      if (ZIG_FN[iz] + this.uniform() * (ZIG_FN[iz - 1] - ZIG_FN[iz]) < Math.exp(-0.5 * x * x)) return x;
      hz = this.nextU32() | 0;
      iz = hz & 127;
      if (Math.abs(hz) < ZIG_KN[iz]) return hz * ZIG_WN[iz];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A sequential-network helper over GraphBuilder: each layer reads the previous layer's output,
// and its output value takes the layer's name (the last one is renamed 'logits').
// ---------------------------------------------------------------------------------------------

export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'logits';

interface ConvOpts {
  stride?: number;
  pad?: number;
  groups?: number;
}

class Sequential {
  private readonly b: GraphBuilder;
  private current = INPUT_NAME;

  constructor(name: string, inputShape: Shape, private readonly rng: Rng) {
    this.b = new GraphBuilder(name, INPUT_NAME, inputShape);
  }

  private get shape(): Shape {
    return this.b.shapeOf(this.current);
  }

  private step(output: string): { inputs: string[]; output: string } {
    const inputs = [this.current];
    this.current = output;
    return { inputs, output };
  }

  conv(name: string, outC: number, k: number, opts: ConvOpts = {}, output = name): this {
    const { stride = 1, pad = 0, groups = 1 } = opts;
    const inC = this.shape[0];
    const fanIn = (inC / groups) * k * k;
    const weight = new Float32Array(outC * fanIn);
    this.rng.fillNormal(weight, Math.sqrt(2 / fanIn));
    const pair = (v: number): Pair => [v, v];
    const pads: Pads4 = [pad, pad, pad, pad];
    this.b.add({
      kind: 'conv', name, ...this.step(output),
      inChannels: inC, outChannels: outC, kernel: pair(k), stride: pair(stride), pads,
      dilation: [1, 1], groups, weight, bias: new Float32Array(outC),
    });
    return this;
  }

  dense(name: string, outF: number, output = name): this {
    const inF = this.shape[0];
    const weight = new Float32Array(outF * inF);
    this.rng.fillNormal(weight, Math.sqrt(2 / inF));
    this.b.add({
      kind: 'dense', name, ...this.step(output),
      inFeatures: inF, outFeatures: outF, weight, bias: new Float32Array(outF),
    });
    return this;
  }

  relu(name: string): this {
    this.b.add({ kind: 'relu', name, ...this.step(name) });
    return this;
  }

  /** Dropout at inference, or a PyTorch module that is the identity at this input size. */
  identity(name: string): this {
    this.b.add({ kind: 'identity', name, ...this.step(name) });
    return this;
  }

  flatten(name: string): this {
    this.b.add({ kind: 'flatten', name, ...this.step(name) });
    return this;
  }

  maxpool(name: string, k: number, stride: number): this {
    this.b.add({
      kind: 'maxpool', name, ...this.step(name),
      kernel: [k, k], stride: [stride, stride], pads: [0, 0, 0, 0], dilation: [1, 1], ceilMode: false,
    });
    return this;
  }

  lrn(name: string, size: number, alpha: number, beta: number, bias: number): this {
    this.b.add({ kind: 'lrn', name, ...this.step(name), size, alpha, beta, bias });
    return this;
  }

  /** The current spatial size, to check that an adaptive pool is really the identity. */
  spatial(): Shape {
    return this.shape.slice(1);
  }

  build(): Graph {
    return this.b.build(this.current);
  }
}

// ---------------------------------------------------------------------------------------------
// Architectures
// ---------------------------------------------------------------------------------------------

type VggCfg = readonly (number | 'M')[];
const VGG11: VggCfg = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'];
const VGG16: VggCfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];

function expectSpatial(net: Sequential, h: number, w: number, what: string): void {
  const [sh, sw] = net.spatial();
  if (sh !== h || sw !== w) throw new Error(`${what}: expected a ${h}×${w} map, got ${sh}×${sw}`);
}

/** torchvision.models.vgg*: features.N indices follow the module list (conv, relu, ..., pool). */
function vgg(name: string, cfg: VggCfg, rng: Rng): Graph {
  const net = new Sequential(name, [3, 224, 224], rng);
  let i = 0;
  for (const v of cfg) {
    if (v === 'M') {
      net.maxpool(`features.${i++}`, 2, 2);
    } else {
      net.conv(`features.${i++}`, v, 3, { pad: 1 });
      net.relu(`features.${i++}`);
    }
  }
  // AdaptiveAvgPool2d((7, 7)) on a 7×7 map at 224×224.
  expectSpatial(net, 7, 7, `${name} avgpool`);
  net.identity('avgpool');
  net.flatten('flatten');
  net.dense('classifier.0', 4096).relu('classifier.1').identity('classifier.2');
  net.dense('classifier.3', 4096).relu('classifier.4').identity('classifier.5');
  net.dense('classifier.6', 1000, OUTPUT_NAME);
  return net.build();
}

/** torchvision.models.alexnet (the one-GPU variant: 64-192-384-256-256 channels, no LRN). */
function alexnet(name: string, rng: Rng): Graph {
  const net = new Sequential(name, [3, 224, 224], rng);
  net.conv('features.0', 64, 11, { stride: 4, pad: 2 }).relu('features.1').maxpool('features.2', 3, 2);
  net.conv('features.3', 192, 5, { pad: 2 }).relu('features.4').maxpool('features.5', 3, 2);
  net.conv('features.6', 384, 3, { pad: 1 }).relu('features.7');
  net.conv('features.8', 256, 3, { pad: 1 }).relu('features.9');
  net.conv('features.10', 256, 3, { pad: 1 }).relu('features.11').maxpool('features.12', 3, 2);
  // AdaptiveAvgPool2d((6, 6)) on a 6×6 map at 224×224.
  expectSpatial(net, 6, 6, `${name} avgpool`);
  net.identity('avgpool');
  net.flatten('flatten');
  net.identity('classifier.0').dense('classifier.1', 4096).relu('classifier.2');
  net.identity('classifier.3').dense('classifier.4', 4096).relu('classifier.5');
  net.dense('classifier.6', 1000, OUTPUT_NAME);
  return net.build();
}

/**
 * BVLC reference CaffeNet (models/bvlc_reference_caffenet/deploy.prototxt): pooling before LRN,
 * unlike bvlc_alexnet. Caffe pools with ceil rounding, but every pool here divides exactly
 * (55→27→13→6), so floor gives the same sizes.
 */
function caffenet(name: string, rng: Rng): Graph {
  const net = new Sequential(name, [3, 227, 227], rng);
  const lrn = (n: string): void => void net.lrn(n, 5, 1e-4, 0.75, 1);
  net.conv('conv1', 96, 11, { stride: 4 }).relu('relu1').maxpool('pool1', 3, 2);
  lrn('norm1');
  net.conv('conv2', 256, 5, { pad: 2, groups: 2 }).relu('relu2').maxpool('pool2', 3, 2);
  lrn('norm2');
  net.conv('conv3', 384, 3, { pad: 1 }).relu('relu3');
  net.conv('conv4', 384, 3, { pad: 1, groups: 2 }).relu('relu4');
  net.conv('conv5', 256, 3, { pad: 1, groups: 2 }).relu('relu5').maxpool('pool5', 3, 2);
  expectSpatial(net, 6, 6, `${name} pool5`);
  // Caffe's InnerProduct flattens implicitly; the IR needs it explicit.
  net.flatten('flatten');
  net.dense('fc6', 4096).relu('relu6').identity('drop6');
  net.dense('fc7', 4096).relu('relu7').identity('drop7');
  net.dense('fc8', 1000, OUTPUT_NAME);
  return net.build();
}

const ARCHITECTURES = {
  vgg16: (name: string, rng: Rng) => vgg(name, VGG16, rng),
  vgg11: (name: string, rng: Rng) => vgg(name, VGG11, rng),
  alexnet,
  caffenet,
} satisfies Record<string, (name: string, rng: Rng) => Graph>;

export type BuiltinModelName = keyof typeof ARCHITECTURES;
export const BUILTIN_MODELS: readonly BuiltinModelName[] = Object.keys(ARCHITECTURES) as BuiltinModelName[];
export const DEFAULT_SEED = 0;

function isBuiltinName(name: string): name is BuiltinModelName {
  return Object.hasOwn(ARCHITECTURES, name);
}

/** Whether `spec` names a built-in model (`NAME:random[:SEED]`) rather than a file path. */
export function isBuiltinSpec(spec: string): boolean {
  const [name, weights] = spec.split(':');
  return isBuiltinName(name) && weights === 'random';
}

/**
 * A built-in model from a spec `NAME:random` or `NAME:random:SEED` (SEED a uint32, default 0),
 * e.g. `vgg16:random:42`. Only random weights exist: pretrained ones come as ONNX files.
 */
export function builtinModel(spec: string): Graph {
  const [name, weights, seedText, ...rest] = spec.split(':');
  const available = BUILTIN_MODELS.map((m) => `${m}:random[:SEED]`).join(', ');
  if (!isBuiltinName(name)) {
    throw new Error(`unknown built-in model '${spec}'; available: ${available}`);
  }
  if (weights !== 'random' || rest.length > 0) {
    throw new Error(`built-in model '${spec}': only random weights are built in, use '${name}:random' or '${name}:random:SEED'`);
  }
  let seed = DEFAULT_SEED;
  if (seedText !== undefined) {
    if (!/^\d+$/.test(seedText) || Number(seedText) > 0xffffffff) {
      throw new Error(`built-in model '${spec}': seed '${seedText}' is not an integer in [0, 2^32)`);
    }
    seed = Number(seedText);
  }
  return ARCHITECTURES[name](`${name}:random:${seed}`, new Rng(seed));
}
