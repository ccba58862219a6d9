#!/usr/bin/env node
// The CLI runs from the TypeScript sources in a checkout (through tsx's loader: no build step to
// forget, the same sources the tests and the browser bundle use), and from the build (dist/) in
// the installed package, which ships no cli/ sources and needs no TypeScript loader.
import { existsSync } from 'node:fs';

const source = new URL('../cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli/main.js');
}
