/**
 * What this tool is, for `--version` and for reports one can cite: the package version and, in a
 * git checkout, the commit (with `+dirty` when tracked files differ from it).
 */
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { PACKAGE_NAME, PACKAGE_ROOT as ROOT, PACKAGE_VERSION } from './package-root.ts';

export interface ToolVersion {
  readonly name: string;
  readonly version: string;
  /** The git commit of the checkout, null outside one (an npm install). */
  readonly commit: string | null;
  /** Tracked files differ from the commit. */
  readonly dirty: boolean;
}

let cached: ToolVersion | null = null;

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    return null;
  }
}

export function toolVersion(): ToolVersion {
  if (cached) return cached;
  // Only the package's own checkout: installed under node_modules/ inside another repository, git
  // would answer with that repository's commit.
  const top = git(['rev-parse', '--show-toplevel']);
  const own = top !== null && realpathSync(top) === realpathSync(ROOT);
  const commit = own ? git(['rev-parse', 'HEAD']) : null;
  const status = commit ? git(['status', '--porcelain', '--untracked-files=no']) : null;
  cached = { name: PACKAGE_NAME, version: PACKAGE_VERSION, commit, dirty: Boolean(status) };
  return cached;
}

/** e.g. `webgpu-lrp 0.1.0 (c272992+dirty)`. */
export function versionLine(v: ToolVersion = toolVersion()): string {
  return `${v.name} ${v.version}${v.commit ? ` (${v.commit.slice(0, 7)}${v.dirty ? '+dirty' : ''})` : ''}`;
}
