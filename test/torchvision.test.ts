// torchvision models exported on the fly by scripts/export-torchvision.py, as a user exports them (torch.onnx.export, dynamic
// batch, random weights, BatchNorm statistics measured on random inputs), loaded and run on the GPU
// against PyTorch's own logits: ResNet-50 (opset 13: BatchNorm fused by the exporter, 16 skip sums), MobileNetV2
// (opset 15: ReLU6 as Clip with constant bounds, depthwise convolutions) and DenseNet-121 (opset 17:
// 62 BatchNorm after concatenations that stay standalone, zero Pads before the transitions' pooling).
// At 64x64 pixels to keep the suite lean: every layer still runs. Needs Debian's python3-torch and
// python3-torchvision; skips saying so where they are absent.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForwardModel } from '../src/forward/model.ts';
import { canonize } from '../src/graph/canonize/index.ts';
import { convertOnnx } from '../src/graph/onnx/import.ts';
import { explainWith, relL2, useGpu } from './helpers/gpu.ts';
import { exported, exportTorchvision, haveTorch, readNpy } from './helpers/torchvision.ts';

const SIZE = 64;
const available = haveTorch('torchvision export test');

const MODELS = [
  { name: 'resnet50', opset: 13, bnStandalone: 0 },
  { name: 'mobilenet_v2', opset: 15, bnStandalone: 0 },
  { name: 'densenet121', opset: 17, bnStandalone: 62 },
];

describe.skipIf(!available)('torchvision exports against PyTorch', () => {
  const gpu = useGpu();
  let dir = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lrp-torchvision-'));
    for (const opset of new Set(MODELS.map((m) => m.opset))) {
      exportTorchvision(dir, SIZE, MODELS.filter((m) => m.opset === opset).map((m) => m.name), opset);
    }
  }, 600_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const m of MODELS) {
    it(`${m.name} (opset ${m.opset}): logits match PyTorch's; cmp-alpha2-flat explains it`, async () => {
      const files = exported(dir, m.name);
      const path = files.onnx;
      const { graph: raw } = convertOnnx(new Uint8Array(readFileSync(path)), { source: path });
      const { graph, reports } = canonize(raw);
      expect(graph.layers.filter((l) => l.kind === 'batchnorm')).toHaveLength(m.bnStandalone);
      const x = readNpy(files.input);
      const fm = await ForwardModel.create(gpu.ctx, graph);
      const acts = await fm.forward(x.data, x.shape[0]);
      try {
        // Against PyTorch's float64 logits, within a few times what float32 costs PyTorch itself on
        // this model (BatchNorm-normalised activations make small logits of large sums: ResNet-50's
        // own float32 logits are 4e-5 from its float64 ones at 64x64).
        const f64 = readNpy(files.logits64).data;
        const torchErr = relL2(readNpy(files.logits32).data, f64);
        const err = relL2(await acts.read(), f64);
        const tolerance = Math.max(1e-5, 5 * torchErr);
        console.log(`${m.name}: logits relative L2 vs PyTorch's float64 ${err.toExponential(2)} (PyTorch float32 ${torchErr.toExponential(2)}, tolerance ${tolerance.toExponential(2)}); `
          + `canonizer: ${reports.filter((r) => r.changed || r.summary.startsWith('kept')).map((r) => `${r.pass}: ${r.summary}`).join('; ') || 'nothing to do'}`);
        expect(err).toBeLessThanOrEqual(tolerance);
        const ex = await explainWith(fm, 'cmp-alpha2-flat', acts, { targets: 'predicted', init: 'logit' });
        expect(ex.relevance.every(Number.isFinite)).toBe(true);
        expect(ex.relevance.some((v) => v !== 0)).toBe(true);
      } finally {
        acts.release();
        fm.destroy();
      }
    }, 600_000);
  }
});
