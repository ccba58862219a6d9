// Dawn start-up's one side effect on the process: lavapipe's thread count (src/node/gpu.ts).
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultLavapipeThreads, LAVAPIPE_THREADS_PER_CORE } from '../src/node/gpu.ts';

describe('lavapipe threads', () => {
  it('sets LP_NUM_THREADS to 8 per core where it is unset, and keeps the caller\'s value', () => {
    const unset: NodeJS.ProcessEnv = {};
    expect(defaultLavapipeThreads(unset)).toBe(String(LAVAPIPE_THREADS_PER_CORE * availableParallelism()));
    expect(unset.LP_NUM_THREADS).toBe(String(8 * availableParallelism()));
    const set: NodeJS.ProcessEnv = { LP_NUM_THREADS: '3' };
    expect(defaultLavapipeThreads(set)).toBe('3');
    expect(set.LP_NUM_THREADS).toBe('3');
  });
});
