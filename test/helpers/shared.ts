/**
 * The shared fixtures folder (`/work/shared`, i.e. `../shared` from the repository root), and a
 * check that warns by name when a fixture is absent so the test using it can skip visibly.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the shared folder, with a trailing slash. */
export const SHARED_DIR = fileURLToPath(new URL('../../../shared/', import.meta.url));

/** Absolute path of `rel` inside the shared folder. */
export function sharedPath(rel: string): string {
  return fileURLToPath(new URL(rel, new URL('../../../shared/', import.meta.url)));
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
