/**
 * Selectors: their text (`conv`, `#k`, `#k-m`, `name:NODE`, ...) and the layers they pick.
 *
 * Decisions where the spec is silent:
 * - `#k-m` takes negative indices at either end (`#0--1` is every linear layer, `#-2--1` the last
 *   two); a range that is empty or reaches past either end is an error, like `#k` matching nothing.
 * - A `name:` selector that matches nothing is an error that lists similar layer names (or the
 *   first linear layers); a kind selector that matches nothing is left to the resolver's notes.
 * - `--classifier-layers` layers count as `dense` (and `linear`), not as `conv`.
 */
import type { Graph, Layer } from '../../graph/ir.ts';
import { isLinear } from '../../graph/ir.ts';
import { KIND_RULES, KIND_SELECTORS, type KindSelector } from '../kind-rules.ts';
import type { Selector } from './spec.ts';

/** A selector from its text, or null when it is not one. */
export function parseSelector(text: string): Selector | null {
  if ((KIND_SELECTORS as readonly string[]).includes(text)) return { type: 'kind', kind: text as KindSelector };
  if (text.startsWith('name:')) {
    const name = text.slice(5);
    return name === '' ? null : { type: 'name', name };
  }
  const m = /^#(-?\d+)(?:-(-?\d+))?$/.exec(text);
  if (!m) return null;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) return null;
  return { type: 'index', from, to };
}

export function selectorText(sel: Selector): string {
  switch (sel.type) {
    case 'kind':
      return sel.kind;
    case 'name':
      return `name:${sel.name}`;
    case 'index':
      return sel.from === sel.to ? `#${sel.from}` : `#${sel.from}-${sel.to}`;
  }
}

/** Whether a kind selector picks a layer; `classifier` layers count as dense, not conv. */
export function kindMatches(kind: KindSelector, layer: Layer, classifier: ReadonlySet<Layer>): boolean {
  if (classifier.has(layer)) return kind === 'dense' || kind === 'linear';
  return kind === 'linear' ? isLinear(layer) : KIND_RULES[layer.kind].selector === kind;
}

/** The graph as selectors see it, computed once per resolution. */
export interface SelectionScope {
  readonly graph: Graph;
  /** The linear layers in forward order, which `#k` counts. */
  readonly linear: readonly Layer[];
  readonly classifier: ReadonlySet<Layer>;
  /** "the model has N linear layers", for messages. */
  readonly haveLinear: string;
}

/**
 * The layers the union of `selectors` picks. `onlyKinds` is whether every selector was a kind
 * selector: only then may the union be empty without an error.
 */
export function selectLayers(
  selectors: readonly Selector[], scope: SelectionScope, fail: (msg: string) => never,
): { selected: Set<Layer>; onlyKinds: boolean } {
  const { graph, linear, classifier, haveLinear } = scope;
  const n = linear.length;
  const selected = new Set<Layer>();
  let onlyKinds = true;
  for (const sel of selectors) {
    switch (sel.type) {
      case 'kind':
        for (const l of graph.layers) if (kindMatches(sel.kind, l, classifier)) selected.add(l);
        break;
      case 'name': {
        onlyKinds = false;
        const l = graph.layers.find((x) => x.name === sel.name);
        if (!l) fail(`selector name:${sel.name} matches no layer of model ${graph.name}${nameHint(graph, sel.name)}`);
        else selected.add(l);
        break;
      }
      case 'index': {
        onlyKinds = false;
        const text = selectorText(sel);
        const from = sel.from < 0 ? n + sel.from : sel.from;
        const to = sel.to < 0 ? n + sel.to : sel.to;
        if (sel.from === sel.to) {
          if (from < 0 || from >= n) fail(`selector ${text} matches no layer (${haveLinear})`);
        } else {
          if (from < 0 || from >= n || to < 0 || to >= n) fail(`selector ${text} reaches past the linear layers (${haveLinear}: #0-${n - 1})`);
          if (from > to) fail(`selector ${text} is an empty range (#${from} comes after #${to}; ${haveLinear})`);
        }
        for (let k = from; k <= to; k++) selected.add(linear[k]);
        break;
      }
    }
  }
  return { selected, onlyKinds };
}

function nameHint(graph: Graph, name: string): string {
  const lower = name.toLowerCase();
  const close = graph.layers.filter((l) => l.name.toLowerCase().includes(lower) || lower.includes(l.name.toLowerCase()));
  const shown = (close.length > 0 ? close : graph.layers.filter(isLinear)).slice(0, 8).map((l) => l.name);
  return shown.length === 0 ? '' : ` (${close.length > 0 ? 'similar' : 'linear layers'}: ${shown.join(', ')}${shown.length === 8 ? ', ...' : ''})`;
}
