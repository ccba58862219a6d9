/**
 * `--shard`: `i/n` as given, or `auto` (and `auto/N`) from the scheduler that started the process:
 *
 * - Slurm job arrays: index SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN, count
 *   SLURM_ARRAY_TASK_COUNT (`--array=1-8` gives shards 0/8 .. 7/8). The array must be one
 *   unbroken range (max - min + 1 = count): `--array=0,2,5` or a step would leave shards no task
 *   runs, so it is refused.
 * - Kubernetes Indexed Jobs: index JOB_COMPLETION_INDEX; Kubernetes does not expose the count,
 *   so `auto/N` gives it (the Job's `completions`; the manifest passes it), or LRP_SHARD_COUNT.
 *
 * `auto/N` under Slurm checks N against the array. The choice is said in one line, naming the
 * variables it came from.
 */
import type { Shard } from '../../eval/report.ts';
import { parseShard } from './setup.ts';

export interface ShardChoice {
  readonly shard: Shard;
  /** e.g. "shard 2/4 from Slurm (SLURM_ARRAY_TASK_ID=3, SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_COUNT=4)". */
  readonly source: string;
}

function wholeVar(env: NodeJS.ProcessEnv, name: string, min = 0): number {
  const text = env[name];
  const v = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isSafeInteger(v) || v < min) {
    throw new Error(`--shard auto: ${name}=${JSON.stringify(text ?? '')} is not a whole number >= ${min}`);
  }
  return v;
}

/** Resolves a --shard value; `auto` reads `env`. */
export function resolveShard(text: string, env: NodeJS.ProcessEnv = process.env): ShardChoice {
  const m = /^\s*auto\s*(?:\/\s*(\S+)\s*)?$/.exec(text);
  if (!m) {
    const shard = parseShard(text);
    return { shard, source: `shard ${shard.index}/${shard.count} (--shard)` };
  }
  let given: number | null = null;
  if (m[1] !== undefined) {
    given = Number(m[1]);
    if (!Number.isSafeInteger(given) || given < 1) throw new Error(`--shard auto/N: N must be a whole number >= 1, got '${m[1]}'`);
  }
  const say = (s: Shard, from: string) => ({ shard: s, source: `shard ${s.index}/${s.count} from ${from}` });
  if (env.SLURM_ARRAY_TASK_ID !== undefined) {
    const id = wholeVar(env, 'SLURM_ARRAY_TASK_ID');
    const min = env.SLURM_ARRAY_TASK_MIN !== undefined ? wholeVar(env, 'SLURM_ARRAY_TASK_MIN') : 0;
    const count = wholeVar(env, 'SLURM_ARRAY_TASK_COUNT', 1);
    if (env.SLURM_ARRAY_TASK_MAX !== undefined) {
      const max = wholeVar(env, 'SLURM_ARRAY_TASK_MAX');
      const step = env.SLURM_ARRAY_TASK_STEP !== undefined ? Number(env.SLURM_ARRAY_TASK_STEP) : 1;
      if (max - min + 1 !== count || step !== 1) {
        throw new Error(`--shard auto: the Slurm array is not one unbroken range (tasks ${min}..${max}, ${count} of them${step !== 1 ? `, step ${step}` : ''}): `
          + 'submit it as --array=0-N (a % limit is fine), or give --shard i/n');
      }
    }
    const index = id - min;
    if (index < 0 || index >= count) throw new Error(`--shard auto: SLURM_ARRAY_TASK_ID=${id} is outside the array (min ${min}, ${count} tasks)`);
    if (given !== null && given !== count) throw new Error(`--shard auto/${given}: the Slurm array has ${count} tasks (SLURM_ARRAY_TASK_COUNT=${count})`);
    return say({ index, count }, `Slurm (SLURM_ARRAY_TASK_ID=${id}, SLURM_ARRAY_TASK_MIN=${min}, SLURM_ARRAY_TASK_COUNT=${count})`);
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    const index = wholeVar(env, 'JOB_COMPLETION_INDEX');
    const fromEnv = env.LRP_SHARD_COUNT !== undefined ? wholeVar(env, 'LRP_SHARD_COUNT', 1) : null;
    if (given !== null && fromEnv !== null && given !== fromEnv) throw new Error(`--shard auto/${given} disagrees with LRP_SHARD_COUNT=${fromEnv}`);
    const count = given ?? fromEnv;
    if (count === null) {
      throw new Error('--shard auto: a Kubernetes Indexed Job (JOB_COMPLETION_INDEX is set) does not say how many shards there are: give --shard auto/N with N the Job\'s completions, or set LRP_SHARD_COUNT');
    }
    if (index >= count) throw new Error(`--shard auto: JOB_COMPLETION_INDEX=${index} is not below the shard count ${count}`);
    return say({ index, count }, `Kubernetes (JOB_COMPLETION_INDEX=${index}, ${given !== null ? `--shard auto/${count}` : `LRP_SHARD_COUNT=${count}`})`);
  }
  throw new Error('--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array, sbatch --array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; give --shard i/n');
}
