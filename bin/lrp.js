#!/usr/bin/env node
// The CLI runs from the TypeScript sources in a checkout (through tsx's loader: no build step to
// forget, the same sources the tests and the browser bundle use), and from the build (dist/) in
// the installed package, which ships no cli/ sources and needs no TypeScript loader.
//
// Dawn writes a few start-up warnings straight to file descriptor 2 from native code (on lavapipe:
// "maxDynamic...PerPipelineLayout artificially reduced ..."), which no JavaScript can intercept in
// the same process. So `lrp` runs in a child process whose stderr passes through this one, which
// drops those lines unless --verbose (or LRP_VERBOSE=1) asks for them. Everything else passes
// through as it comes, partial lines (progress bars) included. Signals are forwarded; the exit
// status, or the signal the child died of, is this process's. The child ends itself if this one
// is killed (SIGKILL cannot be forwarded), so a killed `lrp` never leaves work running.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CHILD = 'LRP_CLI_CHILD';

if (process.env[CHILD] === '1') {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
  }, 100).unref();
  const source = new URL('../cli/main.ts', import.meta.url);
  if (existsSync(source)) {
    const { register } = await import('tsx/esm/api');
    register();
    await import(source.href);
  } else {
    await import('../dist/cli/main.js');
  }
} else {
  const verbose = process.env.LRP_VERBOSE === '1' || process.argv.slice(2).some((a) => a === '--verbose' || a === '--verbose=true');
  /** Dawn's start-up warnings that say nothing a user can act on. */
  const DROP = [/^Warning: maxDynamic\w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?\n$/];
  const env = { ...process.env, [CHILD]: '1' };
  // The child's stderr is a pipe: tell it whether ours is a terminal, for progress bars drawn in place.
  if (process.stderr.isTTY) env.LRP_STDERR_TTY = '1';
  const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe'], env,
  });
  child.stderr.setEncoding('utf8');
  let held = '';
  const mayBeDropped = (text) => 'Warning: '.startsWith(text) || text.startsWith('Warning: ');
  child.stderr.on('data', (chunk) => {
    let text = held + chunk;
    held = '';
    let out = '';
    for (;;) {
      const nl = text.indexOf('\n');
      if (nl < 0) break;
      const line = text.slice(0, nl + 1);
      text = text.slice(nl + 1);
      if (verbose || !DROP.some((re) => re.test(line))) out += line;
    }
    // A partial line: hold it only while it could still become a dropped warning.
    if (text && !verbose && mayBeDropped(text)) held = text;
    else out += text;
    if (out) process.stderr.write(out);
  });
  const forward = (sig) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of signals) process.on(s, forward);
  child.on('error', (e) => {
    process.stderr.write(`lrp: cannot start ${process.execPath}: ${e.message}\n`);
    process.exit(1);
  });
  child.on('close', (code, signal) => {
    if (held) process.stderr.write(held);
    for (const s of signals) process.off(s, forward);
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
