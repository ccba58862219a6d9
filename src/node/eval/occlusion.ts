/**
 * `lrp occlusion`: the paper's Fig. 2 check on a dataset (src/eval/occlusion.ts): per pair the
 * true class's logit clean, with the object occluded and with its context occluded; written as
 * occlusion.jsonl (per pair), occlusion.json (the means and the binned curves), occlusion.csv and
 * occlusion.svg. Forward passes only. Not resumable: it costs three forward passes per pair.
 */
import { winogradSkips, type ConvMode } from '../../forward/winograd.ts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { compareIds } from '../../eval/aggregate.ts';
import { addTime, type StageTimes } from '../../eval/evaluator.ts';
import { occlusionBatch, occlusionCsv, occlusionSvg, summarizeOcclusion, type OcclusionRecord, type OcclusionSummary } from '../../eval/occlusion.ts';
import { isPrepared } from '../../eval/pairs.ts';
import { compareSkips, normalSkip } from '../../eval/report.ts';
import type { PreparedSample, Skip } from '../../eval/types.ts';
import { ForwardModel } from '../../forward/model.ts';
import { createNodeGpu, type NodeGpu } from '../gpu.ts';
import { checkOutputPlan, modelRunInputs } from '../output-plan.ts';
import { prepareSamples } from '../prepare/index.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import { writeJsonl } from './files.ts';
import { Progress } from './progress.ts';
import { loadEvalModel, openEvalDataset, selectItems } from './setup.ts';
import { validateRunOptions } from './validate.ts';

export interface OcclusionOptions {
  readonly model: string;
  readonly dataset: string;
  readonly out: string;
  readonly split?: string;
  readonly labels?: string;
  readonly batch?: number;
  readonly limit?: number;
  readonly skipDifficult?: boolean;
  readonly preprocess?: string;
  /** The graph output whose logit is measured (default: the model's first). */
  readonly output?: string;
  /** How 3x3 stride-1 convolutions run (`--conv`; default `'auto'`, see src/forward/winograd.ts). An execution choice like the batch, not part of a run's identity: the methods agree to float32 rounding. */
  readonly conv?: ConvMode;
  readonly workers?: number;
  readonly progress?: boolean;
  readonly log?: (line: string) => void;
  readonly gpu?: NodeGpu;
}

export interface OcclusionResult {
  readonly summary: OcclusionSummary;
  readonly records: OcclusionRecord[];
  readonly skips: Skip[];
  readonly seconds: number;
  readonly stages: StageTimes;
}

/** What a run writes into its folder. */
const OCCLUSION_FILES = ['occlusion.jsonl', 'occlusion-skips.jsonl', 'occlusion.csv', 'occlusion.svg', 'occlusion.json'] as const;

export async function runOcclusion(opts: OcclusionOptions): Promise<OcclusionResult> {
  const log = opts.log ?? ((l: string) => console.error(l));
  const t0 = performance.now() / 1000;
  validateRunOptions(opts);
  const batch = opts.batch ?? 16;
  const model = loadEvalModel(opts.model, opts.preprocess, opts.output);
  const dataset = await openEvalDataset(opts, model.graph, log);
  // The folder and files are checked before the forward passes, not found unwritable after them.
  checkOutputPlan(OCCLUSION_FILES.map((f) => ({ path: join(opts.out, f), what: '--out' })), modelRunInputs(opts));
  const gpu = opts.gpu ?? await createNodeGpu();
  let fm: ForwardModel | null = null;
  try {
    fm = await ForwardModel.create(gpu.ctx, model.graph, { conv: opts.conv });
    const convNote = opts.conv === 'winograd' ? winogradSkips(fm.methods()) : null;
    if (convNote) log(`note: ${convNote}`);
    const items = selectItems(dataset.samples, dataset.skips, { limit: opts.limit });
    const skips: Skip[] = items.flatMap((it) => it.skips);
    const samples = items.flatMap((it) => (it.sample ? [it.sample] : []));
    const records: OcclusionRecord[] = [];
    const stages: StageTimes = {};
    const progress = opts.progress === false ? null : new Progress({ total: samples.length, label: 'occlusion' });
    const stream = prepareSamples(samples, model.preprocess, { workers: opts.workers });
    let pending: PreparedSample[] = [];
    let done = 0;
    const flush = async () => {
      const r = await occlusionBatch(fm!, pending, { batch, times: stages });
      records.push(...r.records);
      skips.push(...r.skips);
      done += pending.length;
      pending = [];
      progress?.update(done, `${records.length} pairs`);
    };
    try {
      for (;;) {
        const t = performance.now() / 1000;
        const next = await stream.next();
        addTime(stages, 'prepare', performance.now() / 1000 - t);
        if (next.done) break;
        skips.push(...next.value.skips);
        if (isPrepared(next.value)) pending.push(next.value);
        else done++;
        if (pending.length >= batch) await flush();
      }
      if (pending.length) await flush();
    } finally {
      await stream.close();
    }
    progress?.finish();
    records.sort((a, b) => compareIds(a.image, b.image) || a.classIndex - b.classIndex);
    const summary = summarizeOcclusion(records);
    const sortedSkips = skips.map(normalSkip).sort(compareSkips);
    mkdirSync(opts.out, { recursive: true });
    writeJsonl(join(opts.out, 'occlusion.jsonl'), records);
    writeJsonl(join(opts.out, 'occlusion-skips.jsonl'), sortedSkips);
    writeFileAtomic(join(opts.out, 'occlusion.csv'), occlusionCsv(summary));
    writeFileAtomic(join(opts.out, 'occlusion.svg'), occlusionSvg(summary));
    const seconds = performance.now() / 1000 - t0;
    writeFileAtomic(join(opts.out, 'occlusion.json'), `${JSON.stringify({
      settings: { model: opts.model, output: opts.output ?? null, dataset: opts.dataset, split: opts.split ?? null, labels: opts.labels ?? null, preprocess: model.preprocess, skipDifficult: opts.skipDifficult ?? false, limit: opts.limit ?? null },
      images: items.length, skipped: sortedSkips.length, ...summary, timing: { seconds, batch },
    }, null, 1)}\n`);
    return { summary, records, skips: sortedSkips, seconds, stages };
  } finally {
    fm?.destroy();
    if (!opts.gpu) gpu.close();
  }
}
