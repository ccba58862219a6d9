/**
 * Kernel declarations: what one WGSL file expects from the host, stated once. A declaration names
 * the shader, its uniform struct's fields in order with their types, its bindings in order with
 * their address space and access, and its override constants with their types; ops then pack
 * uniforms from named values, bind buffers by name and ask for pipelines with checked constants,
 * so nothing positional has to match the WGSL by hand. test/kernel-declarations.test.ts parses
 * every file under shaders/ and checks each declaration against its text, field by field.
 *
 * Decisions:
 * - Field and binding order is the declaration's key order (string keys keep insertion order).
 * - The packer lays fields out by WGSL's uniform-address-space rules (scalars aligned to 4, vec2
 *   to 8, vec3 and vec4 to 16) and rounds the buffer to 16 bytes, so WGSL structs carry no `_pad`
 *   fields and callers never fill one.
 * - Every field must be given (a missing or unknown one is an error naming the kernel): a field
 *   the kernel ignores in some mode is given as 0 by the op, visibly.
 * - u32 and i32 values must be whole numbers in range, f32 values finite; override constants must
 *   be declared and of their type (bool or number). Constants left out take the WGSL default, and
 *   pipelines are cached by exactly the constants given, as before.
 */
import type { Binding, GpuContext } from './context.ts';
import { UniformsByBatch } from './uniforms.ts';

export type Scalar = 'u32' | 'i32' | 'f32';
export type FieldType = Scalar | `vec${2 | 3 | 4}<${Scalar}>`;
/** `uniform` is `var<uniform>`; `read` and `read_write` are `var<storage, ...>`. */
export type Access = 'uniform' | 'read' | 'read_write';
export type OverrideType = 'bool' | Scalar;
/**
 * A variant of a shader: a file `npm run shaders` derives from it (scripts/shadergen/variants.ts),
 * with the same interface, for devices with an optional WGSL feature.
 */
export type Variant = 'subgroups';

/** `forward/conv2d.wgsl` and `subgroups` → `forward/conv2d.subgroups.wgsl`. */
export const variantFile = (shader: string, variant: Variant): string => shader.replace(/\.wgsl$/, `.${variant}.wgsl`);

export type UniformFields = Readonly<Record<string, FieldType>>;
export type BindingList = Readonly<Record<string, Access>>;
export type OverrideList = Readonly<Record<string, OverrideType>>;

export type UniformValues<U extends UniformFields> = { readonly [K in keyof U]: U[K] extends Scalar ? number : readonly number[] };
export type BindingBuffers<B extends BindingList> = { readonly [K in keyof B]: Binding };
export type OverrideValues<O extends OverrideList> = { readonly [K in keyof O]?: O[K] extends 'bool' ? boolean : number };

export interface KernelSpec<U extends UniformFields, B extends BindingList, O extends OverrideList> {
  /** Path under shaders/, e.g. `forward/conv2d.wgsl`. */
  readonly shader: string;
  /** The fields of the struct bound as `var<uniform>`, in order. */
  readonly uniforms: U;
  /** `@group(0) @binding(k)` for k = 0, 1, ... in order, by their WGSL names. */
  readonly bindings: B;
  readonly overrides: O;
  /** The variants generated from the file (its `// <variants: ...>` marker). */
  readonly variants?: readonly Variant[];
}

/**
 * Both variants of a kernel that writes or adds into its output (override ACCUMULATE): whether
 * the output already holds another producer's values is known per batch, while the pipelines must
 * exist before.
 */
export interface PipelinePair {
  readonly overwrite: GPUComputePipeline;
  readonly accumulate: GPUComputePipeline;
  pick(accumulate: boolean): GPUComputePipeline;
}

/** One uniform field's place in the packed buffer. */
export interface FieldLayout {
  readonly name: string;
  readonly type: FieldType;
  readonly offset: number;
}

const ALIGN = { 1: 4, 2: 8, 3: 16, 4: 16 } as const;

function parseFieldType(type: FieldType): { scalar: Scalar; n: 1 | 2 | 3 | 4 } {
  const m = /^vec([234])<(u32|i32|f32)>$/.exec(type);
  return m ? { scalar: m[2] as Scalar, n: Number(m[1]) as 2 | 3 | 4 } : { scalar: type as Scalar, n: 1 };
}

export class Kernel<U extends UniformFields, B extends BindingList, O extends OverrideList> {
  readonly shader: string;
  readonly uniforms: U;
  readonly bindings: B;
  readonly overrides: O;
  readonly variants: readonly Variant[];
  /** The shader file and its variants' files, all with this declaration's interface. */
  readonly files: readonly string[];
  readonly layout: readonly FieldLayout[];
  /** Bytes of the uniform buffer: the struct's size rounded up to 16. */
  readonly uniformBytes: number;

  constructor(spec: KernelSpec<U, B, O>) {
    this.shader = spec.shader;
    this.uniforms = spec.uniforms;
    this.bindings = spec.bindings;
    this.overrides = spec.overrides;
    this.variants = spec.variants ?? [];
    this.files = [spec.shader, ...this.variants.map((v) => variantFile(spec.shader, v))];
    const layout: FieldLayout[] = [];
    let end = 0;
    for (const [name, type] of Object.entries(spec.uniforms)) {
      const { n } = parseFieldType(type);
      const offset = Math.ceil(end / ALIGN[n]) * ALIGN[n];
      layout.push({ name, type, offset });
      end = offset + 4 * n;
    }
    this.layout = layout;
    this.uniformBytes = Math.max(16, Math.ceil(end / 16) * 16);
  }

  private fail(msg: string): never {
    throw new Error(`${this.shader}: ${msg}`);
  }

  private checkNames(what: string, given: object, declared: object): void {
    const known = Object.keys(declared);
    const missing = known.filter((k) => (given as Record<string, unknown>)[k] === undefined);
    const extra = Object.keys(given).filter((k) => !Object.hasOwn(declared, k));
    if (missing.length || extra.length) {
      const parts = [missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `unknown ${extra.join(', ')}` : ''];
      this.fail(`${what}: ${parts.filter(Boolean).join('; ')} (declared: ${known.join(', ')})`);
    }
  }

  /** The uniform struct's bytes, as u32 words, from every field by name. */
  pack(values: UniformValues<U>): Uint32Array {
    this.checkNames('uniform fields', values, this.uniforms);
    const buf = new ArrayBuffer(this.uniformBytes);
    const view = new DataView(buf);
    for (const { name, type, offset } of this.layout) {
      const { scalar, n } = parseFieldType(type);
      const raw = (values as Record<string, number | readonly number[]>)[name];
      const parts = typeof raw === 'number' ? [raw] : raw;
      if (!Array.isArray(parts) || parts.length !== n || (n === 1) !== (typeof raw === 'number')) {
        this.fail(`uniform field '${name}' is ${type}, got ${JSON.stringify(raw)}`);
      }
      parts.forEach((v: number, i: number) => {
        const at = offset + 4 * i;
        if (scalar === 'f32') {
          if (!Number.isFinite(v)) this.fail(`uniform field '${name}' (f32) must be finite, got ${v}`);
          view.setFloat32(at, v, true);
        } else if (scalar === 'u32') {
          if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) this.fail(`uniform field '${name}' (u32) must be a whole number in 0..2^32-1, got ${v}`);
          view.setUint32(at, v, true);
        } else {
          if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) this.fail(`uniform field '${name}' (i32) must be a whole number in i32 range, got ${v}`);
          view.setInt32(at, v, true);
        }
      });
    }
    return new Uint32Array(buf);
  }

  /** Uniform buffers of this kernel, one per batch size (see UniformsByBatch). */
  uniformsByBatch(ctx: GpuContext, label: string, make: (batch: number) => UniformValues<U>): UniformsByBatch {
    return new UniformsByBatch(ctx, label, (batch) => this.pack(make(batch)));
  }

  /** The bind group's buffers in binding order, from every binding by name. */
  bind(buffers: BindingBuffers<B>): Binding[] {
    this.checkNames('bindings', buffers, this.bindings);
    return Object.keys(this.bindings).map((k) => (buffers as Record<string, Binding>)[k]);
  }

  private checkConstants(constants: object): void {
    for (const [k, v] of Object.entries(constants)) {
      const type = this.overrides[k];
      if (type === undefined) this.fail(`unknown override constant ${k} (declared: ${Object.keys(this.overrides).join(', ') || 'none'})`);
      const ok = type === 'bool' ? typeof v === 'boolean'
        : typeof v === 'number' && (type === 'f32' ? Number.isFinite(v) : Number.isInteger(v) && (type === 'i32' || v >= 0));
      if (!ok) this.fail(`override constant ${k} is ${type}, got ${JSON.stringify(v)}`);
    }
  }

  /** The file of `variant` (the shader itself when undefined); fails when it is not declared. */
  file(variant?: Variant): string {
    if (variant === undefined) return this.shader;
    if (!this.variants.includes(variant)) this.fail(`has no ${variant} variant (declared: ${this.variants.join(', ') || 'none'})`);
    return variantFile(this.shader, variant);
  }

  /** The pipeline for these override constants, of the shader or one of its variants, from the context's cache. */
  pipeline(ctx: GpuContext, constants: OverrideValues<O> = {}, variant?: Variant): Promise<GPUComputePipeline> {
    this.checkConstants(constants);
    return ctx.pipelines.get(this.file(variant), constants as Record<string, number | boolean>);
  }

  /** Both ACCUMULATE variants of the pipeline (the kernel must declare `ACCUMULATE: bool`). */
  async pipelinePair(ctx: GpuContext, constants: Omit<OverrideValues<O>, 'ACCUMULATE'> = {} as Omit<OverrideValues<O>, 'ACCUMULATE'>, variant?: Variant): Promise<PipelinePair> {
    if (this.overrides.ACCUMULATE !== 'bool') this.fail('declares no ACCUMULATE: bool override, so it has no pipeline pair');
    this.checkConstants(constants);
    const file = this.file(variant);
    const [overwrite, accumulate] = await Promise.all([false, true].map((ACCUMULATE) =>
      ctx.pipelines.get(file, { ...(constants as Record<string, number | boolean>), ACCUMULATE })));
    return { overwrite, accumulate, pick: (acc) => (acc ? accumulate : overwrite) };
  }
}

/** A kernel declaration; `const` keeps the names literal so ops are checked against them. */
export function defineKernel<const U extends UniformFields, const B extends BindingList, const O extends OverrideList>(
  spec: KernelSpec<U, B, O>,
): Kernel<U, B, O> {
  return new Kernel(spec);
}
