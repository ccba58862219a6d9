/**
 * What an evaluation run is, by content: the identity `run.json` records and `--resume` and
 * `lrp merge` compare. Paths as typed are kept for people (EvalSettings), never compared: the same
 * labels file named by a relative or an absolute path is the same run, and a relative
 * `--dataset voc:ds` that names another folder from another working directory is not.
 *
 * - model: SHA-256 of the ONNX file and of every external-data file it reads (a built-in model is
 *   its name: built-ins are generated from a fixed seed).
 * - dataset: the resolved absolute root (recorded; a dataset moved with its listing unchanged
 *   is the same dataset, with a note) and a fingerprint of its listing: per image id the image
 *   and annotation files (path under the root, size in bytes, mtime in ns), and the images the
 *   reader dropped with why (paths under the root). The whole dataset, before --limit and
 *   --shard, so that every shard of a run records the same fingerprint. A dataset regenerated in
 *   place (new mtimes) is another dataset.
 * - labels: SHA-256 of the file (null: the dataset's default class list).
 * - preprocessing, composites as resolved against the model (name, method, rule of every
 *   layer), init, split, skipDifficult, limit, shard, tool version.
 * - aopc: region perturbation's steps, patch and baseline when it is measured (absent, as in
 *   run.json files of runs without it: not measured).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import type { Shard } from '../../eval/report.ts';
import type { Sample, Skip } from '../../eval/types.ts';
import type { LayerRule, Method } from '../../lrp/rule-spec.ts';
import type { AopcSettings } from '../../eval/region-perturbation.ts';
import type { PreprocessSpec } from '../../preprocess/spec.ts';
import type { Dataset } from '../datasets/index.ts';
import { PACKAGE_VERSION } from '../package-root.ts';
import type { AnalyzerSpec } from './analyzer.ts';

export const TOOL_NAME = 'webgpu-lrp';

/** package.json's version: records of two versions are not mixed in one run. */
export const TOOL_VERSION: string = PACKAGE_VERSION;

export interface ModelIdentity {
  /** Absolute path when it was loaded (for people), or the built-in's name. */
  readonly path: string;
  /** `sha256:HEX` of the file, or `builtin:NAME`. */
  readonly hash: string;
  readonly bytes: number | null;
  /** External-data files (relative to the model) with their hashes. */
  readonly externalData: readonly { readonly location: string; readonly hash: string }[];
}

export interface DatasetIdentity {
  readonly kind: string;
  /** realpath of the folder read. */
  readonly root: string;
  /** Image ids listed (samples and images dropped while reading). */
  readonly images: number;
  /** `sha256:HEX` over the listing (see the file header). */
  readonly fingerprint: string;
}

export interface CompositeIdentity {
  readonly name: string;
  readonly method: Method | null;
  /** Layer name → its rule, in the model's layer order (learned patterns by their digest). */
  readonly rules: readonly (readonly [string, RuleIdentity])[];
}

export type RuleIdentity = Exclude<LayerRule, { rule: 'pattern' }> | { readonly rule: 'pattern'; readonly patterns: string };

export interface RunIdentity {
  readonly tool: { readonly name: string; readonly version: string };
  readonly model: ModelIdentity;
  readonly dataset: DatasetIdentity;
  readonly split: string | null;
  readonly labels: { readonly path: string; readonly hash: string } | null;
  readonly preprocess: PreprocessSpec;
  readonly composites: readonly CompositeIdentity[];
  /** The graph output explained (`--output`); null (or absent in older run.json) for the model's first. */
  readonly output?: string | null;
  readonly init: string;
  readonly skipDifficult: boolean;
  readonly limit: number | null;
  readonly shard: Shard | null;
  /** Region perturbation's settings (`--metrics mu,aopc`); absent when it is not measured. */
  readonly aopc?: AopcSettings | null;
}

/** `sha256:HEX` of a file, read in 1 MiB pieces (models run to hundreds of MB); errors name it. */
export function hashFile(path: string): { hash: string; bytes: number } {
  const h = createHash('sha256');
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Error(`${path}: cannot read to fingerprint it: ${(e as Error).message}`);
  }
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let bytes = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      bytes += n;
    }
    return { hash: `sha256:${h.digest('hex')}`, bytes };
  } catch (e) {
    throw new Error(`${path}: cannot read to fingerprint it: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

export function hashText(text: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

export function modelIdentity(spec: string, builtin: boolean, externalData: readonly string[]): ModelIdentity {
  if (builtin) return { path: spec, hash: `builtin:${spec}`, bytes: null, externalData: [] };
  const path = resolve(spec);
  const { hash, bytes } = hashFile(path);
  const dir = resolve(path, '..');
  return {
    path, hash, bytes,
    externalData: [...externalData].sort().map((location) => ({ location, hash: hashFile(resolve(dir, location)).hash })),
  };
}

/** The part of a path under `root`, with `/` separators, so listings compare across machines. */
function under(root: string, path: string): string {
  const rel = relative(root, resolve(path));
  return rel.split(sep).join('/');
}

function fileEntry(root: string, path: string): string {
  try {
    const st = statSync(path, { bigint: true });
    return `${under(root, path)}\t${st.size}\t${st.mtimeNs}`;
  } catch {
    return `${under(root, path)}\tmissing`;
  }
}

/** The dataset's listing fingerprint (see the file header). */
export function datasetIdentity(ds: Pick<Dataset, 'kind' | 'root' | 'samples' | 'skips'>): DatasetIdentity {
  let root = ds.root;
  try {
    root = realpathSync(ds.root);
  } catch {
    // The reader found it a moment ago; keep its spelling.
  }
  const h = createHash('sha256');
  const ids = new Set<string>();
  const strip = (text: string) => text.split(ds.root).join('<root>');
  const lines: string[] = [];
  for (const s of ds.samples as readonly Sample[]) {
    ids.add(s.id);
    lines.push(`${s.id}\t${fileEntry(ds.root, s.imagePath)}\t${fileEntry(ds.root, s.annotationPath)}`);
  }
  for (const k of ds.skips as readonly Skip[]) {
    ids.add(k.id);
    lines.push(`${k.id}\tskip\t${k.classIndex ?? ''}\t${strip(k.reason)}`);
  }
  lines.sort();
  for (const l of lines) h.update(`${l}\n`);
  return { kind: ds.kind, root, images: ids.size, fingerprint: `sha256:${h.digest('hex')}` };
}

export function compositeIdentity(analyzers: readonly AnalyzerSpec[], layerOrder: readonly string[]): CompositeIdentity[] {
  return analyzers.map((a) => ({
    name: a.name,
    method: a.composite.method,
    rules: layerOrder.filter((l) => a.composite.rules.has(l)).map((l) => [l, ruleIdentity(a.composite.rules.get(l)!)] as const),
  }));
}

/** A rule as the identity records it: PatternAttribution's patterns by their digest, not their values. */
function ruleIdentity(rule: LayerRule): RuleIdentity {
  return rule.rule === 'pattern' ? { rule: 'pattern', patterns: rule.digest } : rule;
}

export interface IdentityMismatch {
  /** The field, as messages name it: "model", "dataset", "labels", "composites", "shard", ... */
  readonly field: string;
  /** What differs, for people. */
  readonly detail: string;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
/** A hash as messages show it: its first 12 hex digits. */
export const short = (hash: string) => hash.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, '$1…');

/** How `now` differs from `was` as a dataset (kind, or listing), for people; null when it is the same. */
export function datasetDifference(was: DatasetIdentity, now: DatasetIdentity): string | null {
  if (was.kind !== now.kind) return `${was.kind} then, ${now.kind} now`;
  if (was.fingerprint === now.fingerprint) return null;
  const where = was.root === now.root ? `in ${now.root}` : `${was.root} then, ${now.root} now`;
  return `the dataset's listing differs (${was.images} images then, ${now.images} now; ids, file sizes or modification times changed; ${where})`;
}

/**
 * Where `now` is another run than `was`: the fields that differ, by content. `opts.shardCount`
 * compares only the shard count (merge: the shards of one run differ in their index).
 */
export function compareIdentity(was: RunIdentity, now: RunIdentity, opts: { shard?: 'exact' | 'count' | 'ignore' } = {}): IdentityMismatch[] {
  const out: IdentityMismatch[] = [];
  const push = (field: string, detail: string) => out.push({ field, detail });
  if (was.tool.version !== now.tool.version) push('tool version', `${was.tool.version} then, ${now.tool.version} now`);
  if (was.model.hash !== now.model.hash) {
    push('model', `the model's content differs (${short(was.model.hash)} in ${was.model.path}, ${short(now.model.hash)} in ${now.model.path})`);
  } else if (!same(was.model.externalData, now.model.externalData)) {
    push('model', `the model's external data differs (${was.model.path})`);
  }
  const dataset = datasetDifference(was.dataset, now.dataset);
  if (dataset) push('dataset', dataset);
  if (was.split !== now.split) push('split', `${JSON.stringify(was.split)} then, ${JSON.stringify(now.split)} now`);
  const lab = (l: RunIdentity['labels']) => (l ? `${l.path} (${short(l.hash)})` : 'the default class list');
  if ((was.labels?.hash ?? null) !== (now.labels?.hash ?? null)) push('labels', `the class list differs: ${lab(was.labels)} then, ${lab(now.labels)} now`);
  if (!same(was.preprocess, now.preprocess)) push('preprocess', `${JSON.stringify(was.preprocess)} then, ${JSON.stringify(now.preprocess)} now`);
  if (!same(was.composites, now.composites)) {
    const names = (c: readonly CompositeIdentity[]) => c.map((x) => x.name).join(', ');
    const detail = !same(was.composites.map((c) => c.name), now.composites.map((c) => c.name))
      ? `${names(was.composites)} then, ${names(now.composites)} now`
      : `the rules of ${was.composites.filter((c, i) => !same(c, now.composites[i])).map((c) => c.name).join(', ')} resolve differently`;
    push('composites', detail);
  }
  if ((was.output ?? null) !== (now.output ?? null)) push('output', `${was.output ?? "the model's first"} then, ${now.output ?? "the model's first"} now`);
  if (was.init !== now.init) push('init', `${was.init} then, ${now.init} now`);
  if (was.skipDifficult !== now.skipDifficult) push('skipDifficult', `${was.skipDifficult} then, ${now.skipDifficult} now`);
  if (was.limit !== now.limit) push('limit', `${was.limit ?? 'none'} then, ${now.limit ?? 'none'} now`);
  const aopcText = (a: AopcSettings | null | undefined) => (a ? `--steps ${a.steps} --patch ${a.patch} --baseline ${a.baseline}` : 'not measured');
  if (!same(was.aopc ?? null, now.aopc ?? null)) push('aopc', `${aopcText(was.aopc)} then, ${aopcText(now.aopc)} now`);
  const shardText = (s: Shard | null) => (s ? `${s.index}/${s.count}` : 'none (a whole run)');
  const mode = opts.shard ?? 'exact';
  if (mode === 'exact' && !same(was.shard, now.shard)) push('shard', `${shardText(was.shard)} then, ${shardText(now.shard)} now`);
  if (mode === 'count' && (was.shard?.count ?? null) !== (now.shard?.count ?? null)) {
    push('shard', `shard ${shardText(was.shard)} and ${shardText(now.shard)} split the images differently`);
  }
  return out;
}

export function mismatchText(m: readonly IdentityMismatch[]): string {
  return m.map((x) => `${x.field}: ${x.detail}`).join('; ');
}
