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
import { deriveVariants, isVariantFile } from './shadergen/variants.ts';

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
  /** The file as it is (null: not written yet). */
  readonly current: string | null;
  /** As the generator writes it (null: a variant no source derives; delete it). */
  readonly generated: string | null;
}

/**
 * What the generator would write for every WGSL file under `dir` (nothing is written): each
 * source with its regions filled, then the variants it derives (scripts/shadergen/variants.ts).
 * A variant file on disk that no source derives any more is reported with `generated` null.
 */
export function generateShaders(dir: string = SHADERS_DIR): ShaderGenResult[] {
  const onDisk = wgslFiles(dir).map((path) => relative(dir, path).split('\\').join('/'));
  const read = (file: string): string | null => (onDisk.includes(file) ? readFileSync(join(dir, file), 'utf8') : null);
  const results: ShaderGenResult[] = [];
  for (const file of onDisk.filter((f) => !isVariantFile(f))) {
    const current = read(file)!;
    const { text, regions } = fillRegions(current, `shaders/${file}`);
    results.push({ file, regions, current, generated: text });
    for (const v of deriveVariants(text, file)) {
      results.push({ file: v.file, regions: 0, current: read(v.file), generated: v.text });
    }
  }
  for (const file of onDisk.filter((f) => isVariantFile(f) && !results.some((r) => r.file === f))) {
    results.push({ file, regions: 0, current: read(file), generated: null });
  }
  return results.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** The embedding module as the generator would write it from `results`, and as it is on disk. */
export function generateEmbedding(results: readonly ShaderGenResult[], root: string = ROOT): { path: string; current: string | null; generated: string } {
  const path = join(root, EMBED_PATH);
  return {
    path: EMBED_PATH,
    current: existsSync(path) ? readFileSync(path, 'utf8') : null,
    generated: embedModule(results.filter((r) => r.generated !== null).map((r) => ({ file: r.file, text: r.generated! }))),
  };
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const results = generateShaders();
  const orphans = results.filter((r) => r.generated === null);
  if (orphans.length) {
    console.error(`shaders: no source derives ${orphans.map((r) => `shaders/${r.file}`).join(', ')} any more: delete ${orphans.length > 1 ? 'them' : 'it'}`);
    return 1;
  }
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
  for (const r of stale) writeFileSync(join(SHADERS_DIR, r.file), r.generated!);
  if (embed.generated !== embed.current) writeFileSync(join(ROOT, embed.path), embed.generated);
  console.log(`shaders: ${regions} generated regions; rewrote ${staleFiles.length ? staleFiles.join(', ') : 'nothing (all up to date)'}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
