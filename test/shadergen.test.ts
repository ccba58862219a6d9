/**
 * The generated regions of the WGSL files (scripts/shadergen.ts): the committed shaders are what
 * `npm run shaders` writes, and the markers fail loudly when malformed.
 */
import { describe, expect, it } from 'vitest';
import { generateEmbedding, generateShaders } from '../scripts/shadergen.ts';
import { fillRegions } from '../scripts/shadergen/regions.ts';
import { deriveVariants } from '../scripts/shadergen/variants.ts';
import { WGSL } from '../src/kernels/wgsl.generated.ts';
import { SHADER_FILES } from '../src/kernels/index.ts';

describe('npm run shaders', () => {
  it('changes nothing in the committed shaders', () => {
    const results = generateShaders();
    expect(results.reduce((n, r) => n + r.regions, 0)).toBeGreaterThanOrEqual(8);
    const stale = results.filter((r) => r.generated !== r.current).map((r) => r.file);
    expect(stale, 'files whose generated regions differ: run `npm run shaders`').toEqual([]);
  });

  it('embeds every WGSL file as it is in src/kernels/wgsl.generated.ts (what bundlers get)', () => {
    const results = generateShaders();
    const embed = generateEmbedding(results);
    expect(embed.current === embed.generated, `${embed.path} differs from shaders/: run \`npm run shaders\``).toBe(true);
    expect(Object.keys(WGSL).sort()).toEqual(results.map((r) => r.file.split('\\').join('/')).sort());
    for (const f of SHADER_FILES) expect(WGSL[f], f).toBeTypeOf('string');
  });

  it('writes a region from its marker, indented like it, and keeps the rest', () => {
    const src = 'fn f() {\n    // <generated: fold-grid columns=p.n bn=BN bm="4u * AQ">\n    stale\n    // </generated>\n  keep;\n}';
    const { text, regions } = fillRegions(src, 't.wgsl');
    expect(regions).toBe(1);
    expect(text.split('\n').slice(4, 9)).toEqual([
      '    let nTiles = (p.n + BN - 1u) / BN;',
      '    let fold = nwg.x / nTiles;',
      '    let m0 = (wid.y * fold + wid.x / nTiles) * 4u * AQ;',
      '    let n0 = (wid.x % nTiles) * BN;',
      '    if (m0 >= p.M) { return; }',
    ]);
    expect(text.endsWith('    // </generated>\n  keep;\n}')).toBe(true);
  });

  it('derives a variant file: its enable directive first, its regions regenerated with its arguments', () => {
    const src = fillRegions('// <variants: subgroups>\nfn f() {\n  // <generated: gemm-fma quads=1 channels=8>\n  // </generated>\n}', 'k/t.wgsl').text;
    expect(src).toContain('let b = tile[bRow + 1u];');
    const [v, ...more] = deriveVariants(src, 'k/t.wgsl');
    expect(more).toEqual([]);
    expect(v.file).toBe('k/t.subgroups.wgsl');
    expect(v.text.split('\n')[0]).toBe('enable subgroups;');
    expect(v.text).toContain('let b = subgroupBroadcast(bLane0, 1u);');
    expect(v.text).not.toContain('tile[bRow + 1u]');
    expect(v.text).not.toContain('<variants:');
    expect(deriveVariants('fn f() {}', 'k/u.wgsl')).toEqual([]);
    expect(() => deriveVariants('// <variants: warps>\n', 'k/w.wgsl')).toThrow(/k\/w\.wgsl: unknown variant 'warps'/);
  });

  it('names the file and line of a bad marker', () => {
    expect(() => fillRegions('a\n// <generated: nope>\n// </generated>', 't.wgsl')).toThrow(/^t\.wgsl:2: <generated: nope>: no such snippet/);
    expect(() => fillRegions('// <generated: fold-grid columns=p.n bn=BN bm=BM>\nx', 't.wgsl')).toThrow(/t\.wgsl:1: .*no '\/\/ <\/generated>' closes it/);
    expect(() => fillRegions('// </generated>', 't.wgsl')).toThrow(/t\.wgsl:1: .*without an opening marker/);
    expect(() => fillRegions('// <generated: fold-grid bn=BN bm=BM>\n// </generated>', 't.wgsl')).toThrow(/needs columns=/);
    expect(() => fillRegions('// <generated: fold-grid columns=p.n bn="a + b" bm=BM>\n// </generated>', 't.wgsl')).toThrow(/bn=a \+ b is not a product/);
    expect(() => fillRegions('// <generated: gemm-fma quads=5 channels=32>\n// </generated>', 't.wgsl')).toThrow(/quads=5 is over 4/);
  });
});
