/**
 * One writer per output folder: `run.lock`, created with O_EXCL (atomic on local file systems
 * and on NFSv3+), holding who writes (pid, host, boot id, the process's start time, the
 * scheduler task, the command). A second `lrp eval`, `--resume` or `lrp merge` on a locked
 * folder stops at once naming the holder; the lock goes when its process exits (normally, by an
 * error, SIGINT, SIGTERM or SIGHUP).
 *
 * A lock whose process is gone (kill -9, a crashed node) is stale and taken over, with a note:
 * - same host and boot: the pid is not running, or runs a process started at another time (the
 *   pid was reused);
 * - same host, another boot id: the machine restarted since;
 * - another host, but an earlier attempt of the scheduler task we are (a Slurm array task
 *   requeued on another node: a lower SLURM_RESTART_COUNT; a Kubernetes Indexed Job's pod
 *   replaced, LRP_TASK_ID the same): a scheduler starts a task again only once its earlier
 *   attempt is over.
 * A lock from another host that is none of these cannot be checked from here: the message says
 * which file to delete if that process is known to be gone.
 */
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'run.lock';
const LOCK_FORMAT = 'webgpu-lrp/lock@1';

export interface LockInfo {
  readonly format: string;
  readonly pid: number;
  readonly host: string;
  readonly bootId: string | null;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22), Linux only. */
  readonly procStart: string | null;
  /** The scheduler task this process runs as and its attempt (see taskId), or null. */
  readonly task: string | null;
  readonly attempt: number | null;
  readonly startedAt: string;
  readonly command: string;
  /** Distinguishes this lock from a later one of the same process. */
  readonly token: string;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function bootId(): string | null {
  return readText('/proc/sys/kernel/random/boot_id')?.trim() || null;
}

/** Field 22 of /proc/PID/stat (after the command, which may hold spaces and parentheses). */
function procStart(pid: number): string | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return null;
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return rest[19] ?? null;
}

/**
 * The scheduler task this process is: LRP_TASK_ID when set (the Kubernetes manifest sets it from
 * the Job's uid and completion index), else the Slurm array task or job, with Slurm's count of
 * restarts (requeues) as the attempt.
 */
export function taskId(env: NodeJS.ProcessEnv = process.env): { id: string; attempt: number | null } | null {
  if (env.LRP_TASK_ID) return { id: env.LRP_TASK_ID, attempt: null };
  const attempt = Number(env.SLURM_RESTART_COUNT ?? 0) || 0;
  if (env.SLURM_ARRAY_JOB_ID && env.SLURM_ARRAY_TASK_ID) return { id: `slurm:${env.SLURM_ARRAY_JOB_ID}_${env.SLURM_ARRAY_TASK_ID}`, attempt };
  if (env.SLURM_JOB_ID) return { id: `slurm:${env.SLURM_JOB_ID}`, attempt };
  return null;
}

function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type HolderState = { stale: false } | { stale: true; why: string };

/** Whether the process that wrote `info` can still be writing. */
export function holderState(info: LockInfo): HolderState {
  if (info.host !== hostname()) {
    // Not checkable from here, unless it is an earlier attempt of the task we are: a scheduler
    // starts a task again (on any node) only once its earlier attempt is over.
    const me = taskId();
    if (me && info.task === me.id && (me.attempt === null || info.attempt === null || info.attempt < me.attempt)) {
      return { stale: true, why: `it is an earlier attempt of this scheduler task (${me.id})` };
    }
    return { stale: false };
  }
  const boot = bootId();
  if (info.bootId && boot && info.bootId !== boot) return { stale: true, why: `${info.host} has restarted since` };
  if (info.pid === process.pid) {
    if ([...held].some((l) => l.info.token === info.token)) return { stale: false };
    return { stale: true, why: 'it was written by an earlier process with this pid (a restarted container)' };
  }
  if (!pidRunning(info.pid)) return { stale: true, why: `process ${info.pid} is not running` };
  const start = procStart(info.pid);
  if (info.procStart && start && start !== info.procStart) return { stale: true, why: `pid ${info.pid} now belongs to another process` };
  return { stale: false };
}

export function describeHolder(info: LockInfo): string {
  return `${info.command} (pid ${info.pid} on ${info.host}${info.task ? `, task ${info.task}${info.attempt ? ` attempt ${info.attempt}` : ''}` : ''}, since ${info.startedAt})`;
}

export class LockedError extends Error {}

function parseLock(path: string): LockInfo | 'unreadable' | null {
  const text = readText(path);
  if (text === null) return existsSync(path) ? 'unreadable' : null;
  try {
    const info = JSON.parse(text) as LockInfo;
    if (info.format === LOCK_FORMAT && Number.isInteger(info.pid) && typeof info.host === 'string') return info;
  } catch {
    // Being written this very moment, or damaged: decided by its age below.
  }
  return 'unreadable';
}

/** A lock file that has not become valid JSON within this long was left half-written by a dead process. */
const HALF_WRITTEN_MS = 10_000;

function heldMessage(dir: string, info: LockInfo, what: string): string {
  const path = join(dir, LOCK_FILE);
  const far = info.host !== hostname();
  return `${dir} is in use: ${describeHolder(info)} holds ${path}; ${what} stops so as not to write the folder twice. `
    + `Wait for it to finish${far ? `, or if that process is gone (it ran on ${info.host}, which cannot be checked from here), delete ${path}` : ''}.`;
}

/**
 * Throws a LockedError when a live process holds `dir`'s lock. Writes nothing: the early check of
 * a command that must not load a model or list a dataset before it is refused.
 */
export function assertUnlocked(dir: string, what: string): void {
  const path = join(dir, LOCK_FILE);
  const info = parseLock(path);
  if (info === null || info === 'unreadable') return;
  if (!holderState(info).stale) throw new LockedError(heldMessage(dir, info, what));
}

export interface RunLock {
  readonly path: string;
  readonly info: LockInfo;
  /** Removes the lock if it is still this one; idempotent. */
  release(): void;
}

const held = new Set<RunLock>();
let exitHook = false;

/**
 * Takes `dir`'s lock (the folder must exist), taking over a stale one with a note through `log`;
 * throws a LockedError naming a live holder.
 */
export function acquireLock(dir: string, what: string, log: (line: string) => void): RunLock {
  const path = join(dir, LOCK_FILE);
  const info: LockInfo = {
    format: LOCK_FORMAT, pid: process.pid, host: hostname(), bootId: bootId(), procStart: procStart(process.pid),
    task: taskId()?.id ?? null, attempt: taskId()?.attempt ?? null, startedAt: new Date().toISOString(), command: what,
    token: `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  };
  const text = `${JSON.stringify(info)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${path}: cannot create the lock file: ${(e as Error).message}`);
      const old = parseLock(path);
      if (old === null) continue; // released between our open and our read
      if (old === 'unreadable') {
        let age = 0;
        try {
          age = Date.now() - statSync(path).mtimeMs;
        } catch {
          continue;
        }
        if (age < HALF_WRITTEN_MS) throw new LockedError(`${dir} is in use: another process is taking ${path} this moment; ${what} stops`);
        breakStale(path, readText(path));
        log(`note: ${path}: removed a damaged lock file left ${Math.round(age / 1000)} s ago`);
        continue;
      }
      const state = holderState(old);
      if (!state.stale) throw new LockedError(heldMessage(dir, old, what));
      breakStale(path, readText(path));
      log(`note: ${dir}: took over the lock of ${describeHolder(old)}: ${state.why}`);
      continue;
    }
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } catch (e) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        // nothing left to undo
      }
      throw new Error(`${path}: cannot write the lock file: ${(e as Error).message}`);
    }
    closeSync(fd);
    const lock: RunLock = {
      path, info,
      release() {
        if (!held.delete(lock)) return;
        if (readText(path) === text) {
          try {
            unlinkSync(path);
          } catch {
            // already gone
          }
        }
      },
    };
    held.add(lock);
    if (!exitHook) {
      exitHook = true;
      // Also on process.exit() from anywhere and on an uncaught error.
      process.on('exit', () => {
        for (const l of [...held]) l.release();
      });
    }
    return lock;
  }
  throw new LockedError(`${path}: could not take the lock (other processes keep taking it); ${what} stops`);
}

/**
 * Removes a stale lock whose text was `seen`, unless it changed meanwhile (another process broke
 * it first and took the folder): the removal itself is serialised by `run.lock.break`.
 */
function breakStale(path: string, seen: string | null): void {
  const guard = `${path}.break`;
  let fd: number;
  try {
    fd = openSync(guard, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`${guard}: ${(e as Error).message}`);
    // A breaker that died mid-break: its guard is old.
    try {
      if (Date.now() - statSync(guard).mtimeMs > HALF_WRITTEN_MS) unlinkSync(guard);
    } catch {
      // gone already
    }
    return;
  }
  try {
    if (readText(path) === seen) unlinkSync(path);
  } catch {
    // removed by someone else: the next attempt sees what is there now
  } finally {
    closeSync(fd);
    try {
      unlinkSync(guard);
    } catch {
      // gone already
    }
  }
}

/**
 * While a command writes a folder: SIGINT, SIGTERM and SIGHUP run `onSignal` (say what is on
 * disk), release every lock and exit with 128 + the signal's number, instead of Node's default of
 * dying without its exit handlers. Returns the function that removes the handlers.
 */
export function exitCleanlyOnSignals(onSignal: (signal: NodeJS.Signals) => void): () => void {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };
  const handler = (signal: NodeJS.Signals) => {
    try {
      onSignal(signal);
    } finally {
      for (const l of [...held]) l.release();
      process.exit(128 + (numbers[signal] ?? 0));
    }
  };
  const signals = Object.keys(numbers) as NodeJS.Signals[];
  for (const s of signals) process.on(s, handler);
  return () => {
    for (const s of signals) process.off(s, handler);
  };
}

/** Temporary files of whole-file writes (`NAME.tmp-PID`) left in `dir` by writers that died; call with the lock held. */
export function removeOrphanTemps(dir: string): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    if (!/\.tmp-\d+$/.test(n)) continue;
    try {
      unlinkSync(join(dir, n));
      removed.push(n);
    } catch {
      // gone already
    }
  }
  return removed;
}
