/**
 * Checks of the public API's arguments, made at its edge (src/api/*, src/node/index.ts): a
 * JavaScript caller, or a TypeScript one through a cast, can pass anything, and a wrong argument
 * must fail at once with a message naming the function, the argument and what was given, not deep
 * inside with a TypeError (`Cannot read properties of null`) or, worse, be taken for a default.
 *
 * Decisions: messages read `where: NAME must be WHAT, got VALUE`; values are shown as a reader
 * would name them (`NaN`, `null`, `a Model`, `'text'`), never through JSON.stringify (which turns
 * NaN into `null`). Plain `Error`s, like every other error of the library. It sits with the
 * readers (src/io) rather than in src/api so that the parsers below the API (labels, preprocessing
 * specs) use the same messages without importing upwards.
 */

/** A value as a message shows it: `NaN`, `null`, `'text'`, `a Model ('name')`, `an array of 3`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'string') return value.length > 60 ? `'${value.slice(0, 57)}...'` : `'${value}'`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${(value as unknown as ArrayLike<number>).length ?? value.byteLength}`;
  const ctor = (value as object).constructor?.name;
  if (!ctor || ctor === 'Object') return 'an object';
  const article = /^[AEIOU]/.test(ctor) ? 'an' : 'a';
  const name = (value as { name?: unknown }).name;
  return typeof name === 'string' && name !== '' ? `${article} ${ctor} ('${name}')` : `${article} ${ctor}`;
}

/** The error for argument `name` of `where` that is not `expected`. */
export function argumentError(where: string, name: string, expected: string, value: unknown): Error {
  return new Error(`${where}: ${name} must be ${expected}, got ${describeValue(value)}`);
}

/** `value` as a non-empty string. */
export function requireString(where: string, name: string, value: unknown, expected = 'a non-empty string'): string {
  if (typeof value !== 'string' || value.trim() === '') throw argumentError(where, name, expected, value);
  return value;
}

/** `value` as an instance of `type`. */
export function requireInstance<T>(where: string, name: string, value: unknown, type: { readonly prototype: T }, expected: string): T {
  // By prototype: the library's classes have private constructors, which `instanceof`'s typing refuses.
  if (!Object.prototype.isPrototypeOf.call(type.prototype, value as object)) throw argumentError(where, name, expected, value);
  return value as T;
}

/** `value` as one of `choices`, or `fallback` when undefined. */
export function requireChoice<T extends string>(where: string, name: string, value: unknown, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw argumentError(where, name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }
  return value as T;
}

/** `value` as a whole number of at least `min`, or `fallback` when undefined. */
export function requireWhole(where: string, name: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw argumentError(where, name, `a whole number >= ${min}`, value);
  return value;
}

/** `value` as an options object: undefined gives `{}`; null, arrays and non-objects are refused. */
export function requireOptions<T extends object>(where: string, value: T | undefined): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw argumentError(where, 'options', 'an object (or left out)', value);
  return value;
}

/** `value` as a tensor `{ data: Float32Array, shape }` whose shape multiplies out to its length. */
export function requireTensor(where: string, name: string, value: unknown): { data: Float32Array; shape: readonly number[] } {
  const t = value as { data?: unknown; shape?: unknown };
  const ok = typeof t === 'object' && t !== null && t.data instanceof Float32Array && Array.isArray(t.shape)
    && t.shape.every((d) => Number.isSafeInteger(d) && d >= 0);
  if (!ok) throw argumentError(where, name, 'a tensor { data: Float32Array, shape: whole numbers }', value);
  const tensor = t as { data: Float32Array; shape: readonly number[] };
  const n = tensor.shape.reduce((a, d) => a * d, 1);
  if (n !== tensor.data.length) throw new Error(`${where}: ${name} has ${tensor.data.length} values, but its shape [${tensor.shape.join(', ')}] needs ${n}`);
  return tensor;
}

/** `value` as an RGBA image `{ width, height, data }` of width × height × 4 bytes. */
export function requireImage(where: string, name: string, value: unknown): { width: number; height: number; data: Uint8Array | Uint8ClampedArray } {
  const i = value as { width?: unknown; height?: unknown; data?: unknown };
  const ok = typeof i === 'object' && i !== null && Number.isSafeInteger(i.width) && Number.isSafeInteger(i.height)
    && (i.data instanceof Uint8Array || i.data instanceof Uint8ClampedArray)
    && i.data.length === 4 * (i.width as number) * (i.height as number);
  if (!ok) throw argumentError(where, name, 'an RGBA image { width, height, data: width × height × 4 bytes }', value);
  return value as { width: number; height: number; data: Uint8Array | Uint8ClampedArray };
}
