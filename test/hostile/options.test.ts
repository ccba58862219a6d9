// Hostile command lines (issue 25, findings 10 and 12), parsed in-process with runCli's dryRun: no
// GPU, nothing runs. An option given twice is refused naming it, for every option of every
// command that is not a list (--input, --composite, merge's folders); a string option given '' is
// refused instead of being taken for "not given" (--relevance-out '' used to write nothing and
// say nothing). Both before any work: the command's handler is never reached.
import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/app.ts';
import { BASE_LINES, parseCli } from '../helpers/cli.ts';

const parse = parseCli;

afterEach(() => {
  process.exitCode = undefined;
});

const BASE: Record<string, readonly string[]> = BASE_LINES;

/** The lists: the only options that may be given more than once. */
const LISTS: Record<string, readonly string[]> = { predict: ['input'], explain: ['input', 'composite'], eval: ['composite'], sanity: ['input', 'composite'] };

/** A value the option takes on its own (repetition, not the value, is what is refused). */
function goodValue(opt: { type?: string; choices?: readonly unknown[] }): string[] {
  if (opt.choices) return [String(opt.choices[0])];
  if (opt.type === 'number') return ['1'];
  if (opt.type === 'boolean') return [];
  return ['x'];
}

describe('a repeated option', () => {
  it('the issue\'s lines: --out twice, --model twice, --heatmap twice are refused naming the option', async () => {
    for (const [line, flag] of [
      [['patterns', '--model', 'm.onnx', '--input', 's.npy', '--out', 'A', '--out', 'B'], 'out'],
      [['explain', '--model', 'X', '--model', 'X', '--input', 'a.jpg'], 'model'],
      [['explain', '--model', 'm.onnx', '--input', 'a.jpg', 'b.jpg', '--heatmap', 'a.png', '--heatmap', 'b.png'], 'heatmap'],
    ] as const) {
      const r = await parse([...line]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.ran).toBe(false);
      expect(r.stderr).toMatch(new RegExp(`^lrp: --${flag} is given 2 times \\(.*\\) but takes one value: give it once`));
    }
    const r = await parse(['patterns', '--model', 'm.onnx', '--input', 's.npy', '--out', 'A', '--out', 'B']);
    expect(r.stderr).toMatch(/--out is given 2 times \('A', 'B'\)/);
  });

  const names = COMMANDS.map((c) => c.def.command.split(' ')[0]);
  for (const c of COMMANDS) {
    const cmd = c.def.command.split(' ')[0];
    it(`${cmd}: every option that is not a list is refused when given twice; its lists still repeat`, async () => {
      expect(Object.keys(BASE).sort()).toEqual([...names].sort());
      for (const s of c.def.options) {
        const flag = `--${s.name}`;
        const lists = LISTS[cmd] ?? [];
        if (lists.includes(s.name)) {
          const r = await parse([...BASE[cmd], flag, 'p', flag, 'q']);
          expect(r.code, `${cmd} ${flag} twice: ${r.stderr}`).toBe(0);
          expect((r.args[s.name] as string[]).slice(-2)).toEqual(['p', 'q']);
          continue;
        }
        expect(s.opt.array, `${cmd} ${flag} is declared a list but this test does not know it`).toBeFalsy();
        const v = goodValue(s.opt as { type?: string; choices?: readonly unknown[] });
        const r = await parse([...BASE[cmd], flag, ...v, flag, ...v]);
        expect(r.code, `${cmd} ${flag} twice: ${r.stderr}`).toBe(2);
        expect(r.ran, `${cmd} ${flag} twice ran`).toBe(false);
        expect(r.stderr, `${cmd} ${flag}`).toMatch(new RegExp(`^lrp: --${s.name} is given \\d times`));
      }
    });
  }

  it('a boolean and its negation, --flag=value forms and camel-case spellings count as the same option', async () => {
    for (const extra of [
      ['--overlay', '--no-overlay'], ['--no-heatmap', '--heatmap', 'h'], ['--batch=2', '--batch', '3'], ['--flat-layers', '1', '--flatLayers', '2'],
    ]) {
      const r = await parse([...BASE.explain, ...extra]);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/is given 2 times/);
    }
    expect((await parse([...BASE.explain, '--overlay', '--batch=2'])).code).toBe(0);
  });
});

describe('an empty value', () => {
  it('--relevance-out \'\' (and --logits-out \'\') are refused, not taken for "not given"', async () => {
    const r = await parse([...BASE.explain, '--relevance-out', '']);
    expect(r.code).toBe(2);
    expect(r.ran).toBe(false);
    expect(r.stderr).toMatch(/^lrp: --relevance-out is given an empty value: give a value, or leave the option out/);
    expect((await parse([...BASE.predict, '--logits-out', ' '])).stderr).toMatch(/--logits-out is given an empty value/);
    expect((await parse([...BASE.explain, '--relevance-out', 'r.npy'])).code).toBe(0);
  });

  for (const c of COMMANDS) {
    const cmd = c.def.command.split(' ')[0];
    it(`${cmd}: every string option given '' is refused naming it`, async () => {
      for (const s of c.def.options.filter((o) => o.opt.type === 'string')) {
        const r = await parse([...BASE[cmd], `--${s.name}`, '']);
        expect(r.code, `${cmd} --${s.name} '': ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(new RegExp(`--${s.name}\\b`));
      }
    });
  }
});
