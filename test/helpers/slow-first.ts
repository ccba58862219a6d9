/**
 * The order in which vitest starts the test files: the slowest first, so that the two workers
 * finish together instead of one of them starting a long file when the other is nearly done.
 *
 * vitest's own order comes from its results cache (longest first) when it has one and by file size
 * otherwise, and a fresh clone (CI, the project's 15-minute budget) has none: sized by bytes, a
 * short file that loads whole models (test/zennit.test.ts, 80 lines, minutes cold) started among
 * the last. So the files that cost most with a cold Mesa shader cache are named here, costliest
 * first (their times in the last cold run of the whole suite, bench/RESULTS.md, 2026-12-08 night,
 * heavily loaded: residual 772 s down to demo-model 63 s), and start before every other file in
 * this order; the rest keep vitest's order. The browser test leads although others took longer
 * there: most of its time is waiting on Chromium's GPU process (about 170 CPU s in 576 s), so it
 * overlaps best from the start. A file missing from the list costs nothing but balance; a name that
 * matches no file is ignored. Update the list when a file's cold cost changes much.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export const SLOW_FIRST: readonly string[] = [
  'test/browser.test.ts',
  'test/residual.test.ts',
  'test/linear-backward.test.ts',
  'test/zennit.test.ts',
  'test/conservation.test.ts',
  'test/reliability.test.ts',
  'test/forward-kernels.test.ts',
  'test/modern.test.ts',
  'test/subgroups.test.ts',
  'test/package.test.ts',
  'test/torchvision.test.ts',
  'test/demo.test.ts',
  'test/explain-cli.test.ts',
  'test/transformer-kinds.test.ts',
  'test/models.test.ts',
  'test/eval-modern.test.ts',
  'test/zoo.test.ts',
  'test/demo-model.test.ts',
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification): number => {
      const path = f.moduleId.split('\\').join('/');
      const i = SLOW_FIRST.findIndex((name) => path.endsWith(`/${name}`));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    // Array.prototype.sort is stable: unlisted files keep vitest's order among themselves.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
