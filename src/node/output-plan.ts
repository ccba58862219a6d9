/**
 * Where a command may write: every command that derives file names (explain, predict, eval's
 * relevance maps and gallery, patterns, the demo) lists the files it will write and the files it
 * reads, and this module refuses the plan before any GPU work when
 *
 * - an output is an input of the same run (the same file, however spelled: symlinks and hard
 *   links included, compared by device and inode), which the write would replace;
 * - two outputs are one file (the same canonical path), so that one would overwrite the other;
 * - an output's folder cannot be created because a part of its path is a regular file, or the
 *   output itself is a folder (errors that would otherwise come only after the work, as a bare
 *   EEXIST or EISDIR).
 *
 * File names from ids (image ids, analyzer names, input file names) go through `uniqueStems`:
 * characters other than letters, digits, `.`, `_` and `-` become `_`, and where that makes two
 * different ids one name (`img+1`, `img=1`), or two names differ only in case (one file on a
 * case-insensitive disk), the ids that were changed get a stable suffix, the first 8 hex digits of
 * their SHA-256 (`img_1-3f0c9a12`); an id that needed no change keeps its name. The suffix depends
 * only on the id and the set of ids, so a resumed or sharded run over the same listing names every
 * file the same way. Ids longer than 120 characters are cut and always get the suffix.
 *
 * Left open by the issue and decided here: writing over an existing file that is not an input is
 * allowed (a rerun replaces its own heatmaps); a folder holding inputs may receive outputs as
 * long as no output replaces one of them.
 */
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** A file a command will write; `what` names the option or product, `of` what it was derived from. */
export interface PlannedOutput {
  readonly path: string;
  readonly what: string;
  readonly of?: string;
}

/** A file the command reads; `what` names the option (`--input`, `--model`, ...). */
export interface PlanInput {
  readonly path: string;
  readonly what: string;
}

/**
 * The files every model-loading command reads, which no output may replace: `--input` files, the
 * model, the preprocessing spec beside it (`MODEL.onnx.json`, read when no `--preprocess` is
 * given), `--preprocess` and `--labels`.
 */
export function modelRunInputs(o: {
  readonly model: string; readonly input?: string | readonly string[]; readonly preprocess?: string; readonly labels?: string;
}): PlanInput[] {
  const inputs = o.input === undefined ? [] : typeof o.input === 'string' ? [o.input] : o.input;
  return [
    ...inputs.map((path) => ({ path, what: '--input' })),
    { path: o.model, what: '--model' },
    { path: `${o.model}.json`, what: 'the preprocessing beside the model' },
    ...(o.preprocess ? [{ path: o.preprocess, what: '--preprocess' }] : []),
    ...(o.labels ? [{ path: o.labels, what: '--labels' }] : []),
  ];
}

const UNSAFE = /[^\w.-]+/g;
const MAX_STEM = 120;

/** The id with every run of characters other than letters, digits, `.`, `_`, `-` replaced by `_`. */
export function sanitize(id: string): string {
  return id.replace(UNSAFE, '_');
}

function withHash(id: string): string {
  return `${sanitize(id).slice(0, MAX_STEM)}-${createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 8)}`;
}

/**
 * One file-name stem per id (same order): the sanitised id, or with a hash suffix where the
 * sanitised ids of different ids would be one file name (see the header). The same id given twice
 * gets the same stem. Throws if suffixes still leave two ids one name (only ids built to match
 * another's suffix can), naming both.
 */
export function uniqueStems(ids: readonly string[]): string[] {
  const distinct = [...new Set(ids)];
  const plainName = (id: string) => {
    const s = sanitize(id);
    return s.length <= MAX_STEM && s !== '.' && s !== '..' ? s : null;
  };
  const groups = new Map<string, string[]>();
  for (const id of distinct) {
    const key = (plainName(id) ?? withHash(id)).toLowerCase();
    groups.set(key, [...(groups.get(key) ?? []), id]);
  }
  const stem = new Map<string, string>();
  for (const members of groups.values()) {
    // The one member that needed no change keeps its name; every other member of a clash is hashed.
    const unchanged = members.filter((id) => plainName(id) === id);
    for (const id of members) {
      const plain = plainName(id);
      stem.set(id, plain !== null && (members.length === 1 || (unchanged.length === 1 && unchanged[0] === id)) ? plain : withHash(id));
    }
  }
  const owner = new Map<string, string>();
  for (const id of distinct) {
    const key = stem.get(id)!.toLowerCase();
    const other = owner.get(key);
    if (other !== undefined) throw new Error(`the ids ${JSON.stringify(other)} and ${JSON.stringify(id)} give one file name, ${stem.get(id)}: rename one of them`);
    owner.set(key, id);
  }
  return ids.map((id) => stem.get(id)!);
}

/** `path` with its existing part resolved through symlinks: how two spellings of one file compare. */
function canonical(path: string): string {
  let head = resolve(path);
  const tail: string[] = [];
  for (;;) {
    if (existsSync(head)) return join(realpathSync(head), ...tail);
    const up = dirname(head);
    if (up === head) return join(head, ...tail);
    tail.unshift(basename(head));
    head = up;
  }
}

function fileId(path: string): string | null {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
  }
}

/**
 * Throws unless `folder` exists as a folder or can be created: no part of its path is a file.
 * `what` names the option for the message.
 */
export function checkFolderWritable(folder: string, what: string): void {
  let p = resolve(folder);
  for (;;) {
    if (existsSync(p)) {
      if (!statSync(p).isDirectory()) {
        throw new Error(p === resolve(folder)
          ? `${what}: ${folder} is a file, not a folder`
          : `${what}: cannot create the folder ${folder}: ${p} is a file`);
      }
      return;
    }
    const up = dirname(p);
    if (up === p) return;
    p = up;
  }
}

/**
 * Refuses the plan (see the header) with an error naming the option, the file and what it would
 * replace; returns nothing when every output may be written. Call it before any GPU work.
 */
export function checkOutputPlan(outputs: readonly PlannedOutput[], inputs: readonly PlanInput[]): void {
  const inputIds = new Map<string, PlanInput>();
  for (const i of inputs) {
    const id = fileId(i.path);
    if (id !== null && !inputIds.has(id)) inputIds.set(id, i);
  }
  const seen = new Map<string, PlannedOutput>();
  const folders = new Set<string>();
  for (const o of outputs) {
    const dir = dirname(resolve(o.path));
    if (!folders.has(dir)) {
      checkFolderWritable(dir, o.what);
      folders.add(dir);
    }
    if (existsSync(o.path)) {
      if (statSync(o.path).isDirectory()) throw new Error(`${o.what}: ${o.path} is a folder; it cannot be written as a file`);
      const input = inputIds.get(fileId(o.path) ?? '');
      if (input) {
        throw new Error(`${o.what}: writing ${o.path}${o.of ? ` (for ${o.of})` : ''} would replace the input ${input.path} (${input.what}), the same file: `
          + `give ${o.what.startsWith('--') ? o.what : 'the output'} another name or folder`);
      }
    }
    const key = canonical(o.path);
    const first = seen.get(key);
    if (first) {
      throw new Error(`${o.what}: ${o.path} would be written twice${first.of && o.of ? `, for ${first.of} and for ${o.of}` : ''}`
        + `${first.what !== o.what ? ` (also by ${first.what})` : ''}: one would overwrite the other`);
    }
    seen.set(key, o);
  }
}
