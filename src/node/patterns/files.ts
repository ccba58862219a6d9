/**
 * The files of a patterns folder (`lrp patterns --out DIR`, `--patterns DIR`):
 *
 * - `NODE.npy` per Conv, Gemm and MatMul node: its pattern, float32, in the shape of the node's
 *   weight as the ONNX file stores it (src/patterns/pattern-set.ts). Characters of a node name
 *   other than letters, digits, `.`, `_` and `-` become `_` in the file name (PyTorch names nodes
 *   `/features/features.0/Conv`); patterns.json maps every node to its file.
 * - `patterns.json`, written last: the model file's name and its weights digest, the pattern type,
 *   the statistics set, the samples and the rows per layer, the preprocessing. A folder without it
 *   (patterns from elsewhere, e.g. the shared reference) is read by node names, with a note that
 *   the digest could not be checked.
 * - `patterns.checkpoint` while a run is unfinished: the GPU's running sums, exactly, where in the
 *   statistics set they stand and which set it is (identity.ts), with a SHA-256 checksum that is
 *   verified before a resume believes any of it; replaced atomically (see writeCheckpoint);
 *   deleted at the end.
 *
 * Every file is written through a temporary file and a rename, so each is either whole or absent.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Graph, LinearLayer } from '../../graph/ir.ts';
import { isLinear } from '../../graph/ir.ts';
import { encodeNpy, npyToFloat32, parseNpy } from '../../io/npy.ts';
import { bindPatterns, toSourceLayout, sourceWeightShape, type PatternEntry, type PatternSet } from '../../patterns/pattern-set.ts';
import type { StatsSnapshot } from '../../patterns/statistics.ts';
import type { PreprocessSpec } from '../../preprocess/spec.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import { openRegularFile, readRegularFile, resolveInside } from '../contained-path.ts';
import { fileError } from '../file-errors.ts';
import type { StatisticsIdentity } from './identity.ts';

export const PATTERNS_JSON = 'patterns.json';
export const CHECKPOINT_FILE = 'patterns.checkpoint';
export const PATTERNS_FORMAT = 'webgpu-lrp/patterns@1';

/** Where the statistics came from: an .npy, a dataset, or the library (`model.learnPatterns()`). */
export type StatisticsSource =
  | { readonly input: string }
  | { readonly dataset: string; readonly split: string | null; readonly labels: string | null }
  | { readonly library: string };

export interface PatternsFile {
  readonly format: string;
  /** The model file's name (or the built-in's spec). */
  readonly model: string;
  /** weightsDigest of the model as it runs. */
  readonly weights: string;
  /** iNNvestigate's pattern type; the only one this tool learns. */
  readonly pattern_type: 'relu';
  readonly statistics: StatisticsSource & { readonly limit: number | null };
  /** Samples the statistics cover (null: not known, for patterns saved from tensors or read back), and samples of the set that could not be read. */
  readonly samples: number | null;
  readonly skipped: number;
  readonly batch: number;
  readonly preprocess: PreprocessSpec | null;
  readonly layers: readonly { readonly node: string; readonly file: string; readonly shape: readonly number[]; readonly rows: number }[];
  readonly finished: string;
}

/** A file name for a node's pattern, unique within the model. */
export function patternFileNames(graph: Graph): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const l of graph.layers.filter(isLinear)) {
    const base = l.name.replace(/[^\w.-]+/g, '_') || 'node';
    let name = `${base}.npy`;
    for (let k = 2; used.has(name); k++) name = `${base}_${k}.npy`;
    used.add(name);
    out.set(l.name, name);
  }
  return out;
}

/** Writes every pattern (IR layout in, the ONNX weight's layout out), then patterns.json. */
export function writePatterns(
  dir: string, graph: Graph, patterns: ReadonlyMap<string, Float32Array>, meta: Omit<PatternsFile, 'format' | 'pattern_type' | 'layers' | 'finished'> & { rows: ReadonlyMap<string, number> },
): PatternsFile {
  const files = patternFileNames(graph);
  const layers: PatternsFile['layers'][number][] = [];
  for (const l of graph.layers.filter(isLinear) as LinearLayer[]) {
    const a = patterns.get(l.name);
    if (!a) throw new Error(`internal: no pattern computed for node '${l.name}'`);
    const shape = sourceWeightShape(l);
    writeFileAtomic(join(dir, files.get(l.name)!), encodeNpy(shape, toSourceLayout(l, a)));
    layers.push({ node: l.name, file: files.get(l.name)!, shape, rows: meta.rows.get(l.name) ?? 0 });
  }
  const { rows: _rows, ...rest } = meta;
  const file: PatternsFile = { format: PATTERNS_FORMAT, ...rest, pattern_type: 'relu', layers, finished: new Date().toISOString() };
  writeFileAtomic(join(dir, PATTERNS_JSON), `${JSON.stringify(file, null, 1)}\n`);
  return file;
}

function readPatternsFile(dir: string): PatternsFile | null {
  const path = join(dir, PATTERNS_JSON);
  if (!existsSync(path)) return null;
  const text = Buffer.from(readRegularFile(path, PATTERNS_JSON, 64 << 20)).toString('utf8');
  let f: PatternsFile;
  try {
    f = JSON.parse(text) as PatternsFile;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (f?.format !== PATTERNS_FORMAT) throw new Error(`${path}: not a patterns file (format ${JSON.stringify(f?.format)}, expected ${PATTERNS_FORMAT})`);
  if (!Array.isArray(f.layers) || typeof f.weights !== 'string') throw new Error(`${path}: no "layers" list or "weights" digest`);
  // Patterns of another estimator, or learned from nothing, would explain without meaning anything.
  // A hand-made file may leave both fields out (only "relu" exists here; samples not known).
  if (f.pattern_type !== undefined && f.pattern_type !== 'relu') throw new Error(`${path}: pattern_type ${JSON.stringify(f.pattern_type)} is not one this tool applies (only "relu", what lrp patterns learns)`);
  if (f.samples !== undefined && f.samples !== null && !(Number.isSafeInteger(f.samples) && f.samples >= 1)) {
    throw new Error(`${path}: "samples" is ${JSON.stringify(f.samples)}: patterns are learned from at least one sample (null when not known)`);
  }
  return f;
}

/** The most bytes a pattern file may have: its node's weight in float64, and a generous .npy header. */
function patternBytes(graph: Graph, node: string): number {
  const linear = graph.layers.filter(isLinear) as LinearLayer[];
  const sizes = (linear.some((l) => l.name === node) ? linear.filter((l) => l.name === node) : linear).map((l) => sourceWeightShape(l).reduce((a, b) => a * b, 1));
  return 8 * Math.max(0, ...sizes) + (1 << 20);
}

/** A pattern file named in `named.file`, resolved inside `dir` (contained-path.ts) and read within its size. */
function readEntry(dir: string, node: string, file: string, graph: Graph, named: string): PatternEntry {
  const path = resolveInside(dir, file, { file: named, what: `the pattern file of node '${node}'` });
  if (!existsSync(path)) throw new Error(`${path}: the pattern file of node '${node}' is missing`);
  const a = parseNpy(readRegularFile(path, `pattern file of node '${node}'`, patternBytes(graph, node)), path);
  if (a.dtype !== '<f4' && a.dtype !== '<f8') throw new Error(`${path}: a pattern must be float32 or float64, not ${a.dtype}`);
  return { node, shape: a.shape, data: npyToFloat32(a), file: path };
}

/**
 * The patterns in `dir`, checked against `graph` (digest, a pattern for every linear node, shapes)
 * before anything runs; `notes` says what could not be checked.
 */
export function readPatterns(dir: string, graph: Graph): { set: PatternSet; file: PatternsFile | null; notes: string[] } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: no such patterns folder (learn one with lrp patterns --out ${dir})`);
  const file = readPatternsFile(dir);
  const notes: string[] = [];
  let entries: PatternEntry[];
  if (file) {
    entries = file.layers.map((l) => readEntry(dir, l.node, l.file, graph, join(dir, PATTERNS_JSON)));
  } else {
    // By node names: every .npy of the folder is a pattern; a node without one is caught by bindPatterns.
    const byFile = new Map([...patternFileNames(graph)].map(([node, f]) => [f, node]));
    entries = readdirSync(dir).filter((f) => f.endsWith('.npy')).sort().map((f) => {
      const node = byFile.get(f);
      if (!node) throw new Error(`${join(dir, f)}: a pattern for no Conv, Gemm or MatMul node of ${graph.name} (its nodes' files: ${[...byFile.keys()].slice(0, 8).join(', ')})`);
      return readEntry(dir, node, f, graph, dir);
    });
    notes.push(`${dir} has no ${PATTERNS_JSON}: the patterns are matched to nodes by file name, and which model they were learned for cannot be checked`);
  }
  const set = bindPatterns(graph, entries, { source: dir, digest: file ? file.weights : null });
  return { set, file, notes };
}

// ---------------------------------------------------------------------------------------------
// Checkpoints
// ---------------------------------------------------------------------------------------------

/**
 * Format 2: the magic, then as format 1 (the header's length and the header, padded to 8 bytes, the
 * arrays' float32 bytes), then the SHA-256 of everything before it. Format 1 had no checksum: a
 * flipped byte resumed silently into other patterns, so it is refused rather than read.
 */
const MAGIC = 'LRPPATT2';
const MAGIC_V1 = 'LRPPATT1';
const CHECKSUM_BYTES = 32;

/** What a checkpoint says besides the sums. */
export interface CheckpointHeader {
  readonly format: string;
  /** The run's settings: a resume must give the same. */
  readonly settings: Record<string, unknown>;
  /** The statistics set by content (identity.ts): a resume must read the same. */
  readonly identity: StatisticsIdentity;
  /** Items of the statistics set consumed (samples of an .npy; images of a dataset, skipped ones included). */
  readonly position: number;
  readonly samples: number;
  readonly batches: number;
  readonly skipped: readonly { readonly id: string; readonly reason: string }[];
  /** Floats per array, in order. */
  readonly arrays: readonly number[];
}

/**
 * Writes the checkpoint (see MAGIC for the layout) through a temporary file, fsync and rename, so
 * a kill at any moment leaves the previous checkpoint or this one. Streamed array by array (and
 * hashed as it goes): VGG-16's sums are 2.2 GB, more than one Buffer should hold.
 */
export function writeCheckpoint(dir: string, header: Omit<CheckpointHeader, 'arrays' | 'samples' | 'batches'>, snap: StatsSnapshot): void {
  const full: CheckpointHeader = { ...header, samples: snap.samples, batches: snap.batches, arrays: snap.arrays.map((a) => a.length) };
  let json = Buffer.from(JSON.stringify(full), 'utf8');
  const pad = (8 - ((MAGIC.length + 4 + json.length) % 8)) % 8;
  json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const path = join(dir, CHECKPOINT_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      const hash = createHash('sha256');
      const put = (b: Uint8Array, hashed = true) => {
        if (hashed) hash.update(b);
        let off = 0;
        while (off < b.length) off += writeSync(fd, b, off, b.length - off);
      };
      const len = Buffer.alloc(4);
      len.writeUInt32LE(json.length);
      put(Buffer.from(MAGIC, 'latin1'));
      put(len);
      put(json);
      for (const a of snap.arrays) put(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      put(hash.digest(), false);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fileError(path, 'write the checkpoint', e);
  }
}

/**
 * The checkpoint in `dir`, or null when there is none. Its checksum is verified before anything
 * in it is believed: a damaged, truncated or old-format checkpoint is an error naming the file
 * and what to do (resuming from it would mix wrong sums into the patterns).
 */
export function readCheckpoint(dir: string): { header: CheckpointHeader; snapshot: StatsSnapshot } | null {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) return null;
  // A folder opens for reading on Linux and fails only at the first read, with a bare EISDIR.
  if (statSync(path).isDirectory()) throw new Error(`${path}: a folder, not a patterns checkpoint (remove it, or use another --out)`);
  const startOver = `delete ${path} to learn the patterns from the start (lrp patterns without --resume), or choose another --out`;
  let fd: number;
  try {
    fd = openRegularFile(path, 'patterns checkpoint');
  } catch (e) {
    throw fileError(path, 'read the checkpoint', e);
  }
  try {
    const size = fstatSync(fd).size;
    const read = (n: number, at: number): Buffer => {
      const b = Buffer.alloc(n);
      let done = 0;
      while (done < n) {
        const got = readSync(fd, b, done, n - done, at + done);
        if (got === 0) throw new Error(`${path}: truncated checkpoint; ${startOver}`);
        done += got;
      }
      return b;
    };
    if (size < MAGIC.length + 4 + CHECKSUM_BYTES) throw new Error(`${path}: truncated checkpoint (${size} bytes); ${startOver}`);
    const head = read(MAGIC.length + 4, 0);
    const magic = head.subarray(0, MAGIC.length).toString('latin1');
    if (magic === MAGIC_V1) {
      throw new Error(`${path}: a checkpoint of an older version of lrp patterns, without a checksum, so it cannot be verified; `
        + `finish the run with the version that wrote it, or ${startOver}`);
    }
    if (magic !== MAGIC) throw new Error(`${path}: not a patterns checkpoint; ${startOver}`);
    // The checksum first, in 1 MiB pieces: nothing of a damaged file is parsed.
    const payload = size - CHECKSUM_BYTES;
    const hash = createHash('sha256');
    for (let at = 0; at < payload; at += 1 << 20) hash.update(read(Math.min(1 << 20, payload - at), at));
    if (!hash.digest().equals(read(CHECKSUM_BYTES, payload))) {
      throw new Error(`${path}: the checkpoint is damaged (its SHA-256 checksum does not match its contents); resuming would mix wrong sums into the patterns: ${startOver}`);
    }
    const len = head.readUInt32LE(MAGIC.length);
    let header: CheckpointHeader;
    try {
      header = JSON.parse(read(len, MAGIC.length + 4).toString('utf8')) as CheckpointHeader;
    } catch (e) {
      throw new Error(`${path}: damaged checkpoint header (${(e as Error).message}); ${startOver}`);
    }
    let at = MAGIC.length + 4 + len;
    const arrays = header.arrays.map((n) => {
      const b = read(4 * n, at);
      at += 4 * n;
      return new Float32Array(b.buffer, b.byteOffset, n);
    });
    if (at !== payload) throw new Error(`${path}: ${payload - at} bytes past the checkpoint's arrays; ${startOver}`);
    return { header, snapshot: { samples: header.samples, batches: header.batches, arrays } };
  } finally {
    closeSync(fd);
  }
}
