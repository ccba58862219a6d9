/**
 * The core (everything in src/ outside src/node/) must run in a browser: it may import only
 * other core modules and browser-safe packages, never a Node built-in, Dawn, or src/node/.
 * And nothing in src/ (src/node/ included) imports from cli/: the CLI is a thin layer over src/.
 */
import { builtinModules } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const NODE_DIR = join(SRC, 'node');
const CLI_DIR = fileURLToPath(new URL('../cli/', import.meta.url));
const BROWSER_SAFE_PACKAGES = new Set(['gl-matrix', 'fast-xml-parser']);
const NODE_BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function tsFiles(dir: string, skip?: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return p === skip ? [] : tsFiles(p, skip);
    return p.endsWith('.ts') ? [p] : [];
  });
}

const coreFiles = (dir: string): string[] => tsFiles(dir, NODE_DIR);

export function importsOf(code: string): string[] {
  const specs: string[] = [];
  // Block comments (TSDoc examples such as `import { Lrp } from 'webgpu-lrp'`) import nothing.
  code = code.replace(/\/\*[\s\S]*?\*\//g, '');
  const re = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const m of code.matchAll(re)) specs.push(m[1] ?? m[2] ?? m[3]);
  return specs;
}

describe('core stays browser-safe', () => {
  const files = coreFiles(SRC);

  it('finds the core modules', () => {
    expect(files.length).toBeGreaterThan(10);
    expect(files.some((f) => f.endsWith('forward/model.ts'))).toBe(true);
  });

  it('the import scanner sees what it must reject', () => {
    const bad = "import { readFile } from 'node:fs';\nimport x from \"fs\";\nconst m = await import('webgpu');\nexport { y } from '../node/gpu.ts';";
    expect(importsOf(bad)).toEqual(['node:fs', 'fs', 'webgpu', '../node/gpu.ts']);
    expect(importsOf(`/**\n * import { x } from 'webgpu';\n */\n${bad}`)).toEqual(['node:fs', 'fs', 'webgpu', '../node/gpu.ts']);
  });

  for (const file of files) {
    it(relative(SRC, file), () => {
      const offending: string[] = [];
      for (const spec of importsOf(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (target.startsWith(NODE_DIR) || !target.startsWith(SRC)) offending.push(`${spec} (outside the core)`);
        } else if (NODE_BUILTINS.has(spec) || spec.startsWith('node:')) {
          offending.push(`${spec} (Node built-in)`);
        } else if (!BROWSER_SAFE_PACKAGES.has(spec.split('/')[0])) {
          offending.push(`${spec} (package not known to be browser-safe)`);
        }
      }
      expect(offending, `${relative(SRC, file)} imports`).toEqual([]);
    });
  }
});

describe('src/ does not import from cli/', () => {
  const files = tsFiles(SRC);

  it('sees src/node/ too', () => {
    expect(files.some((f) => f.endsWith(join('node', 'gpu.ts')))).toBe(true);
  });

  it('the check catches an import of cli/', () => {
    expect(cliImports(join(SRC, 'node', 'demo', 'run.ts'), "import { x } from '../../../cli/commands/synth.ts';")).toEqual(['../../../cli/commands/synth.ts']);
    expect(cliImports(join(SRC, 'node', 'demo', 'run.ts'), "import { x } from '../synth-dataset.ts';")).toEqual([]);
  });

  for (const file of files) {
    it(relative(SRC, file), () => {
      expect(cliImports(file, readFileSync(file, 'utf8')), `${relative(SRC, file)} imports from cli/`).toEqual([]);
    });
  }
});

function cliImports(file: string, code: string): string[] {
  return importsOf(code).filter((spec) => spec.startsWith('.') && (resolve(dirname(file), spec) + '/').startsWith(CLI_DIR));
}

describe('web/ uses the public API only', () => {
  const WEB = fileURLToPath(new URL('../web/', import.meta.url));
  const PUBLIC = resolve(SRC, 'index.ts');
  const files = tsFiles(WEB);

  it('finds the page', () => {
    expect(files.some((f) => f.endsWith('main.ts'))).toBe(true);
  });

  for (const file of files) {
    it(`web/${relative(WEB, file)}`, () => {
      const offending = importsOf(readFileSync(file, 'utf8')).filter((spec) => {
        if (!spec.startsWith('.')) return true;
        const target = resolve(dirname(file), spec);
        return target !== PUBLIC && !target.startsWith(WEB);
      });
      expect(offending, `web/${relative(WEB, file)} imports besides src/index.ts (what 'webgpu-lrp' exports)`).toEqual([]);
    });
  }
});
