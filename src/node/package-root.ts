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

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === NAME) return dir;
      } catch {
        // Not ours (or unreadable): keep walking up.
      }
    }
    if (dirname(dir) === dir) throw new Error(`cannot find the ${NAME} package root above ${from} (no package.json named "${NAME}")`);
  }
}

/** Absolute path of the package root, with a trailing separator. */
export const PACKAGE_ROOT = join(findRoot(dirname(fileURLToPath(import.meta.url))), '/');

/** Whether this code runs from the TypeScript sources (a checkout) rather than the build. */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');
