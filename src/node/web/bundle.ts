/**
 * In-memory browser bundles for `lrp web`: esbuild turns `web/main.ts` (the page) and
 * `src/index.ts` (the core) into single ESM files when the server starts, and again whenever one
 * of their source files changes, so there is no build step whose output can go stale.
 *
 * A guard plugin fails the build, naming the importer, when anything reaches a Node built-in,
 * Dawn (the `webgpu` package) or `src/node/`: what the browser gets is the core and nothing else.
 */
import { stat } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import * as esbuild from 'esbuild';
import { PACKAGE_ROOT } from '../package-root.ts';

/** The package root: web/ and src/ are bundled from there (a checkout, or the installed package, which ships both). */
export const REPO_ROOT = PACKAGE_ROOT;

const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
/** Packages that only work in Node: Dawn's bindings and the image decoders of src/node/. */
const NODE_ONLY_PACKAGES = new Set(['webgpu', 'sharp', 'pngjs', 'yargs', 'esbuild', 'playwright-core']);

export interface Bundle {
  /** The JavaScript, with an inline source map. */
  readonly code: string;
  /** Absolute paths of every source file in the bundle. */
  readonly inputs: readonly string[];
  readonly builtAt: Date;
  /** How long esbuild took, in milliseconds. */
  readonly buildMs: number;
}

function browserGuard(root: string): esbuild.Plugin {
  const nodeDir = resolve(root, 'src', 'node') + sep;
  return {
    name: 'webgpu-lrp-browser-guard',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point') return undefined;
        const who = args.importer ? relative(root, args.importer) : '(entry)';
        const pkg = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
        if (NODE_BUILTINS.has(args.path) || args.path.startsWith('node:') || NODE_BUILTINS.has(pkg)) {
          return { errors: [{ text: `${who} imports the Node built-in '${args.path}', which a browser does not have` }] };
        }
        if (NODE_ONLY_PACKAGES.has(pkg)) {
          return { errors: [{ text: `${who} imports '${args.path}', a Node-only package` }] };
        }
        if (args.path.startsWith('.') || isAbsolute(args.path)) {
          const target = resolve(args.resolveDir, args.path);
          if ((target + sep).startsWith(nodeDir)) {
            return { errors: [{ text: `${who} imports ${relative(root, target)}, which is Node-only (src/node/)` }] };
          }
        }
        return undefined;
      });
    },
  };
}

/**
 * One bundle, built on first use and rebuilt when any of its inputs changes (checked by
 * modification time on every `get`, a few dozen `stat`s). Concurrent calls share one build.
 */
export class BrowserBundle {
  private current: Promise<Bundle> | null = null;
  private mtimes = new Map<string, number>();

  /** `entry` is relative to `root` (e.g. `web/main.ts`). */
  constructor(readonly entry: string, readonly root: string = REPO_ROOT) {}

  async get(): Promise<Bundle> {
    const cur = this.current;
    if (cur) {
      // A failed build is retried on the next request: the source may have been fixed.
      const built = await cur.catch(() => null);
      if (built && !(await this.changed())) return built;
      if (this.current !== cur) return this.current!; // another request started the rebuild
    }
    this.current = this.build();
    return this.current;
  }

  private async changed(): Promise<boolean> {
    for (const [path, mtime] of this.mtimes) {
      try {
        if ((await stat(path)).mtimeMs !== mtime) return true;
      } catch {
        return true;
      }
    }
    return false;
  }

  private async build(): Promise<Bundle> {
    const t0 = performance.now();
    let result: esbuild.BuildResult<{ write: false; metafile: true }>;
    try {
      result = await esbuild.build({
        absWorkingDir: this.root,
        entryPoints: [this.entry],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        sourcemap: 'inline',
        sourcesContent: true,
        write: false,
        metafile: true,
        outdir: 'out',
        logLevel: 'silent',
        legalComments: 'none',
        plugins: [browserGuard(this.root)],
      });
    } catch (e) {
      const failure = e as esbuild.BuildFailure;
      const lines = (failure.errors ?? []).map((m) => {
        const at = m.location ? `${m.location.file}:${m.location.line}:${m.location.column}: ` : '';
        return `  ${at}${m.text}`;
      });
      throw new Error(`bundling ${this.entry} for the browser failed:\n${lines.length ? lines.join('\n') : String(e)}`);
    }
    const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(this.root, p));
    const mtimes = new Map<string, number>();
    for (const p of inputs) mtimes.set(p, (await stat(p)).mtimeMs);
    this.mtimes = mtimes;
    const js = result.outputFiles.find((f) => f.path.endsWith('.js'));
    if (!js) throw new Error(`bundling ${this.entry}: esbuild produced no JavaScript`);
    return { code: js.text, inputs, builtAt: new Date(), buildMs: performance.now() - t0 };
  }
}
