import { defineConfig } from 'vitest/config';

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
  },
});
