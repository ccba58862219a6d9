/** The composite and target controls: presets, custom JSON, epsilon and flat layers, parsed with errors that name the control. */
import { Composite, type CompositeOptions, type Target } from '../src/index.ts';
import { ui } from './page.ts';

export const CUSTOM = 'custom';
const DEFAULT_PRESET = 'cmp-alpha2-flat';
const EXAMPLE_COMPOSITE = {
  name: 'my-composite',
  rules: [
    { layers: 'dense', rule: 'epsilon', epsilon: 0.1 },
    { layers: 'conv', rule: 'alpha-beta', alpha: 2, beta: 1 },
    { layers: '#0', rule: 'flat' },
  ],
};

export const PRESETS = Composite.presets;
export const presetDescription = (name: string): string => PRESETS.find((p) => p.name === name)?.description ?? '';

export function fillPresets(): void {
  const custom = new Option('custom JSON (below)', CUSTOM);
  // PatternAttribution needs a folder of learned patterns, which this page cannot load (yet).
  const options = PRESETS.filter(({ name }) => name !== 'pattern-attribution').map(({ name, description }) => {
    const o = new Option(name, name);
    o.title = description;
    return o;
  });
  ui.preset.replaceChildren(...options, custom);
  ui.preset.value = DEFAULT_PRESET;
  ui.compositeJson.value = JSON.stringify(EXAMPLE_COMPOSITE, null, 2);
  refreshPresetHelp();
}

export function refreshPresetHelp(): void {
  ui.presetHelp.textContent = ui.preset.value === CUSTOM
    ? 'The JSON below: rules for layers picked by kind (conv, dense, linear, maxpool, avgpool), index (#0, #-1, #k-m) or name:NAME.'
    : presetDescription(ui.preset.value);
}

/** The composite the controls describe, parsed (errors name the control), and its run-time options. */
export function compositeFromControls(): { composite: Composite; options: CompositeOptions } {
  const custom = ui.preset.value === CUSTOM;
  const composite = custom
    ? Composite.parse(ui.compositeJson.value, { source: 'composite JSON' })
    : Composite.parse(ui.preset.value, { source: 'preset' });
  const num = (el: HTMLInputElement, what: string): number | undefined => {
    const t = el.value.trim();
    if (t === '') return undefined;
    const v = Number(t);
    if (!Number.isFinite(v)) throw new Error(`${what} must be a number, got '${t}'`);
    return v;
  };
  return { composite, options: { flatLayers: num(ui.flatLayers, 'flat layers'), epsilon: num(ui.epsilon, 'epsilon') } };
}

export function targetsFromControls(): Target[] {
  return ui.target.value.split(',').map((s) => {
    const t = s.trim();
    if (t === '' || t === 'predicted') return 'predicted';
    const n = Number(t);
    if (!Number.isInteger(n) || n < 0) throw new Error(`target '${t}' is neither a class index nor 'predicted'`);
    return n;
  });
}
