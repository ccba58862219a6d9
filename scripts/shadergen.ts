/**
 * `npm run shaders`: rewrites the generated regions of the WGSL files under shaders/ (see
 * scripts/shadergen/regions.ts for the markers, snippets.ts for what they hold), then the module
 * that embeds every WGSL file for bundlers (scripts/shadergen/embed.ts). With --check it writes
 * nothing and fails, listing the files, when any would change (the test suite runs that).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBED_PATH, embedModule } from './shadergen/embed.ts';
import { fillRegions } from './shadergen/regions.ts';

export const SHADERS_DIR = fileURLToPath(new URL('../shaders/', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));

function wgslFiles(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? wgslFiles(p) : p.endsWith('.wgsl') ? [p] : [];
  });
}

export interface ShaderGenResult {
  /** Path under shaders/. */
  readonly file: string;
  readonly regions: number;
  readonly current: string;
  readonly generated: string;
}

/** What the generator would write for every WGSL file under `dir` (nothing is written). */
export function generateShaders(dir: string = SHADERS_DIR): ShaderGenResult[] {
  return wgslFiles(dir).map((path) => {
    const file = relative(dir, path);
    const current = readFileSync(path, 'utf8');
    const { text, regions } = fillRegions(current, `shaders/${file}`);
    return { file, regions, current, generated: text };
  });
}

/** The embedding module as the generator would write it from `results`, and as it is on disk. */
export function generateEmbedding(results: readonly ShaderGenResult[], root: string = ROOT): { path: string; current: string | null; generated: string } {
  const path = join(root, EMBED_PATH);
  return {
    path: EMBED_PATH,
    current: existsSync(path) ? readFileSync(path, 'utf8') : null,
    generated: embedModule(results.map((r) => ({ file: r.file, text: r.generated }))),
  };
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const results = generateShaders();
  const stale = results.filter((r) => r.generated !== r.current);
  const embed = generateEmbedding(results);
  const staleFiles = [...stale.map((r) => `shaders/${r.file}`), ...(embed.generated !== embed.current ? [embed.path] : [])];
  const regions = results.reduce((n, r) => n + r.regions, 0);
  if (check) {
    if (staleFiles.length === 0) {
      console.log(`shaders: ${regions} generated regions in ${results.filter((r) => r.regions).length} files and ${embed.path} are up to date`);
      return 0;
    }
    console.error(`shaders: these differ from what \`npm run shaders\` writes: ${staleFiles.join(', ')}`);
    return 1;
  }
  for (const r of stale) writeFileSync(join(SHADERS_DIR, r.file), r.generated);
  if (embed.generated !== embed.current) writeFileSync(join(ROOT, embed.path), embed.generated);
  console.log(`shaders: ${regions} generated regions; rewrote ${staleFiles.length ? staleFiles.join(', ') : 'nothing (all up to date)'}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
