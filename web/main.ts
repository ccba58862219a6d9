/**
 * The page of `lrp web`: load an ONNX model (the demo model when the server has one), an image or
 * an .npy batch, pick a composite, and run the forward and relevance passes on this browser's
 * WebGPU — through the library's public API (src/index.ts, what `import ... from 'webgpu-lrp'`
 * gives) and nothing else, its WGSL the package's embedded copy of shaders/.
 *
 * Every failure (no WebGPU, an unsupported op, a bad composite, a GPU error) lands in the error
 * box at the top of the page, in words.
 *
 * For tests and scripting the page exposes `window.lrpTest` (see `LrpTestApi`): `ready` and
 * `explain(request)`, which drives the same code path as the Explain button.
 */
import { COLORMAP_NAMES, HEATMAP_DEFAULTS, inspectModel } from '../src/index.ts';
import { fillPresets, CUSTOM, PRESETS, presetDescription, refreshPresetHelp } from './composite-controls.ts';
import { ensureLrp } from './device.ts';
import { loadDemo } from './demo.ts';
import { render } from './drawing.ts';
import { handleFiles } from './loading.ts';
import { refreshModelInfo } from './model-info.ts';
import { clearError, messageOf, setStatus, showError, ui } from './page.ts';
import { autoRun, compareComposites, errorTitle, runFromButton } from './running.ts';
import { exclusive, state } from './state.ts';
import { testApi, type LrpTestApi } from './test-api.ts';
export type { LrpTestApi, LrpTestRequest, LrpTestResponse } from './test-api.ts';

ui.errorClose.addEventListener('click', clearError);
// Anything that escapes a handler still reaches the page, not only the console.
window.addEventListener('error', (ev) => showError('Unexpected error', ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => showError('Unexpected error', ev.reason));

function filesArrived(files: readonly File[]): void {
  if (!files.length) return;
  clearError();
  // Inside the GPU queue: a new model must not replace the one a run is still using.
  exclusive(() => handleFiles(files)).then(() => autoRun(), (e) => {
    setStatus('');
    showError('Could not load the file', e);
  });
}

ui.modelFile.addEventListener('change', () => {
  filesArrived([...(ui.modelFile.files ?? [])]);
  ui.modelFile.value = '';
});
ui.inputFile.addEventListener('change', () => {
  filesArrived([...(ui.inputFile.files ?? [])]);
  ui.inputFile.value = '';
});

let dragDepth = 0;
document.addEventListener('dragenter', (ev) => {
  ev.preventDefault();
  dragDepth++;
  ui.dropOverlay.hidden = false;
});
document.addEventListener('dragover', (ev) => ev.preventDefault());
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) ui.dropOverlay.hidden = true;
});
document.addEventListener('drop', (ev) => {
  ev.preventDefault();
  dragDepth = 0;
  ui.dropOverlay.hidden = true;
  filesArrived([...(ev.dataTransfer?.files ?? [])]);
});

fillPresets();
ui.cmap.replaceChildren(...COLORMAP_NAMES.map((n) => new Option(n, n)));
ui.cmap.value = HEATMAP_DEFAULTS.cmap;
ui.mode.value = HEATMAP_DEFAULTS.mode;
ui.clip.value = String(HEATMAP_DEFAULTS.clip);
for (const el of [ui.cmap, ui.mode, ui.size]) el.addEventListener('change', () => render());

/** The presets the comparison offers, the paper's analyzers first; these four start ticked. */
const COMPARE_DEFAULT = ['cmp-alpha2-flat', 'cmp-alpha1-flat', 'lrp-alpha2beta1', 'lrp-z'];
ui.comparePresets.replaceChildren(...PRESETS.map(({ name }) => {
  const label = document.createElement('label');
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.value = name;
  box.checked = COMPARE_DEFAULT.includes(name);
  label.title = presetDescription(name);
  label.append(box, name);
  return label;
}));
ui.compareRun.addEventListener('click', () => {
  exclusive(compareComposites).catch((e) => {
    setStatus('');
    showError(errorTitle(e), e);
  });
});

ui.output.addEventListener('change', () => {
  const m = state.model;
  if (!m || ui.output.value === m.facts.output) return;
  exclusive(async () => {
    m.facts = inspectModel(m.bytes, { name: m.name, output: ui.output.value });
    m.model?.destroy();
    m.model = null;
    state.last = null;
    refreshModelInfo();
  }).then(() => autoRun(), (e) => showError('Could not switch the output', e));
});
ui.preset.addEventListener('change', () => {
  refreshPresetHelp();
  autoRun();
});
ui.compositeJson.addEventListener('input', () => {
  if (ui.preset.value !== CUSTOM) {
    ui.preset.value = CUSTOM;
    refreshPresetHelp();
  }
});
ui.compositeJson.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) runFromButton();
});
for (const el of [ui.flatLayers, ui.epsilon, ui.target, ui.init]) el.addEventListener('change', () => autoRun());
ui.overlay.addEventListener('change', () => render());
ui.clip.addEventListener('change', () => render());
ui.sample.addEventListener('change', () => render());
ui.run.addEventListener('click', () => runFromButton());
// A class row of the top-classes table explains that class.
ui.topClasses.tBodies[0].addEventListener('click', (ev) => {
  const row = (ev.target as HTMLElement).closest('tr');
  if (!row?.dataset.class) return;
  ui.target.value = row.dataset.class;
  autoRun();
});

// Start-up: WebGPU, then the demo model if the server has one.
const ready: Promise<{ adapter: string | null; error: string | null }> = ensureLrp().then(
  (lrp) => ({ adapter: lrp.adapter, error: null }),
  (e: unknown) => {
    showError(e instanceof Error && e.name === 'NoWebGpuError' ? 'No WebGPU' : 'WebGPU did not start', e);
    return { adapter: null, error: messageOf(e) };
  },
);
// Inside the GPU queue, as a dropped file: a new model must not replace the one a run is still using.
const pickExample = (load: () => Promise<void>) => {
  clearError();
  exclusive(load).then(() => autoRun(), (e) => {
    setStatus('');
    showError('Could not load the example model', e);
  });
};
const demoLoaded = loadDemo(pickExample).catch((e) => showError('Could not load the demo model', e));
refreshModelInfo();

(window as unknown as { lrpTest: LrpTestApi }).lrpTest = testApi(ready, demoLoaded);
