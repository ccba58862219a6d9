/**
 * The server of `lrp web`: the page (web/), its script bundled from TypeScript in memory, the
 * WGSL files of shaders/ (the very files Node reads, fetched by the page at run time), and the
 * demo model when models/demo/demo.onnx exists.
 *
 * It listens on the loopback interface only and answers only requests whose Host header names
 * the loopback (so a web page elsewhere cannot reach it through DNS rebinding).
 * models/demo/ may hold trained siblings of the demo model (`demo-NAME.onnx` with its
 * `demo-NAME.onnx.json`: the EfficientNet and the ViT of training/train_demo.py); the manifest lists
 * them as examples, which share the demo's labels and image. Read-only: GET
 * and HEAD, a fixed set of paths, no directory listings, nothing outside shaders/ and web/.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative, resolve, sep } from 'node:path';
import { BrowserBundle, REPO_ROOT } from './bundle.ts';

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';

/** The demo model and what may lie beside it, relative to the repository root. */
export const DEMO_DIR = 'models/demo';
const DEMO_MODEL = 'demo.onnx';
const DEMO_PREPROCESS = 'demo.onnx.json';
const DEMO_LABELS = ['demo.labels.txt', 'demo.labels.json', 'labels.txt', 'labels.json', 'synset_words.txt'];
/** An example image for the demo model, preloaded with it when one of these exists. */
const DEMO_IMAGES = ['demo.png', 'demo.jpg', 'demo.jpeg', 'demo.webp', 'example.png', 'example.jpg', 'example.jpeg', 'sample.png', 'sample.jpg'];

export interface WebServerOptions {
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** A loopback address: 127.0.0.1 (default), ::1 or localhost. Anything else is refused. */
  host?: string;
  /** The repository root to serve from (tests only). */
  root?: string;
  /** One line per request, for `--verbose`. */
  log?: (line: string) => void;
}

export interface WebServer {
  /** e.g. http://127.0.0.1:8080/ */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** What the server found at start: bundle times and the demo model, one line each. */
  readonly notes: readonly string[];
  close(): Promise<void>;
}

/** The demo files that exist, as the page's manifest (`/demo/manifest.json`). */
export interface DemoManifest {
  /** URL of the model, or null when models/demo/demo.onnx does not exist (yet). */
  model: string | null;
  preprocess: string | null;
  labels: string | null;
  /** An example image to preload with the model. */
  image: string | null;
  /** Why there is no demo, for the page to show. */
  note: string | null;
  /** Every example model, the demo first: its name, model URL and preprocessing URL. */
  examples: DemoExample[];
}

export interface DemoExample {
  readonly name: string;
  readonly model: string;
  readonly preprocess: string | null;
}

/** The demo model's trained siblings; nothing else under models/ is served. */
const EXAMPLE_MODEL = /^demo-[a-z0-9]+\.onnx$/;

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

/** Whether `host` is a loopback address (127.0.0.0/8, ::1) or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function hostHeaderIsLoopback(header: string | undefined): boolean {
  if (!header) return false;
  const name = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.split(':')[0];
  return isLoopbackHost(name);
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
};

// Scripts and styles come from this server only; images may be blobs/data URLs made by the page.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
  + "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export async function startWebServer(opts: WebServerOptions = {}): Promise<WebServer> {
  const root = opts.root ?? REPO_ROOT;
  const host = opts.host ?? DEFAULT_HOST;
  const port = opts.port ?? DEFAULT_PORT;
  if (!isLoopbackHost(host)) {
    throw new Error(`--host ${host}: lrp web serves on the loopback interface only (127.0.0.1, ::1 or localhost); `
      + 'to reach it from another machine, forward a port over SSH (ssh -L 8080:127.0.0.1:8080 ...)');
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${port}`);

  const webDir = join(root, 'web');
  const shaderDir = join(root, 'shaders');
  const demoDir = join(root, DEMO_DIR);
  if (!existsSync(join(webDir, 'index.html'))) throw new Error(`${webDir}/index.html is missing`);
  const page = new BrowserBundle('web/main.ts', root);
  const core = new BrowserBundle('src/index.ts', root);
  // Bundle now, so a page that cannot build fails `lrp web` at once rather than in the browser.
  const [pageBundle, coreBundle] = await Promise.all([page.get(), core.get()]);
  const notes = [
    `bundled web/main.ts (${pageBundle.inputs.length} files, ${(pageBundle.code.length / 1024).toFixed(0)} KiB) in ${pageBundle.buildMs.toFixed(0)} ms`,
    `bundled the core src/index.ts as /lrp.js (${coreBundle.inputs.length} files) in ${coreBundle.buildMs.toFixed(0)} ms`,
  ];
  const demo = demoManifest(demoDir);
  notes.push(demo.model ? `demo model: ${DEMO_DIR}/${DEMO_MODEL}` : `no demo model: ${demo.note}`);

  const send = (res: ServerResponse, status: number, body: string | Uint8Array, type: string, head: boolean) => {
    res.writeHead(status, {
      'content-type': type,
      'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
      'content-security-policy': CSP,
    });
    res.end(head ? undefined : body);
  };
  const fail = (res: ServerResponse, status: number, message: string, head: boolean) =>
    send(res, status, `${message}\n`, TYPES['.txt'], head);

  /** A file inside `dir` by a URL path below it; null when it is missing or escapes `dir`. */
  const fileIn = async (dir: string, rel: string): Promise<Uint8Array | null> => {
    if (rel.includes('\0')) return null;
    const path = resolve(dir, rel);
    if (!(path + sep).startsWith(resolve(dir) + sep) || path === resolve(dir)) return null;
    try {
      // Symbolic links must not lead out either.
      const real = await realpath(path);
      const realDir = await realpath(dir);
      if (relative(realDir, real).startsWith('..')) return null;
      return new Uint8Array(await readFile(real));
    } catch {
      return null;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === 'HEAD';
    if (!hostHeaderIsLoopback(req.headers.host)) return fail(res, 421, 'this server answers only to localhost / 127.0.0.1', head);
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      return fail(res, 405, `${req.method} is not allowed`, head);
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return fail(res, 400, 'bad URL', head);
    }
    if (path === '/' || path === '/index.html') {
      return send(res, 200, await readFile(join(webDir, 'index.html'), 'utf8'), TYPES['.html'], head);
    }
    if (path === '/style.css') return send(res, 200, await readFile(join(webDir, 'style.css'), 'utf8'), TYPES['.css'], head);
    if (path === '/main.js') return send(res, 200, (await page.get()).code, TYPES['.js'], head);
    if (path === '/lrp.js') return send(res, 200, (await core.get()).code, TYPES['.js'], head);
    if (path.startsWith('/shaders/') && path.endsWith('.wgsl')) {
      const body = await fileIn(shaderDir, path.slice('/shaders/'.length));
      return body ? send(res, 200, body, TYPES['.wgsl'], head) : fail(res, 404, `no shader ${path}`, head);
    }
    if (path === '/demo/manifest.json') return send(res, 200, JSON.stringify(demoManifest(demoDir)), TYPES['.json'], head);
    if (path.startsWith('/demo/')) {
      const name = path.slice('/demo/'.length);
      // Only the files the manifest can name: nothing else under models/ is served.
      const example = EXAMPLE_MODEL.test(name) || EXAMPLE_MODEL.test(name.replace(/\.json$/, ''));
      if (name === DEMO_MODEL || name === DEMO_PREPROCESS || DEMO_LABELS.includes(name) || DEMO_IMAGES.includes(name) || example) {
        const body = await fileIn(demoDir, name);
        if (body) return send(res, 200, body, TYPES[extname(name)] ?? 'application/octet-stream', head);
      }
      return fail(res, 404, `no demo file ${name}`, head);
    }
    if (path === '/favicon.ico') {
      res.writeHead(204, { 'cache-control': 'no-store' });
      return res.end();
    }
    return fail(res, 404, `not found: ${path}`, head);
  };

  const server: Server = createServer((req, res) => {
    const t0 = performance.now();
    res.on('finish', () => opts.log?.(`${req.method} ${req.url} ${res.statusCode} ${(performance.now() - t0).toFixed(0)} ms`));
    handle(req, res).catch((e: unknown) => {
      const msg = (e as Error).message ?? String(e);
      opts.log?.(`error: ${msg}`);
      if (!res.headersSent) fail(res, 500, msg, req.method === 'HEAD');
      else res.destroy();
    });
  });
  await new Promise<void>((ok, bad) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      bad(e.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is in use (give --port, or --port 0 for any free one)`) : e);
    });
    server.listen({ port, host, exclusive: true }, () => ok());
  });
  const addr = server.address() as AddressInfo;
  const urlHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    url: `http://${urlHost}:${addr.port}/`,
    host: addr.address,
    port: addr.port,
    notes,
    close: () => new Promise<void>((ok) => {
      server.close(() => ok());
      // Keep-alive connections (a browser's) would hold close() open: end them.
      for (const s of sockets) s.destroy();
    }),
  };
}

function demoManifest(demoDir: string): DemoManifest {
  if (!existsSync(join(demoDir, DEMO_MODEL))) {
    return { model: null, preprocess: null, labels: null, image: null, note: `${DEMO_DIR}/${DEMO_MODEL} does not exist (yet): pick or drop an .onnx model`, examples: [] };
  }
  const labels = DEMO_LABELS.find((n) => existsSync(join(demoDir, n)));
  const image = DEMO_IMAGES.find((n) => existsSync(join(demoDir, n)));
  return {
    model: `demo/${DEMO_MODEL}`,
    preprocess: existsSync(join(demoDir, DEMO_PREPROCESS)) ? `demo/${DEMO_PREPROCESS}` : null,
    labels: labels ? `demo/${labels}` : null,
    image: image ? `demo/${image}` : null,
    note: null,
    examples: [DEMO_MODEL, ...readdirSync(demoDir).filter((n) => EXAMPLE_MODEL.test(n)).sort()].map((file) => ({
      name: file.replace(/\.onnx$/, ''),
      model: `demo/${file}`,
      preprocess: existsSync(join(demoDir, `${file}.json`)) ? `demo/${file}.json` : null,
    })),
  };
}
