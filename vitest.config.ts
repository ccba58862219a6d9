import { homedir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/helpers/slow-first.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Dawn is a native addon: separate processes keep one device per test file and let each exit cleanly.
    pool: 'forks',
    // lavapipe runs the kernels on 2 CPU cores; a whole-model case takes seconds, not milliseconds.
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
    // The costliest files start first, whatever their size and with no results cache (a fresh clone).
    sequence: { sequencer: SlowFirstSequencer },
    // lavapipe compiles each pipeline with LLVM on its first dispatch, seconds apiece, which is
    // most of a run on a fresh machine (an empty Mesa shader cache). At 4-wide SIMD it compiles 2
    // to 3 times faster than at its default 8 and runs the suite's small kernels as fast (cold
    // test/forward-kernels.test.ts: 105 s -> 47 s; warm: 9 s either way). Benches and the CLI
    // keep the default. Other drivers ignore the variable.
    // GALLIVM_PERF=nopt skips LLVM's optimisation passes: the suite's kernels run on small
    // tensors, so compiling is most of their cost (the suite cold: 1,601 -> 1,465 CPU s,
    // bench/RESULTS.md, 2026-12-08 night). Both settings make code that benches must not load, so the
    // tests keep their own Mesa cache folder unless MESA_SHADER_CACHE_DIR names one (llvmpipe's
    // cache id hashes GALLIVM_PERF, lp_screen.c; whether it tells vector widths apart, unchecked).
    env: {
      LP_NATIVE_VECTOR_WIDTH: process.env.LP_NATIVE_VECTOR_WIDTH ?? '128',
      GALLIVM_PERF: process.env.GALLIVM_PERF ?? 'nopt',
      MESA_SHADER_CACHE_DIR: process.env.MESA_SHADER_CACHE_DIR
        ?? join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'webgpu-lrp-tests'),
    },
  },
});
