/**
 * One vocabulary for every command: the shared options (model, composites, rendering, runs), their
 * validation, strict parsing that names unknown options with a "did you mean", and two examples
 * per command. A command is declared with `defineCommand` from these specs, so an option means
 * the same thing, is checked the same way and is described the same way wherever it appears.
 *
 * Validation happens before any work: a bad value exits with status 2 and one line naming the
 * option and what it takes (`--batch must be a whole number >= 1, got 1.5`). Only options declared
 * lists (`array: true`) may be given more than once (rejectRepeatedOptions); a string option given
 * '' is refused rather than read as "not given".
 */
import type { Argv, CommandModule, Options, PositionalOptions } from 'yargs';
import { COLORMAP_NAMES, colormap, HEATMAP_DEFAULTS, HEATMAP_MODES, type HeatmapMode } from '../src/heatmap/index.ts';
import type { Target } from '../src/lrp/explainer.ts';
import { checkBound } from './option-bounds.ts';
import { CONV_MODES, type ConvMode } from '../src/forward/winograd.ts';
import { parseBaseline } from '../src/eval/region-perturbation.ts';

/** A usage error: printed as one line with a pointer to --help, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptionSpec {
  readonly name: string;
  readonly opt: Options;
  /** An error message for a bad value, or null. Runs only on values given (or defaulted). */
  readonly check?: (value: never) => string | null;
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : String(v));

export function wholeAtLeast(min: number) {
  return (name: string) => (v: number): string | null =>
    (Number.isSafeInteger(v) && v >= min ? null : `--${name} must be a whole number >= ${min}, got ${show(v)}`);
}

function spec(name: string, opt: Options, check?: (name: string) => (v: never) => string | null): OptionSpec {
  return { name, opt, check: check?.(name) };
}

// ---------------------------------------------------------------------------------------------
// Shared options
// ---------------------------------------------------------------------------------------------

/** Every command that loads a model. */
export const MODEL_OPTIONS: readonly OptionSpec[] = [
  spec('model', { type: 'string', demandOption: true, describe: 'an .onnx file (preprocessing in MODEL.onnx.json or --preprocess) or a built-in: vgg16:random, vgg11:random, alexnet:random, caffenet:random' }),
  spec('output', { type: 'string', describe: 'the graph output to use, for models with several (default: the first)' }),
  spec('preprocess', { type: 'string', describe: 'preprocessing spec JSON (default: MODEL.onnx.json beside the model)' }),
  spec('labels', { type: 'string', describe: 'class names: synset_words.txt, imagenet_class_index.json or one per line (for a dataset: its class list)' }),
];

/** Every command that takes composites. */
export const COMPOSITE_OPTIONS: readonly OptionSpec[] = [
  spec('composite', {
    type: 'string', array: true, default: ['cmp-alpha2-flat'],
    describe: 'composites: comma-separated preset names or composite .json files, or inline JSON; repeatable',
  }),
  spec('epsilon', { type: 'number', describe: 'epsilon of the presets that take one (default: 0.1; 1e-6 for zennit\'s composites)' },
    (name) => (v: number) => (Number.isFinite(v) && v >= 0 ? null : `--${name} must be a number >= 0, got ${show(v)}`)),
  spec('flat-layers', { type: 'number', describe: 'the first N linear layers take the flat rule' }, wholeAtLeast(0)),
  spec('patterns', { type: 'string', describe: 'learned patterns for the pattern-attribution composite: a folder lrp patterns wrote' }),
  spec('classifier-layers', {
    type: 'number',
    describe: 'the last K linear layers take the rule of "dense" entries, convolutions included (K=1 puts epsilon on an all-convolutional model\'s classifier, e.g. SqueezeNet\'s conv10)',
  }, wholeAtLeast(0)),
];

export function batchOption(describe: string, fallback?: number): OptionSpec {
  return spec('batch', { type: 'number', describe, ...(fallback !== undefined ? { default: fallback } : {}) }, wholeAtLeast(1));
}

export const RENDER_OPTIONS: readonly OptionSpec[] = [
  spec('cmap', { type: 'string', default: HEATMAP_DEFAULTS.cmap, describe: `colour map: ${COLORMAP_NAMES.join(', ')} (zennit's), or cmsl source like '00f,80:fff,f00'` },
    (name) => (v: string) => {
      try {
        colormap(v);
        return null;
      } catch (e) {
        return `--${name}: ${(e as Error).message}`;
      }
    }),
  spec('clip', { type: 'number', default: HEATMAP_DEFAULTS.clip, describe: 'the percentile of |relevance| that reaches the ends of the colour map (100: the largest)' },
    (name) => (v: number) => (v > 0 && v <= 100 ? null : `--${name} must be a percentile in (0, 100], got ${show(v)}`)),
  spec('mode', { choices: HEATMAP_MODES, default: HEATMAP_DEFAULTS.mode as HeatmapMode, describe: 'signed: negative and positive about zero; positive: only R > 0; absolute: |R|' }),
  spec('overlay', { type: 'boolean', default: false, describe: 'draw the heat over the image (grey), opaque where relevance is strong' }),
];

/** explain's own: the picture's geometry. */
export const SIZE_OPTION = spec('size', {
  choices: ['input', 'original'] as const, default: 'input',
  describe: 'heatmap geometry: the model\'s input, or the original image (the preprocessing\'s crop and resize undone)',
});

export const VERBOSE_OPTION = spec('verbose', { type: 'boolean', default: false, describe: 'say more: per-layer rules, the GPU driver\'s start-up warnings' });
/** The convolution algorithm of the commands that run a model's forward pass (src/forward/winograd.ts). */
export const CONV_OPTION = spec('conv', {
  choices: CONV_MODES, default: 'auto' as ConvMode,
  describe: 'how 3x3 stride-1 convolutions run: auto (on CPU adapters, layers of 64+ channels: Winograd F(4x4,3x3) on planes of 28x28+, F(2x2,3x3) on 14x14, else direct), direct, or winograd (F(4x4,3x3) wherever it applies; says where it could not); the relevance passes follow it',
});
export const PROFILE_OPTION = spec('profile', { type: 'boolean', default: false, describe: 'print where the time went: load, compile, prepare, forward, relevance, metrics, writing' });

/** Datasets of eval and occlusion. */
export const DATASET_OPTIONS: readonly OptionSpec[] = [
  spec('dataset', { type: 'string', demandOption: true, describe: 'voc:DIR (VOCdevkit/VOC2007) or imagenet:DIR' }),
  spec('split', { type: 'string', describe: 'VOC ImageSets/Main split, e.g. test, trainval, "trainval+test" (default test)' }),
  spec('limit', { type: 'number', describe: 'only the first N images (sorted by id)' }, wholeAtLeast(0)),
  spec('skip-difficult', { type: 'boolean', default: false, describe: 'leave out boxes marked difficult' }),
  spec('workers', { type: 'number', describe: 'decode/preprocess worker threads (default: cores - 1, at most 4; 0: in the main thread)' }, wholeAtLeast(0)),
];

/**
 * Region perturbation (`lrp eval --metrics mu,aopc`, `lrp explain --aopc-out`). No yargs defaults,
 * so that a command can tell a flag given from one left out; the defaults are DEFAULT_AOPC's.
 */
export const AOPC_OPTIONS: readonly OptionSpec[] = [
  spec('steps', { type: 'number', describe: 'region perturbation: L, the patches removed one per step (default 100, at most the patches)' }, wholeAtLeast(1)),
  spec('patch', { type: 'number', describe: 'region perturbation: the side of the square patches in input pixels (default 8)' }, wholeAtLeast(1)),
  spec('baseline', { type: 'string', describe: 'region perturbation: what replaces a patch: zero (the mean pixel; default) or uniform:SEED (uniform in [-1, 1), seeded per image)' },
    (name) => (v: string) => {
      try {
        parseBaseline(v, `--${name}`);
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    }),
];

export const TOP_OPTION = spec('top', { type: 'number', default: 5, describe: 'how many classes to print per sample' }, wholeAtLeast(1));

export const TARGET_OPTION = spec('target', {
  type: 'string', default: 'predicted',
  describe: 'the class to explain: "predicted", an index, a class name (with --labels), or one per sample: 3,17 or tabby,beagle',
}, (name) => (v: string) => (String(v).split(',').every((s) => s.trim() !== '') ? null : `--${name}: '${v}' has an empty class (give an index, a class name or "predicted")`));

// ---------------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------------

/** The names a label answers to: the whole label and each comma-separated synonym, lower case. */
function synonyms(label: string): string[] {
  const all = [label, ...label.split(',')].map((s) => s.trim().toLowerCase()).filter(Boolean);
  return [...new Set(all)];
}

/**
 * `--target`: comma-separated `predicted`, class indices, or class names (case-insensitive, any
 * synonym of a label such as "tabby" in "tabby, tabby cat"). Names need `labels`; a name that
 * matches several classes is an error listing them. Indices are checked against `classes`.
 */
export function parseTargets(text: string, labels: readonly string[] | null, classes?: number): Target[] {
  const items = String(text).split(',').map((s) => s.trim());
  if (items.length === 0 || items.some((s) => s === '')) {
    throw new UsageError(`--target: '${text}' has an empty class (give an index, a class name or "predicted")`);
  }
  return items.map((t) => {
    if (t === 'predicted') return 'predicted';
    if (/^\d+$/.test(t)) {
      const n = Number(t);
      if (classes !== undefined && n >= classes) throw new UsageError(`--target ${t}: the model has classes 0..${classes - 1}`);
      return n;
    }
    if (/^-?[\d.e+-]+$/.test(t)) throw new UsageError(`--target: '${t}' is not a class index (a whole number >= 0), a class name or "predicted"`);
    if (!labels) throw new UsageError(`--target '${t}': class names need --labels FILE (or give the class index)`);
    const want = t.toLowerCase();
    const hits = labels.flatMap((l, i) => (l !== undefined && synonyms(l).includes(want) ? [i] : []));
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) {
      throw new UsageError(`--target '${t}' names ${hits.length} classes: ${hits.slice(0, 8).map((i) => `${i} (${labels[i]})`).join('; ')}; give the index`);
    }
    const near = labels.flatMap((l, i) => (l !== undefined && l.toLowerCase().includes(want) ? [`${i} (${l})`] : [])).slice(0, 6);
    throw new UsageError(`--target '${t}' is no class in the labels${near.length ? `; classes containing it: ${near.join('; ')}` : ''}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Strict parsing with suggestions
// ---------------------------------------------------------------------------------------------

/** Edit distance with adjacent transpositions (optimal string alignment), for suggestions. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest of `known` to `word`, if close enough to be a typo (ties: the nearer length). */
export function suggest(word: string, known: readonly string[]): string | null {
  const w = word.toLowerCase();
  const prefix = known.filter((k) => k.startsWith(w));
  if (prefix.length === 1 && w.length >= 3) return prefix[0];
  const ranked = known
    .map((k) => ({ k, d: editDistance(w, k.toLowerCase()), len: Math.abs(k.length - w.length) }))
    .sort((x, y) => x.d - y.d || x.len - y.len || (x.k < y.k ? -1 : 1));
  const best = ranked[0];
  return best && best.d <= Math.max(1, Math.floor(best.k.length / 3)) ? best.k : null;
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * A yargs middleware (run before validation, so a typo is not reported as a missing option):
 * every option given must be one the command knows; otherwise a UsageError naming it, with the
 * closest known option.
 */
export function rejectUnknownOptions(argv: Record<string, unknown>, y: Argv): void {
  const o = (y as unknown as { getOptions(): unknown }).getOptions() as { key: Record<string, unknown>; alias: Record<string, string[]> };
  const known = new Set<string>(['_', '$0']);
  const names: string[] = [];
  for (const k of Object.keys(o.key)) {
    known.add(k);
    known.add(camel(k));
    names.push(k);
    for (const a of o.alias[k] ?? []) {
      known.add(a);
      known.add(camel(a));
    }
  }
  const cmd = (argv._ as unknown[])[0];
  const help = cmd === undefined ? 'lrp --help' : `lrp ${String(cmd)} --help`;
  // yargs keeps words after `--` under the key '--' and stray words in `_` after the command; no
  // command takes either, and letting them pass would run something other than what was typed.
  const stray = [...(argv._ as unknown[]).slice(1), ...((argv['--'] as unknown[] | undefined) ?? [])].map(String);
  if (stray.length) {
    throw new UsageError(`unexpected argument${stray.length > 1 ? 's' : ''} ${stray.map((w) => `'${w}'`).join(', ')}: `
      + `the command takes no more words than these options; \`${help}\` lists them`);
  }
  for (const key of Object.keys(argv)) {
    if (known.has(key) || key === '--') continue;
    const flag = key.length === 1 ? `-${key}` : `--${key}`;
    const near = suggest(key, names.filter((n) => n.length > 1));
    throw new UsageError(`unknown option ${flag}${near ? ` (did you mean --${near}?)` : ''}; \`${help}\` lists the options`);
  }
}

/**
 * A yargs middleware (before validation), the one rule on repetition: an option may be given more
 * than once only where it is declared a list (`array: true`: --input, --composite); any other
 * given twice (`--out A --out B`, `--overlay --no-overlay`) is a UsageError naming it, before any
 * work. yargs would otherwise hand the command an array where it expects one value (or, for a
 * boolean, silently keep the last). `raw` is the command line, for booleans, which yargs collapses.
 */
export function rejectRepeatedOptions(argv: Record<string, unknown>, y: Argv, raw: readonly string[]): void {
  const o = (y as unknown as { getOptions(): unknown }).getOptions() as {
    key: Record<string, unknown>; alias: Record<string, string[]>; array: string[]; boolean: string[];
  };
  const lists = new Set(o.array);
  const end = raw.indexOf('--');
  const tokens = (end < 0 ? raw : raw.slice(0, end)).filter((t) => t.startsWith('--'));
  for (const key of Object.keys(o.key)) {
    if (lists.has(key) || key === 'help' || key === 'version') continue;
    const names = [key, camel(key), ...(o.alias[key] ?? [])];
    const given = tokens.filter((t) => {
      const name = t.slice(2).split('=')[0];
      return names.includes(name) || (o.boolean.includes(key) && names.some((n) => name === `no-${n}`));
    });
    const value = argv[key];
    const values = Array.isArray(value) ? value.map((v) => (v === false ? `--no-${key}` : `'${String(v)}'`)) : given;
    if (values.length < 2 && given.length < 2) continue;
    throw new UsageError(`--${key} is given ${Math.max(values.length, given.length)} times (${values.join(', ')}) but takes one value: give it once`);
  }
}

/**
 * A positional argument given as an option as well (`lrp inspect a.onnx --path b.onnx`): yargs keeps
 * one of the two without a word, so the run would use a model other than one the user named.
 */
export function rejectPositionalFlags(positionals: readonly string[], raw: readonly string[]): void {
  const end = raw.indexOf('--');
  for (const t of end < 0 ? raw : raw.slice(0, end)) {
    const name = t.startsWith('--') ? t.slice(2).split('=')[0] : null;
    if (name !== null && positionals.includes(name)) {
      throw new UsageError(`--${name} names the command's positional argument: give the ${name} once, without --${name}`);
    }
  }
}

/** A string option given as '' (or blanks) names nothing; refused rather than taken as "not given". */
function emptyValue(s: OptionSpec, value: unknown): string | null {
  if (s.opt.type !== 'string') return null;
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => typeof v === 'string' && v.trim() === '')
    ? `--${s.name} is given an empty value: give ${s.opt.array ? 'values' : 'a value'}, or leave the option out` : null;
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

export interface CommandDef<A> {
  readonly command: string;
  readonly describe: string;
  readonly positionals?: readonly (readonly [string, PositionalOptions])[];
  readonly options: readonly OptionSpec[];
  /** Two examples: the command line (after `lrp`) and what it does. */
  readonly examples: readonly (readonly [string, string])[];
  /** Checks across options, after each option's own. */
  readonly check?: (args: A) => string | null;
  readonly handler: (args: A) => Promise<void> | void;
}

/** What every command definition is, for tests that go over all of them. */
export interface DefinedCommand<A = Record<string, unknown>> extends CommandModule<object, A> {
  readonly def: CommandDef<A>;
}

/** A yargs command from a definition: options, examples and validation from the shared specs. */
export function defineCommand<A>(def: CommandDef<A>): DefinedCommand<A> {
  const names = new Set<string>();
  for (const s of def.options) {
    if (names.has(s.name)) throw new Error(`internal: command ${def.command} declares --${s.name} twice`);
    names.add(s.name);
  }
  return {
    def,
    command: def.command,
    describe: def.describe,
    builder: (y: Argv) => {
      let b = y;
      for (const [name, p] of def.positionals ?? []) b = b.positional(name, p);
      for (const s of def.options) b = b.option(s.name, s.opt);
      for (const [cmd, what] of def.examples) b = b.example(`$0 ${cmd}`, what);
      return b.check((args) => {
        for (const s of def.options) {
          const v = (args as Record<string, unknown>)[s.name];
          if (v === undefined || !s.check) continue;
          const msg = (s.check as (x: unknown) => string | null)(v);
          if (msg) throw new UsageError(msg);
        }
        // Upper bounds of what sizes work or memory (option-bounds.ts), before any work.
        for (const s of def.options) {
          const msg = checkBound(s.name, (args as Record<string, unknown>)[s.name]);
          if (msg) throw new UsageError(msg);
        }
        const msg = def.check?.(args as A);
        if (msg) throw new UsageError(msg);
        for (const s of def.options) {
          const empty = emptyValue(s, (args as Record<string, unknown>)[s.name]);
          if (empty) throw new UsageError(empty);
        }
        return true;
      }) as unknown as Argv<A>;
    },
    handler: (args) => def.handler(args as A),
  } as DefinedCommand<A>;
}
