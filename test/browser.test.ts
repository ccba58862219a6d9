/**
 * `lrp web` end to end.
 *
 * Without a browser: the server binds the loopback only, refuses other Host headers and paths
 * outside shaders/, serves shaders/ byte for byte, and bundles the page with no Node module in it.
 *
 * In headless Chromium (Debian's `chromium`, installed by scripts/setup-browser.sh) on its
 * SwiftShader WebGPU adapter, driven by playwright-core: every reference case of
 * ../shared/testvectors/zennit/ runs through the page's own code path (window.lrpTest.explain,
 * the same function as the Explain button), and the relevance is checked against zennit within
 * the case's tolerance and against what Node (Dawn) computes for the same case. Errors must show
 * in the page's error box. A screenshot of the page with a heatmap goes to test-output/browser.png;
 * the first visit (the demo explained by itself) to web-first-visit.png, a gallery to gallery.png.
 *
 * Skips, with a warning, when Chromium or the shared vectors are absent; LRP_CHROMIUM names
 * another Chromium binary.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForwardModel, type Activations } from '../src/forward/model.ts';
import type { Graph } from '../src/graph/ir.ts';
import { importOnnx } from '../src/graph/onnx/import.ts';
import { npyToFloat32, parseNpy } from '../src/io/npy.ts';
import { parseComposite, resolveComposite } from '../src/lrp/composite.ts';
import { Explainer } from '../src/lrp/explainer.ts';
import { BrowserBundle } from '../src/node/web/bundle.ts';
import { isLoopbackHost, startWebServer, type WebServer } from '../src/node/web/server.ts';
import { writeSynthDataset } from '../src/node/synth-dataset.ts';
import { openDataset } from '../src/node/datasets/index.ts';
import { loadAnalyzers, loadEvalModel } from '../src/node/eval/setup.ts';
import { pickGallery, writeGallery } from '../src/node/gallery.ts';
import { CHROMIUM, CHROMIUM_ARGS } from './helpers/chromium.ts';
import { relL2, useGpu } from './helpers/gpu.ts';
import { modelProto, node } from './helpers/onnx-writer.ts';
import { haveShared, sharedPath } from './helpers/shared.ts';
import { ZENNIT_INDEX, type ZennitCase, type ZennitCaseFile } from './helpers/zennit.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT_DIR = join(ROOT, 'test-output');

const npy = (path: string) => {
  const a = parseNpy(new Uint8Array(readFileSync(path)), path);
  return { shape: a.shape, data: npyToFloat32(a) };
};

/** The heatmap canvas's size and how many distinct colours it holds. */
function heatmapCanvasStats(p: Page): Promise<{ width: number; height: number; colours: number }> {
  return p.evaluate(() => {
    const c = document.getElementById('heatmap-canvas') as HTMLCanvasElement;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    const colours = new Set<number>();
    for (let i = 0; i < d.length; i += 4) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return { width: c.width, height: c.height, colours: colours.size };
  });
}

/** The bytes of a typed array's own range (not the whole buffer it views). */
const base64Of = (a: Float32Array | Uint8Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

function floatsOf(b64: string): Float32Array {
  const bytes = Buffer.from(b64, 'base64');
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer);
}

/** A raw GET, so the path reaches the server as written (fetch would normalise `..`). */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((ok, bad) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', bad);
    req.end();
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

describe('lrp web server', () => {
  let server: WebServer;
  beforeAll(async () => {
    server = await startWebServer({ port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('listens on 127.0.0.1 and refuses any other interface', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.com']) {
      expect(isLoopbackHost(host)).toBe(false);
      await expect(startWebServer({ port: 0, host })).rejects.toThrow(/loopback/);
    }
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) expect(isLoopbackHost(host)).toBe(true);
  });

  it('serves the page, its bundle and the core bundle', async () => {
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('id="error"');
    for (const path of ['main.js', 'lrp.js']) {
      const res = await fetch(new URL(path, server.url));
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/javascript/);
      const code = await res.text();
      // One self-contained ESM file: nothing left to import, from Node or anywhere.
      expect(code, path).not.toMatch(/^\s*import\s[^(]/m);
      expect(code, path).not.toMatch(/\brequire\(\s*["']/);
    }
  });

  it('serves shaders/ byte for byte, the same files Node reads', async () => {
    const dir = join(ROOT, 'shaders');
    const files = filesUnder(dir).filter((f) => f.endsWith('.wgsl'));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const rel = relative(dir, f).split('\\').join('/');
      const res = await fetch(new URL(`shaders/${rel}`, server.url));
      expect(res.status, rel).toBe(200);
      expect(await res.text(), rel).toBe(readFileSync(f, 'utf8'));
    }
  });

  it('serves nothing outside shaders/ and web/, and only to a loopback Host', async () => {
    for (const path of ['/shaders/../package.json', '/shaders/%2e%2e/package.json', '/shaders/..%2fpackage.json',
      '/demo/../package.json', '/demo/..%2f..%2fpackage.json', '/src/index.ts', '/web/main.ts', '/package.json']) {
      const r = await rawGet(server.url, path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain('"dependencies"');
    }
    expect((await rawGet(server.url, '/', { host: 'attacker.example:80' })).status).toBe(421);
    expect((await rawGet(server.url, '/', { host: `localhost:${server.port}` })).status).toBe(200);
    const post = await fetch(server.url, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
  });

  it('says whether the demo model is there', async () => {
    const manifest = await (await fetch(new URL('demo/manifest.json', server.url))).json() as {
      model: string | null; note: string | null; examples: { name: string; model: string; preprocess: string | null }[];
    };
    if (existsSync(join(ROOT, 'models/demo/demo.onnx'))) {
      expect(manifest.model).toBe('demo/demo.onnx');
      expect((await fetch(new URL(manifest.model!, server.url))).status).toBe(200);
      // The trained siblings (training/train_demo.py --arch), each with its preprocessing, after the demo.
      const siblings = readdirSync(join(ROOT, 'models/demo')).filter((n) => /^demo-[a-z0-9]+\.onnx$/.test(n)).sort();
      expect(manifest.examples.map((e) => e.model)).toEqual(['demo/demo.onnx', ...siblings.map((n) => `demo/${n}`)]);
      for (const e of manifest.examples) {
        expect((await fetch(new URL(e.model, server.url))).status, e.model).toBe(200);
        expect(e.preprocess, e.name).not.toBeNull();
        expect((await fetch(new URL(e.preprocess!, server.url))).status, e.preprocess!).toBe(200);
      }
      for (const path of ['/demo/demo-missing.onnx', '/demo/train-log.txt', '/demo/demo.metrics.json', '/demo/demo-x.onnx.txt']) {
        expect((await rawGet(server.url, path)).status, path).toBe(404);
      }
    } else {
      expect(manifest.model).toBeNull();
      expect(manifest.note).toMatch(/demo\.onnx/);
    }
  });

  it('refuses to bundle anything that reaches Node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lrp-bundle-'));
    try {
      mkdirSync(join(dir, 'src', 'node'), { recursive: true });
      writeFileSync(join(dir, 'src', 'node', 'x.ts'), 'export const x = 1;\n');
      writeFileSync(join(dir, 'a.ts'), "import { readFileSync } from 'node:fs';\nconsole.log(readFileSync);\n");
      writeFileSync(join(dir, 'b.ts'), "import { x } from './src/node/x.ts';\nconsole.log(x);\n");
      writeFileSync(join(dir, 'c.ts'), "import { create } from 'webgpu';\nconsole.log(create);\n");
      await expect(new BrowserBundle('a.ts', dir).get()).rejects.toThrow(/Node built-in 'node:fs'/);
      await expect(new BrowserBundle('b.ts', dir).get()).rejects.toThrow(/src\/node/);
      await expect(new BrowserBundle('c.ts', dir).get()).rejects.toThrow(/Node-only package/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // That web/ typechecks as browser code, without the Node types (web/tsconfig.json: DOM and
  // @webgpu/types only), is `npm run typecheck`'s `tsc -p web/tsconfig.json --noEmit`, which
  // .ci/run runs before the suite; this file ran the same command again (10 s of CPU).

  it('rebuilds the bundle when a source changes, and not otherwise', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lrp-bundle-'));
    try {
      writeFileSync(join(dir, 'dep.ts'), 'export const v = "first";\n');
      writeFileSync(join(dir, 'entry.ts'), 'import { v } from "./dep.ts";\nconsole.log(v);\n');
      const b = new BrowserBundle('entry.ts', dir);
      const one = await b.get();
      expect(one.code).toContain('first');
      expect(await b.get()).toBe(one);
      writeFileSync(join(dir, 'dep.ts'), 'export const v = "second";\n');
      const future = new Date(Date.now() + 5000);
      utimesSync(join(dir, 'dep.ts'), future, future);
      const two = await b.get();
      expect(two).not.toBe(one);
      expect(two.code).toContain('second');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const INDEX = ZENNIT_INDEX;
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  console.warn(`browser test: no Chromium at ${CHROMIUM}; skipping the headless-browser tests (run scripts/setup-browser.sh, or set LRP_CHROMIUM)`);
}
const models: string[] = haveChromium && haveShared('browser test: zennit reference vectors', INDEX)
  ? JSON.parse(readFileSync(sharedPath(INDEX), 'utf8'))
  : [];
/**
 * SwiftShader compiles each new pipeline slowly (20 to 45 s for a new family of kernels on two
 * cores; running them takes under a second), and the Node suite already checks every case on
 * every model. So by default one model runs (caffenet-tiny: grouped convolutions and LRN) with
 * cases that cover the kernel families: z, epsilon, alpha-beta with flat, and a gradient
 * method, about two minutes. LRP_BROWSER_CASES=all runs every case; LRP_BROWSER_MODELS=all every
 * model (or give a comma-separated list of either).
 */
const QUICK_CASES = ['z/onehot', 'epsilon-0.25/logit', 'cmp-alpha2-flat/logit', 'gradient-x-input/onehot'];
const browserModels: string[] = (() => {
  const want = process.env.LRP_BROWSER_MODELS;
  if (want === 'all') return models;
  if (want) return want.split(',').map((s) => s.trim()).filter((m) => models.includes(m));
  return models.length ? [models.includes('caffenet-tiny') ? 'caffenet-tiny' : models[0]] : [];
})();
const wantCases = process.env.LRP_BROWSER_CASES;
const runCase = (c: ZennitCase): boolean => {
  if (wantCases === 'all') return true;
  const list = wantCases ? wantCases.split(',').map((s) => s.trim()) : QUICK_CASES;
  return list.includes(c.name) || list.includes(`${c.name}/${c.init}`);
};

describe.skipIf(!haveChromium || browserModels.length === 0)('lrp web in headless Chromium', () => {
  const gpu = useGpu();
  let server: WebServer;
  let browser: Browser;
  let page: Page;
  let adapter = '';
  const pageLog: string[] = [];
  const report: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    server = await startWebServer({ port: 0 });
    // playwright-core starts Chromium with a fresh temporary --user-data-dir of its own and removes it on close.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => pageLog.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => pageLog.push(`pageerror: ${e.message}`));
    await page.goto(server.url);
    const ready = await page.evaluate(() => (window as unknown as { lrpTest: { ready: Promise<{ adapter: string | null; error: string | null }> } }).lrpTest.ready);
    if (!ready.adapter) {
      throw new Error(`Chromium (${CHROMIUM} ${CHROMIUM_ARGS.join(' ')}) found no WebGPU adapter: ${ready.error}`);
    }
    adapter = ready.adapter;
    console.log(`browser test: ${await browser.version()} on WebGPU adapter ${adapter}`);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (report.length) {
      mkdirSync(OUT_DIR, { recursive: true });
      writeFileSync(join(OUT_DIR, 'browser-vs-node.json'), `${JSON.stringify({ adapter, cases: report }, null, 1)}\n`);
    }
  });

  const explainInPage = (req: Record<string, unknown>) => page.evaluate(
    (r) => (window as unknown as { lrpTest: { explain(x: unknown): Promise<{ relevance: string; logits: number[]; targets: number[]; ms: number }> } }).lrpTest.explain(r),
    req,
  );

  /** Per model: the graph, input and forward pass in Node, made once for all its cases. */
  const nodeRuns = new Map<string, Promise<{ graph: Graph; fm: ForwardModel; acts: Activations }>>();
  afterAll(async () => {
    for (const p of nodeRuns.values()) {
      const run = await p.catch(() => null);
      run?.acts.release();
      run?.fm.destroy();
    }
  });
  const nodeRun = (m: string, modelBytes: Uint8Array, input: { shape: number[]; data: Float32Array }) => {
    let p = nodeRuns.get(m);
    if (!p) {
      p = (async () => {
        const graph = importOnnx(modelBytes, { source: `${m}/model.onnx` });
        const fm = await ForwardModel.create(gpu.ctx, graph);
        return { graph, fm, acts: await fm.forward(input.data, input.shape[0]) };
      })();
      nodeRuns.set(m, p);
    }
    return p;
  };

  it('first visit: the demo image explained by itself, colour bar, downloads, composites side by side (test-output/web-first-visit.png)', async () => {
    if (!existsSync(join(ROOT, 'models/demo/demo.onnx')) || !existsSync(join(ROOT, 'models/demo/demo.png'))) {
      console.warn('browser test: models/demo/demo.onnx or demo.png is absent; skipping the first-visit test');
      return;
    }
    // The page beforeAll opened is the first visit: nothing has been clicked or explained on it
    // yet (this test runs first). A page of its own would compile every pipeline of the demo model
    // in SwiftShader a second time, minutes of CPU beside what the shared page's start-up already
    // compiled (the demo runs by itself there too).
    const p = page;
    await p.setViewportSize({ width: 1280, height: 1100 });
    try {
      const log = pageLog;
      // Nothing clicked: the demo model and image load and the relevance pass runs.
      await expect.poll(() => p.locator('#status').textContent(), { timeout: 400_000, interval: 1000 }).toMatch(/^done in/);
      expect(await p.locator('#error').isVisible(), `${await p.locator('#error-text').textContent()}\n${log.join('\n')}`).toBe(false);
      expect(await p.locator('#input-info').textContent()).toMatch(/^demo\.png: 64×64 image$/);
      // The demo image is a cross; the model's top class is named from demo.labels.txt.
      expect(await p.locator('#top-classes tbody tr.target').textContent()).toMatch(/cross/);
      const stats = await heatmapCanvasStats(p);
      expect([stats.width, stats.height]).toEqual([64, 64]);
      expect(stats.colours).toBeGreaterThan(30);
      expect(await p.locator('#colorbar svg linearGradient stop').count()).toBeGreaterThan(30);
      expect(await p.locator('#scale-text').textContent()).toMatch(/bwr, signed: colours span ±the 99\.5th percentile of \|R\|/);
      // Downloads: the PNG of the heatmap and the relevance as a 1×3×64×64 float32 .npy.
      await expect.poll(() => p.locator('#download-png').isVisible()).toBe(true);
      expect(await p.locator('#download-png').getAttribute('download')).toBe('demo.cmp-alpha2-flat.png');
      expect(await p.locator('#download-npy').getAttribute('download')).toBe('demo.cmp-alpha2-flat.npy');
      // Downloaded as a user would: click the link, read the file.
      const [npyDownload] = await Promise.all([p.waitForEvent('download'), p.click('#download-npy')]);
      expect(npyDownload.suggestedFilename()).toBe('demo.cmp-alpha2-flat.npy');
      const parsed = parseNpy(new Uint8Array(readFileSync((await npyDownload.path())!)), 'download');
      expect(parsed.shape).toEqual([1, 3, 64, 64]);
      expect(npyToFloat32(parsed).some((v) => v !== 0)).toBe(true);
      const [pngDownload] = await Promise.all([p.waitForEvent('download'), p.click('#download-png')]);
      const png = readFileSync((await pngDownload.path())!);
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      // Another colour map redraws without recomputing.
      await p.selectOption('#cmap', 'seismic');
      expect(await p.locator('#scale-text').textContent()).toMatch(/^\(seismic/);
      // Two composites side by side.
      await p.evaluate(() => {
        for (const b of document.querySelectorAll<HTMLInputElement>('#compare-presets input')) b.checked = b.value === 'cmp-alpha2-flat' || b.value === 'lrp-alpha2beta1';
      });
      await p.click('#compare-run');
      await expect.poll(() => p.locator('#compare-grid figure').count(), { timeout: 400_000, interval: 1000 }).toBe(2);
      const captions = (await p.locator('#compare-grid figcaption').allTextContents()).sort();
      expect(captions[0]).toMatch(/^cmp-alpha2-flat: class 4, sum of R /);
      expect(captions[1]).toMatch(/^lrp-alpha2beta1: class 4, sum of R /);
      mkdirSync(OUT_DIR, { recursive: true });
      await p.screenshot({ path: join(OUT_DIR, 'web-first-visit.png'), fullPage: true });
      console.log(`browser test: first visit, screenshot ${join(OUT_DIR, 'web-first-visit.png')}`);
    } finally {
      // Back to what the later tests of this page were written against: bwr, the first viewport.
      await p.selectOption('#cmap', 'bwr');
      await p.setViewportSize({ width: 1280, height: 900 });
    }
  }, 900_000);

  for (const m of browserModels) {
    const dir = sharedPath(`testvectors/zennit/${m}/`);
    const spec = JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as ZennitCaseFile;
    for (const c of spec.cases.filter(runCase)) {
      it(`${m}: ${c.name} (${c.init}) in the page matches zennit and Node`, async () => {
        const modelBytes = new Uint8Array(readFileSync(dir + spec.model));
        const input = npy(dir + spec.input);
        const r = await explainInPage({
          model: base64Of(modelBytes), modelName: `${m}/${spec.model}`,
          input: { shape: input.shape, data: base64Of(input.data) },
          composite: c.composite, targets: c.target, init: c.init,
        });
        const browserRel = floatsOf(r.relevance);
        const { graph, fm, acts } = await nodeRun(m, modelBytes, input);
        const explainer = await Explainer.create(fm, resolveComposite(parseComposite(c.composite, `${m}: ${c.name}`), graph));
        let nodeRel: Float32Array;
        try {
          nodeRel = (await explainer.explainActivations(acts, { targets: c.target, init: c.init })).relevance;
        } finally {
          explainer.destroy();
        }
        const ref = npy(dir + c.expected).data;
        const vsRef = relL2(browserRel, ref);
        const vsNode = relL2(browserRel, nodeRel);
        const nodeVsRef = relL2(nodeRel, ref);
        const logitErr = relL2(r.logits, npy(dir + spec.logits).data);
        report.push({ model: m, case: c.name, init: c.init, tolerance: c.tolerance, browserVsZennit: vsRef, browserVsNode: vsNode, nodeVsZennit: nodeVsRef, logits: logitErr, ms: r.ms });
        console.log(`${m}: ${c.name} (${c.init}): browser vs zennit ${vsRef.toExponential(2)}, browser vs Node ${vsNode.toExponential(2)}, `
          + `Node vs zennit ${nodeVsRef.toExponential(2)} (tolerance ${c.tolerance}); logits vs zennit ${logitErr.toExponential(1)}; ${r.ms.toFixed(0)} ms in the page`);
        expect(r.targets).toEqual(c.target);
        expect(await page.locator('#error').isVisible(), await page.locator('#error').textContent() ?? '').toBe(false);
        expect(logitErr).toBeLessThanOrEqual(1e-4);
        expect(vsRef).toBeLessThanOrEqual(c.tolerance);
        expect(vsNode).toBeLessThanOrEqual(c.tolerance);
      });
    }
  }

  // The modern architectures of issue 23 in the page, against their float64 references
  // (../shared/testvectors/modern/). By default the ViT (LayerNorm, attention's batched products and
  // softmax, slices, the class token: every transformer kernel family) under lrp-z; about as many
  // new SwiftShader pipelines as the residual case below. LRP_BROWSER_MODERN=MODEL/CASE/INIT[,...]
  // picks others (e.g. efficientnet-tiny/cmp-alpha2-flat/logit, convnext-tiny/gradient/onehot).
  const modernCases = (process.env.LRP_BROWSER_MODERN ?? 'vit-tiny/z/onehot').split(',').map((x) => x.trim().split('/'));
  for (const [mm, mc, mi] of modernCases) {
    it.skipIf(!haveShared('browser test: modern reference vectors', `testvectors/modern/${mm}/cases.json`))(
      `${mm} (modern): ${mc} (${mi}) in the page matches the float64 reference`, async () => {
        const dir = sharedPath(`testvectors/modern/${mm}/`);
        const spec = JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as ZennitCaseFile;
        const c = spec.cases.find((x) => x.name === mc && x.init === mi);
        if (!c) throw new Error(`LRP_BROWSER_MODERN: ${mm} has no case ${mc} (${mi})`);
        const modelBytes = new Uint8Array(readFileSync(dir + spec.model));
        const input = npy(dir + spec.input);
        const r = await explainInPage({
          model: base64Of(modelBytes), modelName: `${mm}/${spec.model}`,
          input: { shape: input.shape, data: base64Of(input.data) },
          composite: c.composite, targets: c.target, init: c.init,
        });
        const vsRef = relL2(floatsOf(r.relevance), npy(dir + c.expected).data);
        const logitErr = relL2(r.logits, npy(dir + spec.logits).data);
        console.log(`${mm}: ${mc} (${mi}) in the page: relevance vs float64 ${vsRef.toExponential(2)} (tolerance ${c.tolerance}), `
          + `logits ${logitErr.toExponential(1)}; ${r.ms.toFixed(0)} ms`);
        expect(await page.locator('#error').isVisible(), await page.locator('#error').textContent() ?? '').toBe(false);
        expect(r.targets).toEqual(c.target);
        expect(logitErr).toBeLessThanOrEqual(1e-4);
        expect(vsRef).toBeLessThanOrEqual(c.tolerance);
      }, 900_000);
  }

  // A residual network in the page, against Node on the same canonized graph (zennit's own LRP
  // numbers differ by its BatchNorm-merge factor, see test/helpers/zennit.ts). By default
  // resnet-basic with gradient x input: the skip sums' kernels are the only new pipelines, the rest
  // is shared with the cases above. LRP_BROWSER_RESIDUAL=mobilenet-v2-tiny/cmp-alpha2-flat/logit
  // (MODEL/CASE/INIT) picks another: that one also folds BatchNorm, runs ReLU6 and depthwise
  // convolutions, and costs about three minutes of SwiftShader compiles on two cores.
  const [residual, residualCase, residualInit] = (process.env.LRP_BROWSER_RESIDUAL ?? 'resnet-basic/gradient-x-input/onehot').split('/');
  it.skipIf(!haveShared('browser test: zennit-residual vectors', `testvectors/zennit-residual/${residual}/cases.json`))(
    `${residual} (zennit-residual): ${residualCase} (${residualInit}) in the page matches Node`, async () => {
      const dir = sharedPath(`testvectors/zennit-residual/${residual}/`);
      const spec = JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as ZennitCaseFile;
      const c = spec.cases.find((x) => x.name === residualCase && x.init === residualInit);
      if (!c) throw new Error(`LRP_BROWSER_RESIDUAL: ${residual} has no case ${residualCase} (${residualInit})`);
      const modelBytes = new Uint8Array(readFileSync(dir + spec.model));
      const input = npy(dir + spec.input);
      const r = await explainInPage({
        model: base64Of(modelBytes), modelName: `${residual}/${spec.model}`,
        input: { shape: input.shape, data: base64Of(input.data) },
        composite: c.composite, targets: c.target, init: c.init,
      });
      const { graph, fm, acts } = await nodeRun(residual, modelBytes, input);
      const explainer = await Explainer.create(fm, resolveComposite(parseComposite(c.composite, `${residual}: ${c.name}`), graph));
      let nodeRel: Float32Array;
      try {
        nodeRel = (await explainer.explainActivations(acts, { targets: c.target, init: c.init })).relevance;
      } finally {
        explainer.destroy();
      }
      const vsNode = relL2(floatsOf(r.relevance), nodeRel);
      const logitErr = relL2(r.logits, npy(dir + spec.logits).data);
      console.log(`${residual}: ${c.name} (${c.init}): browser vs Node ${vsNode.toExponential(2)}; logits vs zennit ${logitErr.toExponential(1)}; ${r.ms.toFixed(0)} ms in the page`);
      expect(await page.locator('#error').isVisible(), await page.locator('#error').textContent() ?? '').toBe(false);
      expect(logitErr).toBeLessThanOrEqual(1e-4);
      expect(vsNode).toBeLessThanOrEqual(1e-4);
    },
  );

  it('shows a heatmap (screenshot in test-output/browser.png)', async () => {
    const m = browserModels[0];
    const dir = sharedPath(`testvectors/zennit/${m}/`);
    const spec = JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as ZennitCaseFile;
    const input = npy(dir + spec.input);
    await explainInPage({
      model: base64Of(new Uint8Array(readFileSync(dir + spec.model))), modelName: `${m}/${spec.model}`,
      input: { shape: input.shape, data: base64Of(input.data) },
      composite: 'cmp-alpha2-flat', targets: 'predicted', init: 'logit', overlay: false,
    });
    expect(await page.locator('#error').isVisible()).toBe(false);
    // The heatmap canvas holds the model's input size and is not one flat colour.
    const stats = await heatmapCanvasStats(page);
    expect([stats.height, stats.width]).toEqual(input.shape.slice(2));
    expect(stats.colours).toBeGreaterThan(20);
    expect(await page.locator('#top-classes tbody tr').count()).toBeGreaterThanOrEqual(5);
    mkdirSync(OUT_DIR, { recursive: true });
    const path = join(OUT_DIR, 'browser.png');
    await page.screenshot({ path, fullPage: true });
    console.log(`browser test: screenshot ${path}`);
    if (pageLog.length) console.log(`browser console:\n  ${pageLog.slice(-20).join('\n  ')}`);
  });

  it('explains an image picked with the file pickers, model and all', async () => {
    const m = browserModels[0];
    const dir = sharedPath(`testvectors/zennit/${m}/`);
    const images = sharedPath('data/imagenet-val-sample/images/');
    if (!existsSync(images)) {
      console.warn(`browser test: ${images} is absent; skipping the image part`);
      return;
    }
    const jpeg = join(images, readdirSync(images).filter((n) => /\.jpe?g$/i.test(n)).sort()[0]);
    await page.setInputFiles('#model-file', join(dir, 'model.onnx'));
    await expect.poll(() => page.locator('#model-info').textContent()).toMatch(/^model\.onnx: \d+ layers/);
    await page.setInputFiles('#input-file', jpeg);
    // Loading the model re-ran the previous test's .npy input, whose "done in" may still stand
    // when the image's run has not started yet: wait for what only the image's run writes (the
    // note on the guessed preprocessing), then for its status.
    await expect.poll(() => page.locator('#notes').textContent(), { timeout: 180_000 }).toMatch(/without a preprocessing spec/);
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 120_000 }).toMatch(/^done in/);
    expect(await page.locator('#error').isVisible()).toBe(false);
    const [h, w] = npy(dir + JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')).input).shape.slice(2);
    const sizes = await page.evaluate(() => ['input-canvas', 'heatmap-canvas'].map((id) => {
      const c = document.getElementById(id) as HTMLCanvasElement;
      return [c.height, c.width];
    }));
    expect(sizes).toEqual([[h, w], [h, w]]);
    await page.screenshot({ path: join(OUT_DIR, 'browser-image.png'), fullPage: true });
  });

  it('puts errors on the page: a bad composite, an unsupported operator', async () => {
    const errorBox = page.locator('#error');
    // A composite with a typo in a rule name, through the JSON textarea and the Explain button.
    await page.selectOption('#preset', 'custom');
    await page.fill('#composite-json', '{"rules": [{"layers": "conv", "rule": "alpha-bta", "alpha": 2, "beta": 1}]}');
    await page.click('#run');
    await expect.poll(() => errorBox.isVisible()).toBe(true);
    expect(await page.locator('#error-title').textContent()).toBe('Bad composite');
    expect(await page.locator('#error-text').textContent()).toMatch(/composite JSON.*alpha-bta/s);

    // A model with an operator the importer does not know, dropped on the page.
    const hardmax = modelProto({
      nodes: [node('Hardmax', ['x'], ['y'])],
      inputs: [{ name: 'x', dims: [1, 3, 4, 4] }],
      outputs: [{ name: 'y', dims: [1, 3, 4, 4] }],
    });
    await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'hardmax.onnx', { type: 'application/octet-stream' }));
      document.body.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, base64Of(hardmax));
    await expect.poll(() => page.locator('#error-text').textContent()).toMatch(/unsupported operator Hardmax/);
    expect(await errorBox.isVisible()).toBe(true);
  });

  it('preloads the demo model with its preprocessing, labels and image when models/demo/ has them', async () => {
    // A stand-in repository whose models/demo/ holds caffenet-tiny, so this runs before the real demo exists.
    const root = mkdtempSync(join(tmpdir(), 'lrp-demo-'));
    let demo: WebServer | undefined;
    const context = await browser.newContext();
    try {
      for (const d of ['web', 'src', 'shaders', 'node_modules']) symlinkSync(join(ROOT, d), join(root, d));
      const demoDir = join(root, 'models', 'demo');
      mkdirSync(demoDir, { recursive: true });
      const dir = sharedPath(`testvectors/zennit/${browserModels[0]}/`);
      const spec = JSON.parse(readFileSync(`${dir}cases.json`, 'utf8')) as ZennitCaseFile;
      const [c, h, w] = npy(dir + spec.input).shape.slice(1);
      expect(c).toBe(3);
      copyFileSync(dir + spec.model, join(demoDir, 'demo.onnx'));
      writeFileSync(join(demoDir, 'demo.onnx.json'), JSON.stringify({ size: [h, w], channels: 'RGB', scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], resize: 'shorter-side-crop' }));
      const logits = npy(dir + spec.logits);
      writeFileSync(join(demoDir, 'labels.txt'), Array.from({ length: logits.shape[1] }, (_, i) => `label number ${i}`).join('\n'));
      const images = sharedPath('data/imagenet-val-sample/images/');
      const haveImage = existsSync(images);
      if (haveImage) copyFileSync(join(images, readdirSync(images).filter((n) => /\.jpe?g$/i.test(n)).sort()[0]), join(demoDir, 'demo.jpg'));
      demo = await startWebServer({ port: 0, root });
      expect(demo.notes).toContain('demo model: models/demo/demo.onnx');
      const p = await context.newPage();
      await p.goto(demo.url);
      await expect.poll(() => p.locator('#model-info').textContent())
        .toMatch(new RegExp(`^demo\\.onnx: \\d+ layers, input 3×${h}×${w}, ${logits.shape[1]} classes; preprocessing from demo/demo\\.onnx\\.json; ${logits.shape[1]} labels`));
      // The relevance pass then starts by itself; it is not awaited (a new page compiles every pipeline anew).
      if (haveImage) await expect.poll(() => p.locator('#input-info').textContent()).toMatch(/^demo\.jpg: \d+×\d+ image$/);
      expect(await p.locator('#error').isVisible()).toBe(false);
    } finally {
      await context.close();
      await demo?.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('shows a gallery written by lrp eval --gallery (test-output/gallery.png)', async () => {
    const demoModel = join(ROOT, 'models/demo/demo.onnx');
    if (!existsSync(demoModel)) {
      console.warn('browser test: models/demo/demo.onnx is absent; skipping the gallery test');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'lrp-gallery-'));
    try {
      writeSynthDataset(join(dir, 'data'), { images: 6, size: 64, seed: 1, split: 'test' });
      const model = loadEvalModel(demoModel);
      const ds = await openDataset(`voc:${join(dir, 'data')}`, { labels: join(dir, 'data', 'classes.txt') });
      const analyzers = loadAnalyzers(['cmp-alpha2-flat', 'lrp-z'], model.graph, model.preprocess);
      const page = await writeGallery({
        gpu: gpu.gpu, graph: model.graph, preprocess: model.preprocess, analyzers, samples: pickGallery(ds.samples, 3, 0),
        classNames: ds.classNames, out: join(dir, 'gallery'), render: { cmap: 'bwr', mode: 'signed', clip: 99.5, overlay: false },
      });
      const context = await browser.newContext();
      try {
        const p = await context.newPage();
        await p.goto(`file://${page}`);
        // Three rows of the image and two heatmaps, every picture decoded, and the colour bar.
        expect(await p.locator('table tr').count()).toBe(4);
        const sizes = await p.evaluate(() => [...document.images].map((i) => i.naturalWidth));
        expect(sizes).toHaveLength(9);
        expect(sizes.every((w) => w === 192)).toBe(true); // 64 px enlarged 3 times
        expect(await p.locator('svg linearGradient stop').count()).toBeGreaterThan(30);
        expect(await p.locator('body').textContent()).toMatch(/±the 99\.5th percentile of \|R\|/);
        mkdirSync(OUT_DIR, { recursive: true });
        await p.screenshot({ path: join(OUT_DIR, 'gallery.png'), fullPage: true });
      } finally {
        await context.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);

  it('says so on the page when the browser has no WebGPU', async () => {
    const context = await browser.newContext();
    try {
      await context.addInitScript(() => {
        Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
      });
      const p = await context.newPage();
      await p.goto(server.url);
      await expect.poll(() => p.locator('#error').isVisible()).toBe(true);
      expect(await p.locator('#error-title').textContent()).toBe('No WebGPU');
      expect(await p.locator('#error-text').textContent()).toMatch(/no WebGPU.*--enable-unsafe-webgpu/s);
    } finally {
      await context.close();
    }
  });
});
