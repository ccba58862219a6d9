/**
 * Hostile inputs that would exhaust the machine (issue 25, findings 5 and 6), each refused before
 * any work with the limit and what to change:
 *
 * - a 1 KB ONNX model declaring a 3×20000×20000 input: `explain` and `predict` used to resize every
 *   image to it (4.5 GiB each) before a later check refused the model; now its declared sizes are
 *   checked against the device's binding limit and a host bound at load, before any input is read
 *   (the CLI) and before anything is uploaded or compiled (the library);
 * - numeric options that size work or memory (`eval --workers 1000`, `--bootstrap 1e9`, ...) have
 *   upper bounds, checked when the command line is parsed.
 *
 * Next probe: add a case per option or model shape here.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS, runCli } from '../../cli/app.ts';
import { OPTION_BOUNDS, UNBOUNDED } from '../../cli/option-bounds.ts';
import { checkModelFits, HOST_SAMPLE_BYTES } from '../../src/forward/size-limits.ts';
import { importOnnx } from '../../src/graph/onnx/import.ts';
import { Lrp } from '../../src/node/index.ts';
import type { PreprocessSpec } from '../../src/preprocess/spec.ts';
import { modelProto, node, type ModelSpec } from '../helpers/onnx-writer.ts';

const tmp = mkdtempSync(join(tmpdir(), 'lrp-exhaustion-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  process.exitCode = undefined;
});

/** Runs `lrp ...argv` in this process; its exit status and what it printed on stderr. */
async function cli(argv: string[], dryRun = false): Promise<{ code: number; stderr: string }> {
  const errors: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
    errors.push(a.map(String).join(' '));
  });
  const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
  try {
    const code = await runCli(argv, dryRun ? { dryRun: () => undefined } : {});
    return { code, stderr: errors.join('\n') };
  } finally {
    spy.mockRestore();
    log.mockRestore();
  }
}

/** GlobalAveragePool → Flatten → Gemm (3 → 2): a model of a few hundred bytes whose input is C×H×W as declared. */
function poolModel(c: number, h: number, w: number): ModelSpec {
  return {
    nodes: [node('GlobalAveragePool', ['x'], ['g'], {}, 'gap'), node('Flatten', ['g'], ['f'], {}, 'flat'), node('Gemm', ['f', 'W', 'B'], ['y'], { transB: { i: 1 } }, 'fc')],
    inputs: [{ name: 'x', dims: [1, c, h, w] }],
    outputs: [{ name: 'y', dims: [1, 2] }],
    initializers: [{ name: 'W', dims: [2, c], data: new Array(2 * c).fill(0.5) }],
  };
}
const withBias = (m: ModelSpec): ModelSpec => ({ ...m, initializers: [...m.initializers!, { name: 'B', dims: [2], data: [0, 0] }] });

const preprocess = (h: number, w: number): PreprocessSpec => ({ size: [h, w], channels: 'RGB', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], resize: 'rescale' });

describe('a model declaring a huge input (finding 5)', () => {
  const bytes = modelProto(withBias(poolModel(3, 20000, 20000)));
  const model = join(tmp, 'huge-input.onnx');
  writeFileSync(model, bytes);
  writeFileSync(`${model}.json`, JSON.stringify(preprocess(20000, 20000)));
  // Garbage, not an image: the old code read (and would have resized) the input before the model
  // was checked, so it reported this file; the new one refuses the model before reading any input.
  // (A real image is not used: the old code would have resized it to 4.5 GiB on this machine.)
  const input = join(tmp, 'input.png');
  writeFileSync(input, 'not a png');

  it('is small on disk', () => {
    expect(bytes.length).toBeLessThan(2048);
  });

  it('checkModelFits: the host bound, naming the declared size, the limit and what to change', () => {
    const graph = importOnnx(bytes, { source: 'huge-input.onnx' });
    expect(() => checkModelFits(graph, { binding: 2 ** 31 }, 'huge-input.onnx')).toThrow(
      /model 'huge-input\.onnx' declares an input of 3×20000×20000 per sample \(4\.47 GiB as float32\), over the 1\.00 GiB one sample may take in host memory.*export the model with a smaller input size/,
    );
    expect(HOST_SAMPLE_BYTES).toBe(2 ** 30);
  });

  it('checkModelFits: the binding limit for an input, an activation and a convolution weight', () => {
    // 3×4096×4096 floats are 192 MiB: under the host bound, over a 128 MiB binding.
    const big = importOnnx(modelProto(withBias(poolModel(3, 4096, 4096))), { source: 'big.onnx' });
    expect(() => checkModelFits(big, { binding: 128 * 2 ** 20 })).toThrow(
      /declares an input of 3×4096×4096 per sample \(192\.0 MiB as float32\): one sample's input exceeds the binding limit, this device's binding limit of 128\.0 MiB \(the smaller of maxStorageBufferBindingSize and maxBufferSize\)/,
    );
    expect(() => checkModelFits(big, { binding: 256 * 2 ** 20 })).not.toThrow();
    // A 1x1 convolution to 100000 channels on 32×32: its output is 391 MiB per sample (the issue's
    // "a million channels" kind), its weight 1.1 MiB.
    const wide: ModelSpec = {
      nodes: [node('Conv', ['x', 'K'], ['y'], { kernel_shape: { ints: [1, 1] } }, 'wide')],
      inputs: [{ name: 'x', dims: [1, 3, 32, 32] }], outputs: [{ name: 'y' }],
      initializers: [{ name: 'K', dims: [100000, 3, 1, 1], data: new Float32Array(300000).fill(0.1) }],
    };
    const g = importOnnx(modelProto(wide), { source: 'wide.onnx' });
    expect(() => checkModelFits(g, { binding: 128 * 2 ** 20 }, 'wide.onnx')).toThrow(
      /model 'wide\.onnx': one sample's largest activation, the output of layer 'wide' \(100000×32×32, 390\.6 MiB as float32\), exceeds the binding limit/,
    );
    expect(() => checkModelFits(g, { binding: 2 ** 20 }, 'wide.onnx')).toThrow(/the output of layer 'wide'/);
    expect(() => checkModelFits(g, { binding: 2 ** 30 }, 'wide.onnx')).not.toThrow();
    expect(() => checkModelFits(g, { binding: 2 ** 30, hostSample: 1024 }, 'wide.onnx')).toThrow(/over the 1024 bytes one sample may take in host memory/);
  });

  it('the library refuses it at loadModel, before anything is compiled', async () => {
    let compiled = 0;
    const lrp = await Lrp.create({ onPipelineProgress: () => { compiled++; } });
    try {
      await expect(lrp.loadModel(bytes, { name: 'huge-input.onnx', preprocess: preprocess(20000, 20000) }))
        .rejects.toThrow(/model 'huge-input\.onnx' declares an input of 3×20000×20000 per sample .*host memory/);
      expect(compiled).toBe(0);
    } finally {
      lrp.destroy();
    }
  });

  for (const command of ['explain', 'predict']) {
    it(`lrp ${command} refuses it before reading any input`, async () => {
      const r = await cli([command, '--model', model, '--input', input]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/declares an input of 3×20000×20000 per sample \(4\.47 GiB as float32\), over the 1\.00 GiB one sample may take in host memory/);
      expect(r.stderr).not.toMatch(/input\.png/);
    });
  }
});

describe('upper bounds of the numeric options (finding 6)', () => {
  const BASE: Record<string, string[]> = {
    eval: ['eval', '--model', 'm.onnx', '--dataset', 'voc:d'],
    explain: ['explain', '--model', 'm.onnx', '--input', 'a.jpg'],
    patterns: ['patterns', '--model', 'm.onnx', '--input', 's.npy', '--out', 'p'],
    demo: ['demo'],
    synth: ['synth', '--out', 'd'],
    occlusion: ['occlusion', '--model', 'm.onnx', '--dataset', 'voc:d'],
  };
  const cases: [string, string, number][] = [
    ['eval', 'workers', 1000], ['eval', 'bootstrap', 1e9], ['eval', 'batch', 1e6], ['eval', 'gallery', 1e6],
    ['patterns', 'workers', 1000], ['patterns', 'batch', 100000], ['occlusion', 'workers', 65], ['explain', 'batch', 1025],
    ['demo', 'images', 1e9], ['demo', 'pattern-images', 1e9], ['demo', 'gallery', 5000], ['synth', 'images', 1e8], ['synth', 'size', 100000],
  ];
  for (const [command, option, value] of cases) {
    it(`${command} --${option} ${value} is a usage error naming the flag and its bound`, async () => {
      const max = OPTION_BOUNDS[option].max;
      const r = await cli([...BASE[command], `--${option}`, String(value)], true);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--${option} must be at most ${max} (${OPTION_BOUNDS[option].sizes}), got ${value}`);
      // The bound itself is accepted.
      expect((await cli([...BASE[command], `--${option}`, String(max)], true)).code).toBe(0);
    });
  }

  it('every numeric option of every command has a bound, or is listed as sizing nothing', () => {
    const loose: string[] = [];
    for (const c of COMMANDS) {
      for (const s of c.def.options) {
        if (s.opt.type !== 'number') continue;
        if (!(s.name in OPTION_BOUNDS) && !(s.name in UNBOUNDED)) loose.push(`${c.def.command.split(' ')[0]} --${s.name}`);
      }
    }
    expect(loose).toEqual([]);
  });
});
