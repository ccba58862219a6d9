/**
 * Installs a packed tarball of this package into an empty project, offline where it can: the
 * project gets a package-lock.json made from this repository's own (the same resolved versions
 * and integrity hashes of every runtime dependency, nothing else), so `npm ci --prefer-offline`
 * takes every tarball from the npm cache that `npm ci` filled on this machine and reaches for the
 * registry only for what is missing there.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
  devOptional?: boolean;
  [key: string]: unknown;
}

interface Lock {
  name: string;
  version: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

/** The lock entries (path → entry) a package with `dependencies` needs, found as npm resolves them in `lock`. */
export function dependencyClosure(lock: Lock, dependencies: Record<string, string>): Map<string, LockEntry> {
  const out = new Map<string, LockEntry>();
  const visit = (from: string, name: string, optional: boolean) => {
    // npm's lookup: the requiring package's own node_modules, then each parent's, then the top.
    let dir = from;
    for (;;) {
      const path = `${dir ? `${dir}/` : ''}node_modules/${name}`;
      const entry = lock.packages[path];
      if (entry) {
        if (out.has(path)) return;
        const { dev: _dev, devOptional: _devOptional, ...rest } = entry;
        out.set(path, rest);
        for (const d of Object.keys(entry.dependencies ?? {})) visit(path, d, false);
        for (const d of Object.keys(entry.optionalDependencies ?? {})) visit(path, d, true);
        return;
      }
      if (!dir) break;
      const i = dir.lastIndexOf('/node_modules/');
      dir = i < 0 ? '' : dir.slice(0, i);
    }
    if (!optional) throw new Error(`package-lock.json has no entry for ${name} (needed from ${from || 'the root'}): run npm install`);
  };
  for (const name of Object.keys(dependencies)) visit('', name, false);
  return out;
}

export interface InstallResult {
  readonly log: string;
  readonly ms: number;
}

/**
 * Writes package.json and package-lock.json into `dir` for a project that depends on `tarball`
 * (a file inside `dir`) only, and runs `npm ci --prefer-offline` there.
 */
export function installTarball(dir: string, tarball: string, repoRoot: string): InstallResult {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string; dependencies: Record<string, string>; bin?: Record<string, string>; engines?: Record<string, string>; license?: string };
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as Lock;
  const file = `file:${basename(tarball)}`;
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const project = { name: 'lrp-consumer', version: '1.0.0', private: true, type: 'module', dependencies: { [pkg.name]: file } };
  const packages: Record<string, LockEntry> = {
    '': { name: project.name, version: project.version, dependencies: project.dependencies },
    [`node_modules/${pkg.name}`]: {
      version: pkg.version, resolved: file, integrity, license: pkg.license, dependencies: pkg.dependencies,
      ...(pkg.bin ? { bin: pkg.bin } : {}), ...(pkg.engines ? { engines: pkg.engines } : {}),
    },
  };
  for (const [path, entry] of dependencyClosure(lock, pkg.dependencies)) packages[path] = entry;
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(project, null, 2)}\n`);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify({ name: project.name, version: project.version, lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
  const t0 = performance.now();
  const r = spawnSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) {
    throw new Error(`npm ci in ${dir} failed (${r.status ?? r.signal}); it takes the dependencies from the npm cache that \`npm ci\` `
      + `in this repository fills, and from the registry what is not there:\n${log}`);
  }
  return { log, ms: performance.now() - t0 };
}
