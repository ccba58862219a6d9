#!/usr/bin/env node
// `npm run build` (and `npm pack` through prepack): dist/ from scratch, so a file deleted from the
// sources cannot linger in the package; then tsc with tsconfig.build.json (JavaScript, source maps,
// declarations). Plain JavaScript, so that it runs before anything is built.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
rmSync(new URL('../dist/', import.meta.url), { recursive: true, force: true });
const tsc = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc');
if (!existsSync(tsc)) {
  console.error(`build: ${tsc} is missing: install the dev dependencies (npm ci)`);
  process.exit(1);
}
const r = spawnSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('build: tsc failed');
  process.exit(r.status ?? 1);
}
const entries = ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/node/index.js', 'dist/src/node/index.d.ts', 'dist/cli/main.js'];
const missing = entries.filter((e) => !existsSync(new URL(`../${e}`, import.meta.url)));
if (missing.length) {
  console.error(`build: tsc wrote no ${missing.join(', ')}`);
  process.exit(1);
}
console.log('build: dist/ written (library, CLI, declarations)');
