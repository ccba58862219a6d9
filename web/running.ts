/** Explaining with the current controls (one composite, or several side by side) and showing the result. */
import { Composite, relevancePlane, type Explainer, type ExplainOptions, type ModelInput } from '../src/index.ts';
import { compositeFromControls, targetsFromControls } from './composite-controls.ts';
import { ensureModel } from './device.ts';
import { currentSample, draw, picture, render } from './drawing.ts';
import { effectivePreprocess } from './model-info.ts';
import { clearError, messageOf, setNotes, setStatus, showError, ui } from './page.ts';
import { exclusive, state, type InputData, type RunResult } from './state.ts';

type Init = NonNullable<ExplainOptions['init']>;

/** The current input as the library takes it: the image, or the tensor with its shape (N×C×H×W or C×H×W). */
function modelInput(input: InputData): ModelInput {
  return input.kind === 'image' ? input.rgba : { data: input.data, shape: input.shape };
}

async function explainCurrent(): Promise<RunResult> {
  const m = state.model;
  const input = state.input;
  if (!m) throw new Error('load a model first (pick or drop an .onnx file)');
  if (!input) throw new Error('load an input first (pick or drop an image or an .npy file)');
  const { composite, options } = compositeFromControls();
  const targets = targetsFromControls();
  const init = ui.init.value as Init;
  const t0 = performance.now();
  setStatus('loading the model onto the GPU…');
  const model = await ensureModel(m);
  if (input.kind === 'image' && !model.preprocess) {
    throw new Error(`${m.name} takes a ${m.facts.inputShape.join('×')} input, not an image: give an .npy batch`);
  }
  const tensor = model.toTensor(modelInput(input));
  const batch = tensor.shape[0];
  if (targets.length !== 1 && targets.length !== batch) {
    throw new Error(`target gives ${targets.length} classes for ${batch} samples (give one per sample, or one for all)`);
  }
  setStatus(`running ${composite.name} on ${batch} sample${batch > 1 ? 's' : ''}…`);
  const explainer = await model.explainer(composite, options);
  try {
    const ex = await explainer.explain(tensor, { target: targets, init });
    return {
      batch, shape: model.inputShape, relevance: ex.relevance.data, logits: ex.logits.data, classes: model.classes,
      targets: [...ex.targets], targetLogits: [...ex.targetLogits], relevanceSums: [...ex.relevanceSums],
      composite: explainer.composite, ms: performance.now() - t0, notes: [...explainer.notes],
    };
  } finally {
    explainer.destroy();
  }
}

/** Explains with the current controls and shows the result; errors go to the error box and are rethrown. */
export async function runAndShow(): Promise<RunResult> {
  ui.run.disabled = true;
  setStatus('running…');
  try {
    const result = await explainCurrent();
    state.last = result;
    clearError();
    const notes = [...result.notes];
    if (state.model && state.input?.kind === 'image' && effectivePreprocess(state.model).guessed) {
      notes.push(`${state.model.name} came without a preprocessing spec: the image was taken as pixels / 255 with no normalisation. Drop its MODEL.onnx.json to fix that.`);
    }
    setNotes(notes);
    ui.sampleRow.hidden = result.batch <= 1;
    ui.sample.max = String(result.batch - 1);
    render();
    setStatus(`done in ${result.ms.toFixed(0)} ms`);
    return result;
  } catch (e) {
    setStatus('');
    showError(errorTitle(e), e);
    throw e;
  } finally {
    ui.progress.hidden = true;
    ui.run.disabled = !(state.model && state.input);
  }
}

export function errorTitle(e: unknown): string {
  const msg = messageOf(e);
  if (e instanceof Error && (e.name === 'NoWebGpuError')) return 'No WebGPU';
  if (e instanceof Error && e.name === 'GpuError') return 'WebGPU error';
  if (/^(preset|composite JSON)|--flat-layers|--epsilon|flat layers|epsilon must/.test(msg)) return 'Bad composite';
  if (/^target/.test(msg)) return 'Bad target';
  return 'Could not explain';
}

let autoPending = false;
/** Re-runs after a change once a model and an input are there; changes during a run coalesce. */
export function autoRun(): void {
  if (!state.model || !state.input || autoPending) return;
  autoPending = true;
  exclusive(async () => {
    autoPending = false;
    await runAndShow();
  }).catch(() => undefined); // shown by runAndShow
}

export function runFromButton(): void {
  exclusive(runAndShow).catch(() => undefined);
}

/**
 * The shown sample explained by every ticked preset, one forward pass shared, drawn side by side
 * with the current rendering (each map on its own scale).
 */
export async function compareComposites(): Promise<void> {
  const m = state.model;
  const input = state.input;
  if (!m || !input) throw new Error('load a model and an input first');
  const names = [...ui.comparePresets.querySelectorAll<HTMLInputElement>('input:checked')].map((b) => b.value);
  if (!names.length) throw new Error('tick at least one preset to compare');
  const targets = targetsFromControls();
  const { options } = compositeFromControls();
  ui.compareRun.disabled = true;
  ui.compareGrid.replaceChildren();
  const explainers: Explainer[] = [];
  try {
    const model = await ensureModel(m);
    const tensor = model.toTensor(modelInput(input));
    const n = Math.min(currentSample(), tensor.shape[0] - 1);
    const per = tensor.data.length / tensor.shape[0];
    const sample = { data: tensor.data.slice(n * per, (n + 1) * per), shape: [1, ...tensor.shape.slice(1)] };
    const shape = sample.shape.length === 4 ? sample.shape.slice(1) : [1, 1, per];
    for (const [k, name] of names.entries()) {
      setStatus(`preparing ${k + 1} of ${names.length}: ${name}…`);
      explainers.push(await model.explainer(Composite.parse(name, { source: 'preset' }), options));
    }
    setStatus(`comparing ${names.length} composites…`);
    const target = targets.length === 1 ? targets[0] : targets[n];
    const results = await model.explainEach(sample, explainers, { target, init: ui.init.value as Init });
    results.forEach((r, k) => {
      const pic = picture(relevancePlane(r.relevance.data, shape, 0), n);
      const fig = document.createElement('figure');
      const canvas = document.createElement('canvas');
      draw(canvas, pic.image);
      const cap = document.createElement('figcaption');
      cap.textContent = `${names[k]}: class ${r.targets[0]}, sum of R ${r.relevanceSums[0].toPrecision(4)}`;
      fig.append(canvas, cap);
      ui.compareGrid.append(fig);
    });
    setStatus(`compared ${names.length} composites`);
  } finally {
    for (const e of explainers) e.destroy();
    ui.compareRun.disabled = !(state.model && state.input);
  }
}
