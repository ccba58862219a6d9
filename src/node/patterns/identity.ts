/**
 * What a statistics set of `lrp patterns` is, by content: its checkpoint records it and
 * `--resume` compares it, so that sums over one set are never continued over another (other data
 * of the same shape, or fewer samples). The same identities as `lrp eval`'s run (../eval/identity.ts):
 *
 * - an `.npy` set: SHA-256 of the file (a copy of it is the same set; a file rewritten in place
 *   with other samples is not), its size and its sample count;
 * - a dataset: eval's dataset identity (kind, root, and the fingerprint of its listing: ids, file
 *   sizes and modification times), over the whole dataset before `--limit` (which the settings
 *   compare).
 *
 * The model is compared by its weights digest and the preprocessing by value (the run's settings).
 */
import { resolve } from 'node:path';
import type { Dataset } from '../datasets/index.ts';
import { datasetDifference, datasetIdentity, hashFile, short, type DatasetIdentity } from '../eval/identity.ts';

export type StatisticsIdentity =
  | { readonly kind: 'npy'; readonly path: string; readonly hash: string; readonly bytes: number; readonly samples: number }
  | ({ readonly kind: 'dataset' } & { readonly dataset: DatasetIdentity });

export function npySetIdentity(path: string, samples: number): StatisticsIdentity {
  const { hash, bytes } = hashFile(path);
  return { kind: 'npy', path: resolve(path), hash, bytes, samples };
}

export function datasetSetIdentity(ds: Pick<Dataset, 'kind' | 'root' | 'samples' | 'skips'>): StatisticsIdentity {
  return { kind: 'dataset', dataset: datasetIdentity(ds) };
}

/** How the set `now` differs from the set `was`, for people; null when it is the same set. */
export function statisticsDifference(was: StatisticsIdentity | undefined, now: StatisticsIdentity): string | null {
  if (!was) return 'the checkpoint does not say which statistics set it holds';
  if (was.kind === 'npy' && now.kind === 'npy') {
    if (was.hash === now.hash) return null;
    const where = was.path === now.path ? now.path : `${was.path} then, ${now.path} now`;
    return `the .npy's content differs (${short(was.hash)}, ${was.samples} samples then; ${short(now.hash)}, ${now.samples} samples now; ${where})`;
  }
  if (was.kind === 'dataset' && now.kind === 'dataset') return datasetDifference(was.dataset, now.dataset);
  return `${was.kind === 'npy' ? `an .npy (${was.path})` : `a dataset (${was.dataset.root})`} then, `
    + `${now.kind === 'npy' ? `an .npy (${now.path})` : `a dataset (${now.dataset.root})`} now`;
}
