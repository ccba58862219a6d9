/**
 * `lrp eval` with the modern architectures of issue 23 gives Table 1 rows like any CNN's: the
 * trained EfficientNet sibling of the demo model (models/demo/demo-efficientnet.onnx, 64 × 64) and
 * the ViT of ../shared/testvectors/modern/vit-tiny (random weights, 32 × 32, 8 × 8 patches, the
 * same six outputs as the synthetic classes), each on a few synthetic images with their boxes. The
 * ViT's relevance reaches the input through its patch embedding (a convolution), so its maps are at
 * input resolution and are scored against the boxes as usual. What is checked: every pair is
 * scored, the shares lie in [0, 1], and the baseline row is there; the numbers themselves are the
 * models' (the ViT's weights are random).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvalReport } from '../src/eval/report.ts';
import { runEval } from '../src/node/eval/run.ts';
import { writeSynthDataset } from '../src/node/synth-dataset.ts';
import { useGpu } from './helpers/gpu.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';

const gpu = useGpu();
const root = (rel: string) => fileURLToPath(new URL(`../${rel}`, import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lrp-eval-modern-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function table1(model: string, size: number, preprocess?: string): Promise<EvalReport> {
  const data = join(dir, `data${size}`);
  writeSynthDataset(data, { images: 3, size, seed: 1, split: 'test' });
  const out = join(dir, `out-${size}`);
  await runEval({
    model, preprocess, dataset: `voc:${data}`, labels: join(data, 'classes.txt'), composites: ['cmp-alpha2-flat', 'lrp-z'], out,
    batch: 3, workers: 0, progress: false, log: () => {}, gpu: gpu.gpu,
  });
  return JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as EvalReport;
}

function expectRows(r: EvalReport): void {
  expect(r.images).toBe(3);
  expect(r.pairs).toBeGreaterThanOrEqual(3);
  expect(r.rows.map((row) => row.analyzer).sort()).toEqual(['Baseline', 'cmp-alpha2-flat', 'lrp-z']);
  for (const row of r.rows) {
    expect(row.pairs, row.analyzer).toBe(r.pairs);
    for (const v of [row.mu, row['mu<=0.5']]) {
      expect(v, row.analyzer).not.toBeNull();
      expect(v!, row.analyzer).toBeGreaterThanOrEqual(0);
      expect(v!, row.analyzer).toBeLessThanOrEqual(1);
    }
    expect(Number.isFinite(row.mu_w), row.analyzer).toBe(true);
  }
}

describe('lrp eval on modern architectures', () => {
  it('EfficientNet (the trained demo sibling): Table 1 rows', async () => {
    expectRows(await table1(root('models/demo/demo-efficientnet.onnx'), 64));
  }, 600_000);

  it.skipIf(!haveShared('eval on a ViT: modern vit-tiny vector', 'testvectors/modern/vit-tiny/model.onnx'))(
    'ViT (vit-tiny, random weights): Table 1 rows, relevance at input resolution from the patch embedding', async () => {
      const spec = join(dir, 'vit-tiny.json');
      writeFileSync(spec, JSON.stringify({ size: [32, 32], channels: 'RGB', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], resize: 'rescale' }));
      expectRows(await table1(sharedPath('testvectors/modern/vit-tiny/model.onnx'), 32, spec));
    }, 600_000);
});
