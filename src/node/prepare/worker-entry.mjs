// Entry of the preparation worker threads. A worker does not inherit the TypeScript loader of the
// thread that starts it: `new Worker(new URL('./worker.ts', import.meta.url))` fails with
// ERR_UNKNOWN_FILE_EXTENSION under bin/lrp.js (tsx registered through tsx/esm/api), under
// `node --import tsx`, under the `tsx` CLI and under vitest alike. So this plain ES module
// registers tsx's ESM loader in the worker itself, then imports the TypeScript worker. Checked in
// all four setups; a second registration where tsx is already active (the CLI's --import) is harmless.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
