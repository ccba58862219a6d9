#!/usr/bin/env node
// The CLI is TypeScript run through tsx's loader: no build step to forget, the same sources the
// tests and the browser bundle use.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
