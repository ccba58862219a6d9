/**
 * The package as a user gets it: `npm pack` (which builds dist/ through prepack), the tarball
 * installed into an empty project outside this repository (offline from the npm cache where it
 * can: test/helpers/install.ts), and then, there, with nothing of this repository's sources:
 *
 * - a TypeScript consumer of `webgpu-lrp` and `webgpu-lrp/node` typechecks against the shipped
 *   declarations;
 * - the Node example (examples/node/explain.mjs) explains an image on Dawn (lavapipe here) and
 *   its relevance is, bit for bit, what the installed `lrp explain` writes for the same image;
 * - the browser example (examples/browser/) bundles with the installed esbuild, with no loader
 *   configuration, and explains the same image in headless Chromium (SwiftShader), matching
 *   Node's relevance within float32 rounding.
 *
 * The model is the bundled demo model (models/demo/), the image a synthetic PNG (lossless, so
 * Node's decoder and the browser's give the same pixels). The browser part skips, with a warning,
 * without Chromium (scripts/setup-browser.sh).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npyToFloat32, parseNpy } from '../src/io/npy.ts';
import { encodePng } from '../src/node/png.ts';
import { synthesize } from '../src/synth/index.ts';
import { CHROMIUM, CHROMIUM_ARGS } from './helpers/chromium.ts';
import { relL2 } from './helpers/gpu.ts';
import { installTarball } from './helpers/install.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`package test: no Chromium at ${CHROMIUM}; skipping the browser example (run scripts/setup-browser.sh, or set LRP_CHROMIUM)`);

interface Run {
  readonly status: number | null;
  readonly out: string;
}

function run(cmd: string, args: readonly string[], cwd: string, timeout = 240_000): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, NODE_PATH: '' } });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}` };
}

const npyFloats = (path: string) => npyToFloat32(parseNpy(new Uint8Array(readFileSync(path)), path));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : /\.(ts|mjs)$/.test(e.name) ? [p] : [];
  });
}

describe('files the code reads beside itself', () => {
  it('are found from the package root (src/node/package-root.ts), which is the same from src/ and from dist/src/', () => {
    // `new URL('../../x', import.meta.url)` names another file from dist/src/node/ than from src/node/.
    const offending = ['src', 'cli'].flatMap((d) => sourceFiles(join(ROOT, d)))
      .filter((f) => /new URL\(\s*['"]\.\.\//.test(readFileSync(f, 'utf8')))
      .map((f) => f.slice(ROOT.length));
    expect(offending).toEqual([]);
  });
});

describe('npm pack, installed into an empty project', () => {
  let tmp = '';
  let dir = '';
  let files: string[] = [];
  let nodeRelevance: Float32Array | null = null;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'lrp-package-'));
    const pack = run('npm', ['pack', '--pack-destination', tmp, '--json', '--loglevel=warn'], ROOT);
    expect(pack.status, pack.out).toBe(0);
    // prepack's build talks on stdout too; the JSON report is the array at the end.
    const report = JSON.parse(pack.out.slice(pack.out.indexOf('\n[') + 1, pack.out.lastIndexOf(']') + 1)) as { filename: string; files: { path: string }[] }[];
    files = report[0].files.map((f) => f.path);
    dir = join(tmp, 'project');
    mkdirSync(dir);
    copyFileSync(join(tmp, report[0].filename), join(dir, report[0].filename));
    const installed = installTarball(dir, join(dir, report[0].filename), ROOT);
    console.log(`package test: packed ${report[0].filename} (${files.length} files), installed in ${(installed.ms / 1000).toFixed(1)} s`);
    for (const f of ['demo.onnx', 'demo.onnx.json']) copyFileSync(join(ROOT, 'models', 'demo', f), join(dir, f));
    writeFileSync(join(dir, 'image.png'), encodePng(synthesize(1, 2).image));
  }, 300_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('ships the build, its declarations, the shaders and the demo model, and no tests', () => {
    for (const f of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/node/index.js', 'dist/src/node/index.d.ts', 'dist/cli/main.js',
      'dist/src/kernels/wgsl.generated.js', 'bin/lrp.js', 'shaders/forward/conv2d.wgsl', 'models/demo/demo.onnx', 'models/demo/demo.png',
      'README.md', 'docs/api.md']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('cli/') || f.startsWith('dist/test/'))).toEqual([]);
    expect(existsSync(join(dir, 'node_modules', 'webgpu-lrp', 'dist', 'src', 'index.js'))).toBe(true);
    // Dev-only packages stay out of a user's install.
    for (const p of ['typescript', 'vitest', 'tsx', 'playwright-core']) expect(existsSync(join(dir, 'node_modules', p)), p).toBe(false);
  });

  it('typechecks a TypeScript consumer of both entries against the shipped declarations', () => {
    writeFileSync(join(dir, 'consumer.ts'), [
      "import { Composite, Lrp as BrowserLrp, type Explanation, type Tensor } from 'webgpu-lrp';",
      "import { Lrp, readImage, writePng } from 'webgpu-lrp/node';",
      "import { WGSL } from 'webgpu-lrp/shaders';",
      'export async function main(): Promise<Explanation> {',
      "  const lrp: BrowserLrp = await Lrp.create();",
      "  const model = await lrp.loadModel('demo.onnx');",
      "  const explainer = await model.explainer(Composite.parse('cmp-alpha2-flat'), { flatLayers: 1 });",
      "  const ex = await explainer.explain(await readImage('image.png'), { target: 'predicted', init: 'logit' });",
      "  await writePng('h.png', ex.heatmap(0));",
      '  const t: Tensor = ex.relevance;',
      "  return t.shape.length === 4 && WGSL['forward/conv2d.wgsl'] ? ex : ex;",
      '}',
      // A mistake the declarations must catch.
      '// @ts-expect-error: a sample is an index into the batch',
      "export const bad = (e: Awaited<ReturnType<typeof main>>) => e.heatmap('first');",
      '',
    ].join('\n'));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, lib: ['ES2022', 'DOM'],
        types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      files: ['consumer.ts'],
    }));
    const tsc = run(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], dir);
    expect(tsc.out.trim()).toBe('');
    expect(tsc.status).toBe(0);
  });

  it('runs the Node example: a heatmap, and the relevance of the installed `lrp explain`, bit for bit', () => {
    copyFileSync(join(ROOT, 'examples', 'node', 'explain.mjs'), join(dir, 'explain.mjs'));
    const ex = run(process.execPath, ['explain.mjs', 'demo.onnx', 'image.png', 'heatmap.png', 'example.npy'], dir);
    expect(ex.status, ex.out).toBe(0);
    expect(ex.out).toMatch(/class \d+ \(logit [\d.-]+\), relevance sum [\d.-]+; wrote heatmap\.png/);
    const png = readFileSync(join(dir, 'heatmap.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');

    const cli = run(join(dir, 'node_modules', '.bin', 'lrp'), ['explain', '--model', 'demo.onnx', '--input', 'image.png', '--relevance-out', 'cli.npy'], dir);
    expect(cli.status, cli.out).toBe(0);
    const mine = npyFloats(join(dir, 'example.npy'));
    const theirs = npyFloats(join(dir, 'cli.npy'));
    expect(mine.length).toBe(3 * 64 * 64);
    expect(mine.some((v) => v !== 0)).toBe(true);
    expect(Array.from(mine)).toEqual(Array.from(theirs));
    nodeRelevance = mine;
  });

  it.skipIf(!haveChromium)('bundles the browser example with esbuild and explains the image in Chromium as Node does', async () => {
    expect(nodeRelevance, 'the Node example ran first').not.toBeNull();
    const web = join(dir, 'web');
    cpSync(join(ROOT, 'examples', 'browser'), web, { recursive: true });
    copyFileSync(join(dir, 'demo.onnx'), join(web, 'model.onnx'));
    copyFileSync(join(dir, 'demo.onnx.json'), join(web, 'model.onnx.json'));
    copyFileSync(join(dir, 'image.png'), join(web, 'image.png'));
    // The command the example's header gives, minus the server.
    const bundle = run(join(dir, 'node_modules', '.bin', 'esbuild'), ['main.ts', '--bundle', '--format=esm', '--outfile=bundle.js', '--log-level=warning'], web);
    expect(bundle.status, bundle.out).toBe(0);
    const code = readFileSync(join(web, 'bundle.js'), 'utf8');
    expect(code).not.toMatch(/\bfrom\s*["']node:|\brequire\(\s*["']/);

    const server = await serve(web);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    const log: string[] = [];
    try {
      const page = await browser.newPage();
      page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
      const t0 = performance.now();
      await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/?model=model.onnx&image=image.png`);
      type Result = { error: string } | { targets: number[]; relevance: string; shape: number[]; status: string };
      await page.waitForFunction(() => {
        const w = window as unknown as { explanation?: unknown; explanationError?: unknown };
        return w.explanation !== undefined || w.explanationError !== undefined;
      }, null, { timeout: 280_000, polling: 500 });
      const r = await page.evaluate((): Result => {
        const w = window as unknown as { explanation?: { targets: number[]; relevance: { data: Float32Array; shape: number[] } }; explanationError?: string };
        if (!w.explanation) return { error: w.explanationError ?? 'no explanation' };
        const bytes = new Uint8Array(w.explanation.relevance.data.buffer, w.explanation.relevance.data.byteOffset, w.explanation.relevance.data.byteLength);
        let s = '';
        for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
        return { targets: w.explanation.targets, relevance: btoa(s), shape: w.explanation.relevance.shape, status: document.getElementById('status')!.textContent ?? '' };
      });
      if ('error' in r) throw new Error(`the browser example failed: ${r.error}\n${log.join('\n')}`);
      const bytes = Buffer.from(r.relevance, 'base64');
      const rel = new Float32Array(new Uint8Array(bytes).buffer);
      const err = relL2(rel, nodeRelevance!);
      console.log(`package test: browser example (${r.status}) in ${((performance.now() - t0) / 1000).toFixed(0)} s; relevance vs Node: relative L2 ${err.toExponential(2)}`);
      expect(r.shape).toEqual([1, 3, 64, 64]);
      expect(err).toBeLessThanOrEqual(1e-5);
    } finally {
      await browser.close();
      server.close();
    }
  });
});

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.png': 'image/png', '.json': 'application/json', '.onnx': 'application/octet-stream',
};

/** A static server of `dir` on the loopback (a secure context, as WebGPU needs). */
async function serve(dir: string): Promise<Server> {
  const names = new Set(readdirSync(dir));
  const server = createServer((req, res) => {
    const name = new URL(req.url ?? '/', 'http://localhost').pathname.slice(1) || 'index.html';
    if (!names.has(name)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(name)] ?? 'application/octet-stream' }).end(readFileSync(join(dir, name)));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return server;
}
