// The CLI's one vocabulary, parsed in-process (runCli with dryRun: nothing runs, no GPU): every
// command that loads a model takes --output, --preprocess and --labels; every command that takes
// composites takes a list of them with --epsilon, --flat-layers and --classifier-layers; shared
// options are validated the same way everywhere; unknown options are named with a suggestion;
// each command's help has two examples. Plus the pieces: --target parsing with class names, and
// unique output names for inputs that share a file name.
import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../cli/app.ts';
import { BASE_LINES, parseCli } from './helpers/cli.ts';
import { editDistance, parseTargets, suggest, UsageError } from '../cli/options.ts';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInputs, uniqueNames } from '../src/node/inputs.ts';
import { loadModel } from '../src/node/model-file.ts';

const parse = parseCli;

afterEach(() => {
  process.exitCode = undefined;
});

const BASE: Record<string, readonly string[]> = BASE_LINES;
const MODEL_COMMANDS = ['inspect', 'predict', 'explain', 'eval', 'occlusion', 'patterns', 'sanity'];
const COMPOSITE_COMMANDS = ['explain', 'eval', 'sanity'];
const BATCH_COMMANDS = ['predict', 'explain', 'eval', 'occlusion', 'patterns', 'demo', 'sanity'];
const GPU_COMMANDS = ['inspect', 'predict', 'explain', 'eval', 'occlusion', 'patterns', 'demo', 'web', 'sanity'];

describe('every command', () => {
  const names = COMMANDS.map((c) => c.def.command.split(' ')[0]);

  it('is in the table, with two examples', () => {
    expect(names.sort()).toEqual(Object.keys(BASE).sort());
    for (const c of COMMANDS) expect(c.def.examples, c.def.command).toHaveLength(2);
  });

  for (const cmd of Object.keys(BASE)) {
    it(`${cmd}: parses its minimal line`, async () => {
      const r = await parse(BASE[cmd]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.command).toBe(cmd);
    });
  }

  for (const cmd of MODEL_COMMANDS) {
    it(`${cmd}: takes --output, --preprocess and --labels`, async () => {
      const r = await parse([...BASE[cmd], '--output', 'logits', '--preprocess', 'p.json', '--labels', 'l.txt']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.args).toMatchObject({ output: 'logits', preprocess: 'p.json', labels: 'l.txt' });
    });
  }

  for (const cmd of COMPOSITE_COMMANDS) {
    it(`${cmd}: takes a list of composites, --epsilon, --flat-layers, --classifier-layers`, async () => {
      const r = await parse([...BASE[cmd], '--composite', 'cmp-alpha2-flat,lrp-z', '--composite', 'guided-backprop',
        '--epsilon', '0.25', '--flat-layers', '1', '--classifier-layers', '1']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.args).toMatchObject({ composite: ['cmp-alpha2-flat,lrp-z', 'guided-backprop'], epsilon: 0.25, 'flat-layers': 1, 'classifier-layers': 1 });
      for (const [flag, value, msg] of [
        ['--epsilon', '-1', /--epsilon must be a number >= 0, got -1/],
        ['--flat-layers', '1.5', /--flat-layers must be a whole number >= 0, got 1.5/],
        ['--classifier-layers', '-2', /--classifier-layers must be a whole number >= 0, got -2/],
      ] as const) {
        const bad = await parse([...BASE[cmd], flag, value]);
        expect(bad.code, `${flag} ${value}`).toBe(2);
        expect(bad.stderr).toMatch(msg);
      }
    });
  }

  it('patterns: the statistics set is an .npy or a dataset, exactly one; --patterns on explain and eval', async () => {
    const both = await parse(['patterns', '--model', 'm.onnx', '--input', 's.npy', '--dataset', 'voc:d', '--out', 'p']);
    const neither = await parse(['patterns', '--model', 'm.onnx', '--out', 'p']);
    for (const r of [both, neither]) {
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/give the statistics set as either --input STATS\.npy or --dataset voc:DIR\|imagenet:DIR/);
    }
    const ds = await parse(['patterns', '--model', 'm.onnx', '--dataset', 'voc:d', '--split', 'trainval', '--limit', '50', '--out', 'p', '--resume', '--checkpoint-seconds', '0']);
    expect(ds.code, ds.stderr).toBe(0);
    expect(ds.args).toMatchObject({ dataset: 'voc:d', split: 'trainval', limit: 50, resume: true, 'checkpoint-seconds': 0 });
    expect((await parse([...BASE.patterns, '--checkpoint-seconds', '-1'])).stderr).toMatch(/--checkpoint-seconds must be a whole number >= 0/);
    for (const cmd of COMPOSITE_COMMANDS) {
      const r = await parse([...BASE[cmd], '--composite', 'pattern-attribution', '--patterns', 'dir']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.args).toMatchObject({ patterns: 'dir' });
    }
  });

  for (const cmd of BATCH_COMMANDS) {
    it(`${cmd}: --batch is a positive whole number`, async () => {
      expect((await parse([...BASE[cmd], '--batch', '4'])).code).toBe(0);
      for (const v of ['0', '-3', '1.5', 'many']) {
        const r = await parse([...BASE[cmd], '--batch', v]);
        expect(r.code, `--batch ${v}`).toBe(2);
        expect(r.stderr).toMatch(/--batch must be a whole number >= 1, got /);
      }
    });
  }

  for (const cmd of GPU_COMMANDS) {
    it(`${cmd}: takes --verbose`, async () => {
      expect((await parse([...BASE[cmd], '--verbose'])).code).toBe(0);
    });
  }

  it('explain, eval and demo take the rendering options, checked', async () => {
    for (const cmd of ['explain', 'eval', 'demo']) {
      const r = await parse([...BASE[cmd], '--cmap', 'seismic', '--clip', '99', '--mode', 'positive', '--overlay']);
      expect(r.code, `${cmd}: ${r.stderr}`).toBe(0);
      expect(r.args).toMatchObject({ cmap: 'seismic', clip: 99, mode: 'positive', overlay: true });
      expect((await parse([...BASE[cmd], '--cmap', 'viridis'])).stderr).toMatch(/--cmap: unknown colour map 'viridis'/);
      expect((await parse([...BASE[cmd], '--clip', '0'])).stderr).toMatch(/--clip must be a percentile in \(0, 100\], got 0/);
    }
    const r = await parse([...BASE.explain, '--size', 'original', '--no-heatmap']);
    expect(r.args).toMatchObject({ size: 'original', heatmap: false });
    expect((await parse([...BASE.explain])).args).toMatchObject({ size: 'input', heatmap: 'heatmaps', cmap: 'bwr', clip: 99.5, mode: 'signed' });
  });

  it('explain and eval take --profile; inspect takes --model or a path', async () => {
    expect((await parse([...BASE.explain, '--profile'])).code).toBe(0);
    expect((await parse([...BASE.eval, '--profile', '--gallery', '12', '--seed', '3'])).args).toMatchObject({ profile: true, gallery: 12, seed: 3 });
    expect((await parse(['inspect', 'm.onnx'])).args).toMatchObject({ path: 'm.onnx' });
    const none = await parse(['inspect']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/name the model/);
  });
});

describe('--conv', () => {
  for (const cmd of ['predict', 'explain', 'eval', 'occlusion', 'patterns']) {
    it(`${cmd}: auto by default, direct or winograd on request, anything else refused`, async () => {
      expect((await parse(BASE[cmd])).args).toMatchObject({ conv: 'auto' });
      expect((await parse([...BASE[cmd], '--conv', 'winograd'])).args).toMatchObject({ conv: 'winograd' });
      expect((await parse([...BASE[cmd], '--conv', 'direct'])).args).toMatchObject({ conv: 'direct' });
      const bad = await parse([...BASE[cmd], '--conv', 'fft']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/conv/);
    });
  }
});

describe('strict parsing', () => {
  it('names an unknown option and the nearest known one, before any missing-option complaint', async () => {
    const r = await parse(['explain', '--modle', 'm.onnx', '--input', 'a.jpg']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('lrp: unknown option --modle (did you mean --model?); `lrp explain --help` lists the options');
    expect((await parse([...BASE.eval, '--flat-layer', '1'])).stderr).toMatch(/unknown option --flat-layer \(did you mean --flat-layers\?\)/);
    expect((await parse([...BASE.predict, '--xyzzy', '1'])).stderr).toMatch(/unknown option --xyzzy;/);
  });

  it('refuses stray words, after the command or after --, naming them', async () => {
    for (const cmd of Object.keys(BASE)) {
      const r = await parse([...BASE[cmd], '--', 'x.png']);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr, cmd).toMatch(/unexpected argument 'x\.png'/);
    }
    const r = await parse(['inspect', 'a.onnx', 'b.onnx']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unexpected argument 'b\.onnx'/);
  });

  it('refuses a positional argument given as an option as well, rather than keep one of the two', async () => {
    for (const line of [['inspect', 'a.onnx', '--path', 'b.onnx'], ['inspect', '--path=b.onnx']]) {
      const r = await parse(line);
      expect(r.code, line.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/--path names the command's positional argument/);
    }
    expect((await parse(['inspect', 'a.onnx'])).args).toMatchObject({ path: 'a.onnx' });
  });

  it('suggests commands too', async () => {
    const r = await parse(['expalin', '--model', 'm']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'expalin' \(did you mean explain\?\)/);
  });

  it('--top is at least 1; --target must parse', async () => {
    for (const v of ['0', '-1']) expect((await parse([...BASE.predict, '--top', v])).stderr).toMatch(/--top must be a whole number >= 1/);
    for (const v of ['', 'a,,b', ' ']) {
      const r = await parse([...BASE.explain, '--target', v]);
      expect(r.code, `--target '${v}'`).toBe(2);
      expect(r.stderr).toMatch(/--target: .* has an empty class/);
    }
  });

  it('edit distances count a transposition as one', () => {
    expect(editDistance('modle', 'model')).toBe(1);
    expect(suggest('modle', ['mode', 'model', 'output'])).toBe('model');
    expect(suggest('zzz', ['model'])).toBeNull();
  });
});

describe('--target', () => {
  const labels = ['tench, Tinca tinca', 'goldfish, Carassius auratus', 'tabby, tabby cat', 'tiger cat', 'dung beetle', 'leaf beetle, chrysomelid'];

  it('takes indices, predicted, and class names or any of their synonyms', () => {
    expect(parseTargets('predicted', null)).toEqual(['predicted']);
    expect(parseTargets('3,0', null, 6)).toEqual([3, 0]);
    expect(parseTargets('tabby', labels)).toEqual([2]);
    expect(parseTargets('Tabby Cat, goldfish', labels)).toEqual([2, 1]);
    expect(parseTargets('dung beetle', labels)).toEqual([4]);
  });

  it('refuses what does not parse, naming it', () => {
    const err = (t: string, l: string[] | null = labels, c?: number) => {
      try {
        parseTargets(t, l, c);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err('')).toMatch(/empty class/);
    expect(err('-1')).toMatch(/'-1' is not a class index/);
    expect(err('1.5')).toMatch(/'1.5' is not a class index/);
    expect(err('9', labels, 6)).toMatch(/--target 9: the model has classes 0..5/);
    expect(err('tabby', null)).toMatch(/class names need --labels FILE/);
    expect(err('beetle')).toMatch(/no class in the labels; classes containing it: 4 \(dung beetle\); 5 \(leaf beetle, chrysomelid\)/);
    expect(err('cat', ['cat', 'cat, house cat'])).toMatch(/names 2 classes: 0 \(cat\); 1 \(cat, house cat\)/);
  });
});

describe('output names', () => {
  it('two inputs with one file name get their folders in the name; repeats get a number', () => {
    expect(uniqueNames(['/d/a/img.jpg', '/d/b/img.jpg', '/d/c/other.png'])).toEqual(['a_img', 'b_img', 'other']);
    expect(uniqueNames(['/x/a/k/img.jpg', '/x/b/k/img.jpg'])).toEqual(['a_k_img', 'b_k_img']);
    expect(uniqueNames(['/d/img.jpg', '/d/img.jpg'])).toEqual(['img', 'img-2']);
    expect(uniqueNames(['/d/my photo (1).jpg'])).toEqual(['my_photo_1_']);
  });
});

describe('inputs', () => {
  it('a bad image among several is reported and left out; the rest load, in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lrp-inputs-'));
    try {
      const model = loadModel(fileURLToPath(new URL('../models/demo/demo.onnx', import.meta.url)));
      const demo = fileURLToPath(new URL('../models/demo/demo.png', import.meta.url));
      for (const d of ['a', 'b']) {
        mkdirSync(join(dir, d));
        copyFileSync(demo, join(dir, d, 'x.png'));
      }
      writeFileSync(join(dir, 'broken.png'), 'not a PNG');
      const paths = [join(dir, 'a', 'x.png'), join(dir, 'broken.png'), join(dir, 'missing.png'), join(dir, 'b', 'x.png')];
      const r = await loadInputs(paths, model.graph, model.preprocess, 'hint');
      expect(r.count).toBe(2);
      expect(r.paths).toEqual([paths[0], paths[3]]);
      expect(r.stems).toEqual(['a_x', 'b_x']);
      expect(r.names).toEqual(['a_x.png', 'b_x.png']);
      expect(r.failures.map((f) => f.path)).toEqual([paths[1], paths[2]]);
      for (const f of r.failures) expect(f.message).toContain(f.path);
      await expect(loadInputs([paths[1], paths[2]], model.graph, model.preprocess, 'hint')).rejects.toThrow(/no input could be read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
