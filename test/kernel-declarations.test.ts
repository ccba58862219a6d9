/**
 * Every kernel declaration (src/kernels/) against its WGSL file: the uniform struct's fields
 * (names, order, types), the bindings (indices, names, address space and access) and the override
 * constants (names, types), exactly; every file under shaders/ declared once, every declaration a
 * file. Plus the packer's layout and its errors.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.ts';
import { defineKernel } from '../src/gpu/kernel.ts';
import { KERNELS, SHADER_FILES } from '../src/kernels/index.ts';

const SHADERS = fileURLToPath(new URL('../shaders/', import.meta.url));

function wgslFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? wgslFiles(p) : p.endsWith('.wgsl') ? [relative(SHADERS, p)] : [];
  });
}

interface WgslInterface {
  structs: Map<string, [string, string][]>;
  bindings: { group: number; binding: number; access: string; name: string; type: string }[];
  overrides: [string, string][];
}

/** Splits on commas outside <...>, so `array<f32, 4>` stays whole. */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '<') depth++;
    if (ch === '>') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean);
}

/**
 * The host-facing part of a WGSL module, from its text: structs, `@group @binding var`s and
 * `override`s. Anything of those it cannot read (an attribute on a field, a binding written
 * another way, an override without a type) is an error rather than something skipped.
 */
export function parseWgslInterface(source: string, file: string): WgslInterface {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\/\/[^\n]*/g, '');
  const structs = new Map<string, [string, string][]>();
  for (const m of code.matchAll(/\bstruct\s+(\w+)\s*\{([^}]*)\}/g)) {
    structs.set(m[1], splitTop(m[2]).map((f) => {
      const fm = /^(\w+)\s*:\s*(\S(?:.*\S)?)$/s.exec(f);
      if (!fm) throw new Error(`${file}: struct ${m[1]}: cannot read field '${f}'`);
      return [fm[1], fm[2].replace(/\s+/g, '')];
    }));
  }
  const bindings: WgslInterface['bindings'] = [];
  for (const m of code.matchAll(/@group\((\d+)\)\s*@binding\((\d+)\)\s*var(?:<([^>]*)>)?\s+(\w+)\s*:\s*([^;]+);/g)) {
    const space = (m[3] ?? '').split(',').map((s) => s.trim());
    const access = space[0] === 'uniform' && space.length === 1 ? 'uniform'
      : space[0] === 'storage' ? (space[1] ?? 'read') : `unsupported <${m[3] ?? ''}>`;
    bindings.push({ group: Number(m[1]), binding: Number(m[2]), access, name: m[4], type: m[5].replace(/\s+/g, '') });
  }
  const seen = (code.match(/@binding\(/g) ?? []).length;
  if (seen !== bindings.length) throw new Error(`${file}: ${seen} @binding attributes, ${bindings.length} read as '@group(g) @binding(k) var<...> name: type;'`);
  const overrides: [string, string][] = [];
  for (const m of code.matchAll(/\boverride\s+(\w+)\s*(?::\s*(\w+))?\s*(?:=[^;]*)?;/g)) {
    if (!m[2]) throw new Error(`${file}: override ${m[1]} has no explicit type`);
    overrides.push([m[1], m[2]]);
  }
  const overrideWords = (code.match(/\boverride\b/g) ?? []).length;
  if (overrideWords !== overrides.length) throw new Error(`${file}: ${overrideWords} overrides, ${overrides.length} read as 'override NAME: type [= value];'`);
  return { structs, bindings, overrides };
}

describe('the WGSL interface parser', () => {
  it('reads structs, bindings and overrides, comments and all', () => {
    const w = parseWgslInterface(`
      struct Params { a: u32, // the a
        b: f32, /* c: u32, */ v: vec4<f32>, arr: array<f32, 4> }
      override RELU_IN: bool = false;
      override WG: u32;
      @group(0) @binding(0) var<uniform> p: Params;
      @group(0) @binding(1) var<storage, read> x: array<f32>;
      @group(0) @binding(2) var<storage> y: array<vec4<f32>>;
      @group(0) @binding(3) var<storage, read_write> z: array<f32>;`, 't.wgsl');
    expect(w.structs.get('Params')).toEqual([['a', 'u32'], ['b', 'f32'], ['v', 'vec4<f32>'], ['arr', 'array<f32,4>']]);
    expect(w.overrides).toEqual([['RELU_IN', 'bool'], ['WG', 'u32']]);
    expect(w.bindings.map((b) => [b.binding, b.access, b.name])).toEqual([[0, 'uniform', 'p'], [1, 'read', 'x'], [2, 'read', 'y'], [3, 'read_write', 'z']]);
  });

  it('refuses what it cannot read', () => {
    expect(() => parseWgslInterface('override WG = 64u;', 't.wgsl')).toThrow(/no explicit type/);
    expect(() => parseWgslInterface('@binding(0) @group(0) var<uniform> p: P;', 't.wgsl')).toThrow(/1 @binding attributes, 0 read/);
    expect(() => parseWgslInterface('struct P { @align(16) a: u32 }', 't.wgsl')).toThrow(/cannot read field/);
  });
});

describe('kernel declarations match their WGSL', () => {
  const files = wgslFiles(SHADERS).sort();

  it('every shader file has exactly one declaration and every declaration a file', () => {
    const declared = KERNELS.flatMap((k) => k.files);
    expect(new Set(declared).size, 'a shader declared twice').toBe(declared.length);
    expect([...declared].sort()).toEqual(files);
    expect([...SHADER_FILES].sort()).toEqual(files);
  });

  for (const [kernel, file] of KERNELS.flatMap((k) => k.files.map((f) => [k, f] as const))) {
    it(file, () => {
      const w = parseWgslInterface(readFileSync(join(SHADERS, file), 'utf8'), file);
      const declaredBindings = Object.entries(kernel.bindings);
      expect(w.bindings.map((b) => [b.group, b.binding, b.name, b.access]), 'bindings (group, index, name, access)')
        .toEqual(declaredBindings.map(([name, access], i) => [0, i, name, access]));
      const uniform = w.bindings.filter((b) => b.access === 'uniform');
      expect(uniform.length, 'one var<uniform> binding').toBe(1);
      const fields = w.structs.get(uniform[0].type);
      expect(fields, `struct ${uniform[0].type}`).toBeDefined();
      expect(fields, 'uniform struct fields (name, type), in order').toEqual(Object.entries(kernel.uniforms));
      expect(w.overrides, 'override constants (name, type), in order').toEqual(Object.entries(kernel.overrides));
    });
  }
});

describe('a kernel declaration', () => {
  const k = defineKernel({
    shader: 'test/k.wgsl',
    uniforms: { n: 'u32', off: 'i32', v: 'vec4<f32>', eps: 'f32', pair: 'vec2<u32>' },
    bindings: { p: 'uniform', x: 'read', y: 'read_write' },
    overrides: { RELU_IN: 'bool', WG: 'u32', ACCUMULATE: 'bool' },
  });

  it('lays fields out by WGSL uniform rules and packs them by name', () => {
    expect(k.layout.map((f) => [f.name, f.offset])).toEqual([['n', 0], ['off', 4], ['v', 16], ['eps', 32], ['pair', 40]]);
    expect(k.uniformBytes).toBe(48);
    const words = k.pack({ n: 7, off: -2, v: [1, 2, 3, 4], eps: 0.1, pair: [5, 6] });
    const f = new Float32Array(words.buffer);
    expect(words.length).toBe(12);
    expect([words[0], new Int32Array(words.buffer)[1], words[2], words[3]]).toEqual([7, -2, 0, 0]);
    expect([...f.subarray(4, 8)]).toEqual([1, 2, 3, 4]);
    expect(f[8]).toBe(Math.fround(0.1));
    expect([words[10], words[11]]).toEqual([5, 6]);
  });

  it('names its variants\' files and refuses a variant it does not declare', () => {
    const v = defineKernel({ shader: 'test/v.wgsl', uniforms: {}, bindings: {}, overrides: {}, variants: ['subgroups'] });
    expect(v.files).toEqual(['test/v.wgsl', 'test/v.subgroups.wgsl']);
    expect(v.file('subgroups')).toBe('test/v.subgroups.wgsl');
    expect(v.file()).toBe('test/v.wgsl');
    expect(() => k.file('subgroups')).toThrow(/^test\/k\.wgsl: has no subgroups variant \(declared: none\)/);
  });

  it('rejects missing, unknown and ill-typed fields, naming the shader', () => {
    const ok = { n: 1, off: 0, v: [0, 0, 0, 0], eps: 0, pair: [0, 0] };
    expect(() => k.pack({ ...ok, n: undefined } as never)).toThrow(/^test\/k\.wgsl: uniform fields: missing n/);
    expect(() => k.pack({ ...ok, extra: 1 } as never)).toThrow(/unknown extra/);
    expect(() => k.pack({ ...ok, n: 1.5 })).toThrow(/'n' \(u32\) must be a whole number/);
    expect(() => k.pack({ ...ok, n: -1 })).toThrow(/'n' \(u32\)/);
    expect(() => k.pack({ ...ok, eps: NaN })).toThrow(/'eps' \(f32\) must be finite/);
    expect(() => k.pack({ ...ok, v: [1, 2] })).toThrow(/'v' is vec4<f32>/);
  });

  it('binds buffers by name, in binding order', () => {
    const [a, b, c] = [{ label: 'a' }, { label: 'b' }, { label: 'c' }] as unknown as GPUBuffer[];
    expect(k.bind({ y: c, p: a, x: b })).toEqual([a, b, c]);
    expect(() => k.bind({ p: a, x: b } as never)).toThrow(/bindings: missing y/);
  });

  it('checks override constants and keeps the cache key of exactly those given', async () => {
    const calls: [string, object][] = [];
    const ctx = { pipelines: { get: async (s: string, c: object) => (calls.push([s, c]), {} as GPUComputePipeline) } } as unknown as GpuContext;
    await k.pipeline(ctx, { RELU_IN: true, WG: 64 });
    expect(calls).toEqual([['test/k.wgsl', { RELU_IN: true, WG: 64 }]]);
    await k.pipelinePair(ctx, { WG: 64 });
    expect(calls.slice(1)).toEqual([['test/k.wgsl', { WG: 64, ACCUMULATE: false }], ['test/k.wgsl', { WG: 64, ACCUMULATE: true }]]);
    expect(() => k.pipeline(ctx, { TILE: 4 } as never)).toThrow(/unknown override constant TILE/);
    expect(() => k.pipeline(ctx, { RELU_IN: 1 } as never)).toThrow(/RELU_IN is bool, got 1/);
    expect(() => k.pipeline(ctx, { WG: -64 })).toThrow(/WG is u32, got -64/);
  });
});
