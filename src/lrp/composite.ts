/**
 * Composites: which rule runs on which layer (shared/docs/composite-spec.md).
 *
 * Two steps, so that a bad spec fails before any model is loaded and a spec that does not fit the
 * model fails before anything runs:
 *
 * - `parseComposite` (composite/parse.ts, entries in composite/entry.ts) turns a preset name, JSON
 *   text or a parsed JSON object into a `CompositeSpec` (composite/spec.ts), checking everything
 *   that does not need the model: keys, rule names, selectors, parameters.
 * - `resolveComposite` (composite/resolve.ts) binds a spec to a graph: it picks a `LayerRule` for
 *   every layer, checks what needs the model and fills what presets leave to the run.
 *
 * Each module under composite/ states the decisions the spec leaves open for its step. This file
 * only re-exports them, so the importers across src/, cli/, bench/, test/ and scripts/ keep one
 * entry point; nothing under composite/ imports it, and presets.ts imports the types from
 * composite/spec.ts, so no module here loads another in a cycle.
 */
export {
  METHODS, KIND_SELECTORS,
  type KindSelector, type EntryRuleName, type Selector, type EpsilonFromOption, type ZboxBound, type EntryRule,
  type CompositeEntry, type CompositeSpec, type ResolveOptions, type ResolvedComposite,
} from './composite/spec.ts';
export { parseComposite } from './composite/parse.ts';
export { parseSelector, selectorText } from './composite/select.ts';
export { resolveComposite } from './composite/resolve.ts';
export { formatNumber, formatRule, compositeRows, formatComposite, type LayerRuleRow } from './composite/format.ts';
