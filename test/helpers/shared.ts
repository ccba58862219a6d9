/**
 * The shared fixtures folder, and a check that warns by name when a fixture is absent so the test
 * using it can skip visibly. The folder is `$LRP_SHARED_DIR` when set (relative to the working
 * directory), else `../shared` beside the repository (`/work/shared` here). `.ci/run` collects the
 * whole suite once with it pointed at an empty folder: every test that uses a fixture must reach
 * it through this module, and only inside a test, so that a checkout without the fixtures skips
 * rather than fails.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const DEFAULT_DIR = fileURLToPath(new URL('../../../shared/', import.meta.url));

/** Absolute path of the shared folder, with a trailing slash. */
export const SHARED_DIR = process.env.LRP_SHARED_DIR ? join(resolve(process.env.LRP_SHARED_DIR), '/') : DEFAULT_DIR;

/** Absolute path of `rel` inside the shared folder. */
export function sharedPath(rel: string): string {
  return join(SHARED_DIR, rel);
}

/**
 * Whether every one of the shared files exists; warns naming each missing path, so that a test
 * skipped with `it.skipIf(!haveShared(...))` says why.
 */
export function haveShared(what: string, ...rels: string[]): boolean {
  const missing = rels.map(sharedPath).filter((p) => !existsSync(p));
  for (const p of missing) console.warn(`${what}: shared fixture ${p} is absent; skipping`);
  return missing.length === 0;
}
