/** What the loaded model is and takes, shown on the page; the preprocessing it runs with. */
import type { ModelInfo, PreprocessSpec } from '../src/index.ts';
import { ui } from './page.ts';
import { state, type LoadedModel } from './state.ts';

/** What the model takes per sample, as C×H×W, or null for inputs that are not images. */
export function imageShape(facts: ModelInfo): [number, number, number] | null {
  const s = facts.inputShape;
  return s.length === 3 ? [s[0], s[1], s[2]] : null;
}

/** The model's preprocessing, or a plain guess (pixels / 255) when it came without one. */
export function effectivePreprocess(model: LoadedModel): { spec: PreprocessSpec | null; guessed: boolean } {
  if (model.preprocess) return { spec: model.preprocess, guessed: false };
  const chw = imageShape(model.facts);
  if (!chw || (chw[0] !== 1 && chw[0] !== 3)) return { spec: null, guessed: false };
  const n = chw[0];
  return {
    spec: { size: [chw[1], chw[2]], channels: n === 1 ? 'GRAY' : 'RGB', scale: 1 / 255, mean: new Array(n).fill(0), std: new Array(n).fill(1), resize: 'rescale' },
    guessed: true,
  };
}

function describeModel(model: LoadedModel): string {
  const { facts } = model;
  const pre = model.preprocess
    ? `preprocessing from ${model.preprocessSource}`
    : imageShape(facts) ? 'no preprocessing spec (images are taken as pixels / 255, no normalisation)' : 'no preprocessing spec';
  return `${model.name}: ${facts.layers.length} layers, input ${facts.inputShape.join('×')}, ${facts.classes} classes; ${pre}`
    + (model.labels ? `; ${model.labels.length} labels` : '');
}

export function refreshModelInfo(): void {
  const m = state.model;
  ui.modelInfo.textContent = m ? describeModel(m) : 'no model loaded';
  const outputs = m?.facts.outputs ?? [];
  ui.outputRow.hidden = outputs.length < 2;
  if (outputs.length >= 2 && [...ui.output.options].map((o) => o.value).join('\n') !== outputs.join('\n')) {
    ui.output.replaceChildren(...outputs.map((o) => new Option(o, o)));
  }
  if (m) ui.output.value = m.facts.output;
  ui.compareRun.disabled = !(m && state.input);
  ui.modelDetails.hidden = !m;
  ui.modelSummary.textContent = m ? m.facts.summary() : '';
  ui.run.disabled = !(m && state.input);
}
