/**
 * The package's root folder, the one holding its package.json, shaders/, web/ and models/demo/:
 * found by walking up from this module, so that it is the same whether the code runs from the
 * sources (src/node/) or from the build (dist/src/node/), in a checkout or installed under
 * node_modules/webgpu-lrp/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NAME = 'webgpu-lrp';

function findRoot(from: string): { dir: string; version: string } {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const json = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown; version?: unknown };
        if (json.name === NAME) return { dir, version: String(json.version ?? '0.0.0') };
      } catch {
        // Not ours (or unreadable): keep walking up.
      }
    }
    if (dirname(dir) === dir) throw new Error(`cannot find the ${NAME} package root above ${from} (no package.json named "${NAME}")`);
  }
}

const found = findRoot(dirname(fileURLToPath(import.meta.url)));

/** Absolute path of the package root, with a trailing separator. */
export const PACKAGE_ROOT = join(found.dir, '/');

/** The package's name. */
export const PACKAGE_NAME = NAME;

/** The package's version, from its package.json. */
export const PACKAGE_VERSION = found.version;

/** Whether this code runs from the TypeScript sources (a checkout) rather than the build. */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');
