/**
 * `--metrics` of `lrp eval` and region perturbation's options, checked before anything is read or
 * written (like validate.ts): `mu` is always measured (the records are its), `aopc` adds region
 * perturbation (src/eval/region-perturbation.ts). The checks that need the model's input size
 * (a patch larger than the image, more steps than patches) follow as soon as the model is loaded,
 * still before any GPU work (checkAopcSettings).
 */
import { DEFAULT_AOPC, parseBaseline, type AopcSettings } from '../../eval/region-perturbation.ts';
import { checkWhole } from './validate.ts';

export const METRIC_NAMES = ['mu', 'aopc'] as const;

export interface MetricOptions {
  readonly metrics?: readonly string[];
  readonly steps?: number;
  readonly patch?: number;
  readonly baseline?: string;
}

/** The metrics in canonical order and region perturbation's settings (null without `aopc`); errors name the flag. */
export function resolveMetrics(o: MetricOptions): { metrics: string[]; aopc: AopcSettings | null } {
  const given = (o.metrics ?? ['mu']).flatMap((m) => String(m).split(',')).map((m) => m.trim()).filter(Boolean);
  for (const m of given) {
    if (!(METRIC_NAMES as readonly string[]).includes(m)) throw new Error(`--metrics: unknown metric '${m}' (known: ${METRIC_NAMES.join(', ')})`);
  }
  if (!given.includes('mu')) throw new Error(`--metrics ${given.join(',')}: mu is always measured (the records are its); give mu,${given.join(',')}`);
  const metrics = METRIC_NAMES.filter((m) => given.includes(m));
  const set = (['steps', 'patch', 'baseline'] as const).filter((k) => o[k] !== undefined);
  if (!metrics.includes('aopc')) {
    if (set.length) throw new Error(`${set.map((k) => `--${k}`).join(', ')} set region perturbation, which this run does not measure: add --metrics mu,aopc`);
    return { metrics, aopc: null };
  }
  const aopc: AopcSettings = { steps: o.steps ?? DEFAULT_AOPC.steps, patch: o.patch ?? DEFAULT_AOPC.patch, baseline: o.baseline ?? DEFAULT_AOPC.baseline };
  checkWhole('steps', aopc.steps, 1);
  checkWhole('patch', aopc.patch, 1);
  parseBaseline(aopc.baseline);
  return { metrics, aopc };
}
