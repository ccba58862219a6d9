/** Headless Chromium with a WebGPU adapter, for the tests that run pages (browser, package). */

/** Debian's `chromium` (scripts/setup-browser.sh installs it); LRP_CHROMIUM names another binary. */
export const CHROMIUM = process.env.LRP_CHROMIUM ?? '/usr/bin/chromium';

/**
 * What gives headless Chromium a WebGPU adapter here: --enable-unsafe-webgpu is the one that
 * matters (without it requestAdapter() returns null on Linux); --use-webgpu-adapter=swiftshader
 * pins the CPU adapter so the test behaves the same with or without a GPU. --disable-gpu is left
 * out: it is not needed headless.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
