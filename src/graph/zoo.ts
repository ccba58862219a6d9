/**
 * Built-in architectures with random weights, for benchmarks and end-to-end tests that must not
 * depend on downloading pretrained models. Browser-safe: no Node imports.
 *
 * Weights are He-initialised (normal, std sqrt(2 / fan_in), fan_in = inC/groups·kh·kw or
 * inFeatures), which keeps activations at a stable scale through deep ReLU stacks so that a random
 * VGG-16 produces neither zeros nor overflow at its logits. Biases are zero: that is what He et al.
 * prescribe, and it makes LRP's conservation exact on these models (a bias absorbs relevance), which
 * whole-model tests rely on. Bias handling is covered by the single-layer cases instead.
 *
 * vit_b_16 (src/graph/zoo-vit.ts) follows torchvision's VisionTransformer the same way.
 *
 * The residual networks (resnet18, resnet50, mobilenetv2, efficientnet_b0) follow torchvision's
 * layouts and module names, with convolutions without bias each followed by a BatchNorm layer with random statistics
 * (BatchNormOpts), kept as layers so that the canonizer folds them as it folds an imported model's:
 * their folded convolutions do have biases. `builtinModelUncanonized` gives the graph as built, with
 * torchvision's trainable parameter counts; `builtinModel` the canonized one every executor runs.
 */
import { GraphBuilder } from './builder.ts';
import { canonize } from './canonize/index.ts';
import type { Graph, Pads4, Pair, Shape } from './ir.ts';
import { VIT_B_16, visionTransformer } from './zoo-vit.ts';

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
// Network builders over GraphBuilder. `Net` names every input explicitly (for branches and skip
// connections); `Sequential` chains each layer to the previous one. A layer's output value takes
// the layer's name unless given one (the last is renamed 'logits').
// ---------------------------------------------------------------------------------------------

export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'logits';

interface ConvOpts {
  stride?: number;
  pad?: number;
  groups?: number;
  /** torchvision's ResNet and MobileNetV2 convolutions have none (their BatchNorm shifts). */
  bias?: boolean;
}

interface BatchNormOpts {
  /** gamma ~ U(lo, hi) */
  scale?: readonly [number, number];
}

class Net {
  private readonly b: GraphBuilder;

  constructor(name: string, inputShape: Shape, private readonly rng: Rng) {
    this.b = new GraphBuilder(name, INPUT_NAME, inputShape);
  }

  shapeOf(value: string): Shape {
    return this.b.shapeOf(value);
  }

  conv(name: string, input: string, outC: number, k: number, opts: ConvOpts = {}, output = name): string {
    const { stride = 1, pad = 0, groups = 1, bias = true } = opts;
    const inC = this.shapeOf(input)[0];
    const fanIn = (inC / groups) * k * k;
    const weight = new Float32Array(outC * fanIn);
    this.rng.fillNormal(weight, Math.sqrt(2 / fanIn));
    const pair = (v: number): Pair => [v, v];
    const pads: Pads4 = [pad, pad, pad, pad];
    this.b.add({
      kind: 'conv', name, inputs: [input], output,
      inChannels: inC, outChannels: outC, kernel: pair(k), stride: pair(stride), pads,
      dilation: [1, 1], groups, weight, bias: new Float32Array(outC), ...(bias ? {} : { hasBias: false }),
    });
    return output;
  }

  dense(name: string, input: string, outF: number, output = name): string {
    const inF = this.shapeOf(input)[0];
    const weight = new Float32Array(outF * inF);
    this.rng.fillNormal(weight, Math.sqrt(2 / inF));
    this.b.add({
      kind: 'dense', name, inputs: [input], output,
      inFeatures: inF, outFeatures: outF, weight, bias: new Float32Array(outF),
    });
    return output;
  }

  /**
   * BatchNorm with random statistics: gamma ~ U(0.5, 1.5) (or `opts.scale`), beta and the running
   * mean ~ N(0, 0.1^2), the running variance ~ U(0.5, 1.5); epsilon 1e-5 as in PyTorch.
   */
  batchnorm(name: string, input: string, opts: BatchNormOpts = {}): string {
    const c = this.shapeOf(input)[0];
    const [lo, hi] = opts.scale ?? [0.5, 1.5];
    const uniform = (a: number, b: number) => Float32Array.from({ length: c }, () => a + (b - a) * this.rng.uniform());
    const scale = uniform(lo, hi);
    const bias = new Float32Array(c);
    this.rng.fillNormal(bias, 0.1);
    const mean = new Float32Array(c);
    this.rng.fillNormal(mean, 0.1);
    const variance = uniform(0.5, 1.5);
    this.b.add({ kind: 'batchnorm', name, inputs: [input], output: name, channels: c, scale, bias, mean, variance, epsilon: 1e-5 });
    return name;
  }

  relu(name: string, input: string): string {
    this.b.add({ kind: 'relu', name, inputs: [input], output: name });
    return name;
  }

  relu6(name: string, input: string): string {
    this.b.add({ kind: 'clip', name, inputs: [input], output: name, min: 0, max: 6 });
    return name;
  }

  add(name: string, a: string, b: string): string {
    this.b.add({ kind: 'add', name, inputs: [a, b], output: name });
    return name;
  }

  silu(name: string, input: string): string {
    this.b.add({ kind: 'silu', name, inputs: [input], output: name });
    return name;
  }

  sigmoid(name: string, input: string): string {
    this.b.add({ kind: 'sigmoid', name, inputs: [input], output: name });
    return name;
  }

  /** x * g with g computed from x (squeeze-and-excitation: g is C×1×1, broadcast over positions). */
  gate(name: string, x: string, g: string): string {
    this.b.add({ kind: 'gate', name, inputs: [x, g], output: name });
    return name;
  }

  /** Dropout at inference, or a PyTorch module that is the identity at this input size. */
  identity(name: string, input: string): string {
    this.b.add({ kind: 'identity', name, inputs: [input], output: name });
    return name;
  }

  flatten(name: string, input: string): string {
    this.b.add({ kind: 'flatten', name, inputs: [input], output: name });
    return name;
  }

  maxpool(name: string, input: string, k: number, stride: number, pad = 0): string {
    this.b.add({
      kind: 'maxpool', name, inputs: [input], output: name,
      kernel: [k, k], stride: [stride, stride], pads: [pad, pad, pad, pad], dilation: [1, 1], ceilMode: false,
    });
    return name;
  }

  globalAvgPool(name: string, input: string): string {
    this.b.add({ kind: 'globalavgpool', name, inputs: [input], output: name });
    return name;
  }

  lrn(name: string, input: string, size: number, alpha: number, beta: number, bias: number): string {
    this.b.add({ kind: 'lrn', name, inputs: [input], output: name, size, alpha, beta, bias });
    return name;
  }

  build(output: string): Graph {
    return this.b.build(output);
  }
}

class Sequential {
  private readonly net: Net;
  private current = INPUT_NAME;

  constructor(name: string, inputShape: Shape, rng: Rng) {
    this.net = new Net(name, inputShape, rng);
  }

  conv(name: string, outC: number, k: number, opts: ConvOpts = {}, output = name): this {
    this.current = this.net.conv(name, this.current, outC, k, opts, output);
    return this;
  }

  dense(name: string, outF: number, output = name): this {
    this.current = this.net.dense(name, this.current, outF, output);
    return this;
  }

  relu(name: string): this {
    this.current = this.net.relu(name, this.current);
    return this;
  }

  identity(name: string): this {
    this.current = this.net.identity(name, this.current);
    return this;
  }

  flatten(name: string): this {
    this.current = this.net.flatten(name, this.current);
    return this;
  }

  maxpool(name: string, k: number, stride: number): this {
    this.current = this.net.maxpool(name, this.current, k, stride);
    return this;
  }

  lrn(name: string, size: number, alpha: number, beta: number, bias: number): this {
    this.current = this.net.lrn(name, this.current, size, alpha, beta, bias);
    return this;
  }

  /** The current spatial size, to check that an adaptive pool is really the identity. */
  spatial(): Shape {
    return this.net.shapeOf(this.current).slice(1);
  }

  build(): Graph {
    return this.net.build(this.current);
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

/**
 * The last BatchNorm of a residual branch scales by U(0.2, 0.6) rather than U(0.5, 1.5): with every
 * other factor near 1, each skip sum would otherwise double the activations' second moment, 2^16
 * over ResNet-50's 16 blocks (torchvision's zero_init_residual option, softened).
 */
const RESIDUAL_BN: BatchNormOpts = { scale: [0.2, 0.6] };

type Block = 'basic' | 'bottleneck';

/**
 * torchvision.models.resnet*: module names as torchvision's (layer1.0.conv1, layer1.0.downsample.0,
 * ...); the ReLUs and the skip sum are named as torch.onnx.export names their nodes (relu, relu_1,
 * relu_2, add). Convolutions without bias, each followed by its BatchNorm; fc with bias.
 */
function resnet(name: string, block: Block, depths: readonly number[], rng: Rng, size: number): Graph {
  const net = new Net(name, [3, size, size], rng);
  const expansion = block === 'basic' ? 1 : 4;
  const nb = { bias: false };
  let x = net.conv('conv1', INPUT_NAME, 64, 7, { stride: 2, pad: 3, ...nb });
  x = net.relu('relu', net.batchnorm('bn1', x));
  x = net.maxpool('maxpool', x, 3, 2, 1);
  let inplanes = 64;
  depths.forEach((n, stage) => {
    const planes = 64 * 2 ** stage;
    for (let i = 0; i < n; i++) {
      const p = `layer${stage + 1}.${i}`;
      const stride = i === 0 && stage > 0 ? 2 : 1;
      let out: string;
      if (block === 'basic') {
        out = net.relu(`${p}.relu`, net.batchnorm(`${p}.bn1`, net.conv(`${p}.conv1`, x, planes, 3, { stride, pad: 1, ...nb })));
        out = net.batchnorm(`${p}.bn2`, net.conv(`${p}.conv2`, out, planes, 3, { pad: 1, ...nb }), RESIDUAL_BN);
      } else {
        out = net.relu(`${p}.relu`, net.batchnorm(`${p}.bn1`, net.conv(`${p}.conv1`, x, planes, 1, nb)));
        out = net.relu(`${p}.relu_1`, net.batchnorm(`${p}.bn2`, net.conv(`${p}.conv2`, out, planes, 3, { stride, pad: 1, ...nb })));
        out = net.batchnorm(`${p}.bn3`, net.conv(`${p}.conv3`, out, planes * 4, 1, nb), RESIDUAL_BN);
      }
      let identity = x;
      if (stride !== 1 || inplanes !== planes * expansion) {
        identity = net.batchnorm(`${p}.downsample.1`, net.conv(`${p}.downsample.0`, x, planes * expansion, 1, { stride, ...nb }));
      }
      inplanes = planes * expansion;
      x = net.relu(block === 'basic' ? `${p}.relu_1` : `${p}.relu_2`, net.add(`${p}.add`, out, identity));
    }
  });
  x = net.flatten('flatten', net.globalAvgPool('avgpool', x));
  return net.build(net.dense('fc', x, 1000, OUTPUT_NAME));
}

/** torchvision.models.mobilenet_v2 (width 1.0): expansion t, channels c, repeats n, first stride s. */
const MOBILENET_V2: readonly (readonly [number, number, number, number])[] = [
  [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
];

/**
 * torchvision.models.mobilenet_v2: features.N module names as torchvision's; ReLU6 is a Clip
 * (0, 6) as ONNX exports it; the projection has no activation (linear bottleneck), and a block adds
 * its input where stride and channels allow.
 */
function mobilenetV2(name: string, rng: Rng, size: number): Graph {
  const net = new Net(name, [3, size, size], rng);
  const cbr = (p: string, input: string, outC: number, k: number, stride: number, groups: number): string =>
    net.relu6(`${p}.2`, net.batchnorm(`${p}.1`, net.conv(`${p}.0`, input, outC, k, { stride, pad: (k - 1) / 2, groups, bias: false })));
  let x = cbr('features.0', INPUT_NAME, 32, 3, 2, 1);
  let inp = 32;
  let f = 1;
  for (const [t, c, n, s] of MOBILENET_V2) {
    for (let i = 0; i < n; i++) {
      const p = `features.${f++}.conv`;
      const stride = i === 0 ? s : 1;
      const hidden = inp * t;
      let h = x;
      let k = 0;
      if (t !== 1) h = cbr(`${p}.${k++}`, h, hidden, 1, 1, 1);
      h = cbr(`${p}.${k++}`, h, hidden, 3, stride, hidden);
      h = net.batchnorm(`${p}.${k + 1}`, net.conv(`${p}.${k}`, h, c, 1, { bias: false }), RESIDUAL_BN);
      x = stride === 1 && inp === c ? net.add(`features.${f - 1}.add`, x, h) : h;
      inp = c;
    }
  }
  x = cbr(`features.${f}`, x, 1280, 1, 1, 1);
  x = net.flatten('flatten', net.globalAvgPool('avgpool', x));
  return net.build(net.dense('classifier.1', net.identity('classifier.0', x), 1000, OUTPUT_NAME));
}

/**
 * torchvision.models.efficientnet_b0 (width and depth 1.0): expansion t, kernel k, first stride s,
 * output channels c, repeats n per stage features.1 to features.7.
 */
const EFFICIENTNET_B0: readonly (readonly [number, number, number, number, number])[] = [
  [1, 3, 1, 16, 1], [6, 3, 2, 24, 2], [6, 5, 2, 40, 2], [6, 3, 2, 80, 3], [6, 5, 1, 112, 3], [6, 5, 2, 192, 4], [6, 3, 1, 320, 1],
];

/**
 * torchvision.models.efficientnet_b0: MBConv blocks features.S.I.block.K with torchvision's module
 * names (the expansion, the depthwise convolution, the squeeze-and-excitation module with avgpool,
 * fc1, activation, fc2, scale_activation, the projection). SiLU is the fused `silu` kind the
 * canonizer makes of an export's Mul(x, Sigmoid(x)); the SE module's product is a `gate` named
 * `K.mul`, the skip sum `features.S.I.add` (stochastic depth is the identity at inference, so it
 * has no layer). The SE convolutions have biases (zero, like every bias built here), the others
 * BatchNorm, which the canonizer folds.
 */
function efficientnetB0(name: string, rng: Rng, size: number): Graph {
  const net = new Net(name, [3, size, size], rng);
  const cbs = (p: string, input: string, outC: number, k: number, stride: number, groups: number): string =>
    net.silu(`${p}.2`, net.batchnorm(`${p}.1`, net.conv(`${p}.0`, input, outC, k, { stride, pad: (k - 1) / 2, groups, bias: false })));
  let x = cbs('features.0', INPUT_NAME, 32, 3, 2, 1);
  let inp = 32;
  EFFICIENTNET_B0.forEach(([t, k, s, c, n], stage) => {
    for (let i = 0; i < n; i++) {
      const p = `features.${stage + 1}.${i}`;
      const stride = i === 0 ? s : 1;
      const hidden = inp * t;
      let h = x;
      let m = 0;
      if (t !== 1) h = cbs(`${p}.block.${m++}`, h, hidden, 1, 1, 1);
      h = cbs(`${p}.block.${m++}`, h, hidden, k, stride, hidden);
      const se = `${p}.block.${m++}`;
      const squeeze = Math.max(1, Math.floor(inp / 4));
      let g = net.globalAvgPool(`${se}.avgpool`, h);
      g = net.silu(`${se}.activation`, net.conv(`${se}.fc1`, g, squeeze, 1));
      g = net.sigmoid(`${se}.scale_activation`, net.conv(`${se}.fc2`, g, hidden, 1));
      h = net.gate(`${se}.mul`, h, g);
      const residual = stride === 1 && inp === c;
      h = net.batchnorm(`${p}.block.${m}.1`, net.conv(`${p}.block.${m}.0`, h, c, 1, { bias: false }), residual ? RESIDUAL_BN : {});
      x = residual ? net.add(`${p}.add`, x, h) : h;
      inp = c;
    }
  });
  x = cbs('features.8', x, 1280, 1, 1, 1);
  x = net.flatten('flatten', net.globalAvgPool('avgpool', x));
  return net.build(net.dense('classifier.1', net.identity('classifier.0', x), 1000, OUTPUT_NAME));
}

/** Input sizes other than the architecture's own, for tests: only the fully convolutional ones take them. */
type Builder = (name: string, rng: Rng, size?: number) => Graph;

const fixedSize = (f: (name: string, rng: Rng) => Graph): Builder => (name, rng, size) => {
  if (size !== undefined) throw new Error(`${name.split(':')[0]} has a fixed input size`);
  return f(name, rng);
};

const ARCHITECTURES = {
  vgg16: fixedSize((name, rng) => vgg(name, VGG16, rng)),
  vgg11: fixedSize((name, rng) => vgg(name, VGG11, rng)),
  alexnet: fixedSize(alexnet),
  caffenet: fixedSize(caffenet),
  resnet18: (name, rng, size = 224) => resnet(name, 'basic', [2, 2, 2, 2], rng, size),
  resnet50: (name, rng, size = 224) => resnet(name, 'bottleneck', [3, 4, 6, 3], rng, size),
  mobilenetv2: (name, rng, size = 224) => mobilenetV2(name, rng, size),
  efficientnet_b0: (name, rng, size = 224) => efficientnetB0(name, rng, size),
  vit_b_16: (name, rng, size = 224) => visionTransformer(name, rng, size, VIT_B_16, INPUT_NAME, OUTPUT_NAME),
} satisfies Record<string, Builder>;

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

export interface BuiltinOptions {
  /** A square input of this size instead of 224 (resnet*, mobilenetv2, efficientnet_b0, vit_b_16: a multiple of 16): for quick tests. */
  inputSize?: number;
}

/**
 * A built-in model from a spec `NAME:random` or `NAME:random:SEED` (SEED a uint32, default 0),
 * e.g. `vgg16:random:42`, as built: the ResNets and MobileNetV2 keep their BatchNorm layers, which
 * the canonizer folds (`builtinModel`). Only random weights exist: pretrained ones come as ONNX files.
 */
export function builtinModelUncanonized(spec: string, opts: BuiltinOptions = {}): Graph {
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
  return (ARCHITECTURES[name] as Builder)(`${name}:random:${seed}`, new Rng(seed), opts.inputSize);
}

/** A built-in model, canonized: the graph every executor runs. */
export function builtinModel(spec: string, opts: BuiltinOptions = {}): Graph {
  return canonize(builtinModelUncanonized(spec, opts)).graph;
}
