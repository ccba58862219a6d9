/**
 * `parseComposite`: a preset name, JSON text or a parsed JSON value to a `CompositeSpec`, checking
 * everything that does not need the model (keys, rule names, selectors, parameters), so that a bad
 * spec fails before any model is loaded. Entries are parsed in entry.ts; presets come from
 * presets.ts, which builds specs without the parser.
 *
 * Decisions where the spec is silent:
 * - A top-level `"name"` (a string) names the composite; otherwise a JSON composite is named after
 *   its method, or "custom".
 * - A method composite takes no other key (no `rules`, no `stabilizer`).
 */
import type { Method } from '../rule-spec.ts';
import { DEFAULT_STABILIZER } from '../rule-spec.ts';
import { isPresetName, PRESET_NAMES, presetComposite } from '../presets.ts';
import { parseEntry } from './entry.ts';
import { isFiniteNumber, isPlainObject, json, shorten } from './json.ts';
import { METHODS, type CompositeSpec } from './spec.ts';

const TOP_KEYS = ['name', 'stabilizer', 'rules', 'method'];

/**
 * A composite from a preset name, JSON text (starting with `{`), or an already parsed JSON value.
 * `source` names where it came from in every error.
 */
export function parseComposite(input: unknown, source: string): CompositeSpec {
  if (typeof input === 'string') {
    const text = input.trim();
    if (isPresetName(text)) return presetComposite(text, source);
    if (text.startsWith('{') || text.startsWith('[')) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw new Error(`${source}: composite is not valid JSON: ${(e as Error).message}`);
      }
      return parseCompositeJson(json, source);
    }
    throw new Error(
      `${source}: '${input}' is not a composite preset (presets: ${PRESET_NAMES.join(', ')}) nor JSON text (which starts with '{')`,
    );
  }
  return parseCompositeJson(input, source);
}

function parseCompositeJson(input: unknown, source: string): CompositeSpec {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (!isPlainObject(input)) {
    return fail(`a composite must be a JSON object {"rules": [...]} or {"method": ...}, got ${shorten(json(input))}`);
  }
  for (const k of Object.keys(input)) {
    if (!TOP_KEYS.includes(k)) fail(`unknown key "${k}" in the composite (known: ${TOP_KEYS.join(', ')})`);
  }
  const name = input.name;
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    fail(`"name" must be a non-empty string, got ${json(name)}`);
  }

  if (input.method !== undefined) {
    const method = input.method;
    if (typeof method !== 'string' || !(METHODS as readonly string[]).includes(method)) {
      return fail(`unknown method ${json(method)} (methods: ${METHODS.join(', ')})`);
    }
    for (const k of ['rules', 'stabilizer']) {
      if (input[k] !== undefined) fail(`"method": "${method}" takes no "${k}" (a method uses every layer's true derivative)`);
    }
    return {
      name: (name as string | undefined) ?? method, source, preset: null, stabilizer: DEFAULT_STABILIZER,
      method: method as Method, rules: [],
    };
  }

  let stabilizer = DEFAULT_STABILIZER;
  if (input.stabilizer !== undefined) {
    if (!isFiniteNumber(input.stabilizer) || input.stabilizer <= 0) {
      fail(`"stabilizer" must be a positive number, got ${json(input.stabilizer)}`);
    }
    stabilizer = input.stabilizer as number;
  }
  if (input.rules === undefined) return fail('a composite needs "rules" (a list of {"layers", "rule"}) or a "method"');
  if (!Array.isArray(input.rules)) return fail(`"rules" must be a list of {"layers", "rule", ...}, got ${shorten(json(input.rules))}`);
  const rules = input.rules.map((e, i) => parseEntry(e, i, source));
  return { name: (name as string | undefined) ?? 'custom', source, preset: null, stabilizer, method: null, rules };
}
