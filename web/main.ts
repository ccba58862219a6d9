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
import {
  colorbarSvg, COLORMAP_NAMES, Composite, croppedImage, drawHeatmap, HEATMAP_DEFAULTS, heatmapScale, inspectModel, npyToTensor,
  parseLabels, parsePreprocessSpec, parsePreprocessSpecText, readImage, relevancePicture, relevancePlane, scaleDescription, tensorToNpy,
  topClasses, type CompositeJson, type CompositeOptions, type Explainer, type ExplainOptions, type HeatmapMode, type Lrp, type Model,
  type ModelInfo, type ModelInput, type PictureSize, type Plane, type PreprocessSpec, type RgbaImage, type Target,
} from '../src/index.ts';
import { startLrp } from './gpu.ts';

type Init = NonNullable<ExplainOptions['init']>;

// ---------------------------------------------------------------------------------------------
// Elements
// ---------------------------------------------------------------------------------------------

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el as T;
};

const ui = {
  adapter: $<HTMLParagraphElement>('adapter'),
  error: $<HTMLDivElement>('error'),
  errorTitle: $<HTMLElement>('error-title'),
  errorText: $<HTMLPreElement>('error-text'),
  errorClose: $<HTMLButtonElement>('error-close'),
  notes: $<HTMLUListElement>('notes'),
  modelFile: $<HTMLInputElement>('model-file'),
  modelInfo: $<HTMLParagraphElement>('model-info'),
  modelDetails: $<HTMLDetailsElement>('model-details'),
  modelSummary: $<HTMLPreElement>('model-summary'),
  inputFile: $<HTMLInputElement>('input-file'),
  inputInfo: $<HTMLParagraphElement>('input-info'),
  sampleRow: $<HTMLLabelElement>('sample-row'),
  sample: $<HTMLInputElement>('sample'),
  preset: $<HTMLSelectElement>('preset'),
  presetHelp: $<HTMLParagraphElement>('preset-help'),
  compositeJson: $<HTMLTextAreaElement>('composite-json'),
  flatLayers: $<HTMLInputElement>('flat-layers'),
  epsilon: $<HTMLInputElement>('epsilon'),
  target: $<HTMLInputElement>('target'),
  init: $<HTMLSelectElement>('init'),
  overlay: $<HTMLInputElement>('overlay'),
  clip: $<HTMLSelectElement>('clip'),
  cmap: $<HTMLSelectElement>('cmap'),
  mode: $<HTMLSelectElement>('mode'),
  size: $<HTMLSelectElement>('size'),
  outputRow: $<HTMLLabelElement>('output-row'),
  output: $<HTMLSelectElement>('output'),
  progress: $<HTMLProgressElement>('progress'),
  colorbar: $<HTMLDivElement>('colorbar'),
  scaleText: $<HTMLSpanElement>('scale-text'),
  downloadPng: $<HTMLAnchorElement>('download-png'),
  downloadNpy: $<HTMLAnchorElement>('download-npy'),
  comparePresets: $<HTMLDivElement>('compare-presets'),
  compareRun: $<HTMLButtonElement>('compare-run'),
  compareGrid: $<HTMLDivElement>('compare-grid'),
  run: $<HTMLButtonElement>('run'),
  status: $<HTMLSpanElement>('status'),
  inputCanvas: $<HTMLCanvasElement>('input-canvas'),
  heatmapCanvas: $<HTMLCanvasElement>('heatmap-canvas'),
  topClasses: $<HTMLTableElement>('top-classes'),
  summary: $<HTMLParagraphElement>('summary'),
  dropOverlay: $<HTMLDivElement>('drop-overlay'),
};

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

function showError(title: string, e: unknown): void {
  ui.errorTitle.textContent = title;
  ui.errorText.textContent = messageOf(e);
  ui.error.hidden = false;
  console.error(`${title}:`, e);
}

function clearError(): void {
  ui.error.hidden = true;
  ui.errorText.textContent = '';
}

function setNotes(lines: readonly string[]): void {
  ui.notes.replaceChildren(...lines.map((l) => {
    const li = document.createElement('li');
    li.textContent = l;
    return li;
  }));
}

function setStatus(text: string): void {
  ui.status.textContent = text;
}

ui.errorClose.addEventListener('click', clearError);
// Anything that escapes a handler still reaches the page, not only the console.
window.addEventListener('error', (ev) => showError('Unexpected error', ev.error ?? ev.message));
window.addEventListener('unhandledrejection', (ev) => showError('Unexpected error', ev.reason));

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

interface LoadedModel {
  readonly name: string;
  /** The ONNX bytes, kept to load again with another output or on a new device. */
  readonly bytes: Uint8Array;
  /** What it is (read from the bytes, no GPU needed). */
  facts: ModelInfo;
  preprocess: PreprocessSpec | null;
  preprocessSource: string | null;
  labels: string[] | null;
  /** The model on the current device; null until the first run, after a device loss or an output change. */
  model: Model | null;
  /** Identifies the bytes, so `lrpTest` re-sending one model keeps it loaded. */
  readonly key: string;
}

type InputData =
  | { readonly kind: 'image'; readonly name: string; readonly rgba: RgbaImage }
  | { readonly kind: 'tensor'; readonly name: string; readonly shape: readonly number[]; readonly data: Float32Array };

interface RunResult {
  readonly batch: number;
  /** Per-sample input shape, C×H×W. */
  readonly shape: readonly number[];
  readonly relevance: Float32Array;
  readonly logits: Float32Array;
  readonly classes: number;
  readonly targets: number[];
  readonly targetLogits: number[];
  readonly relevanceSums: number[];
  readonly composite: string;
  readonly ms: number;
  readonly notes: string[];
}

const state: {
  lrp: Lrp | null;
  lrpPromise: Promise<Lrp> | null;
  model: LoadedModel | null;
  input: InputData | null;
  /** Preprocessing or labels dropped before any model: applied to the next one. */
  pendingPreprocess: { spec: PreprocessSpec; source: string } | null;
  pendingLabels: string[] | null;
  last: RunResult | null;
} = { lrp: null, lrpPromise: null, model: null, input: null, pendingPreprocess: null, pendingLabels: null, last: null };

// ---------------------------------------------------------------------------------------------
// WebGPU
// ---------------------------------------------------------------------------------------------

function ensureLrp(): Promise<Lrp> {
  if (state.lrp) return Promise.resolve(state.lrp);
  if (!state.lrpPromise) {
    state.lrpPromise = startLrp({
      onPipelineProgress: (p) => {
        const busy = p.requested - p.ready > 0 || p.event === 'running';
        ui.progress.hidden = !busy;
        if (busy) {
          ui.progress.max = Math.max(1, p.requested);
          ui.progress.value = p.ran ?? 0;
          setStatus(`compiling GPU kernels: ${p.ran ?? 0} of ${p.requested} pipelines (the first run in a browser takes a while)…`);
        }
      },
      onLost: (message) => {
        state.lrp = null;
        state.lrpPromise = null;
        if (state.model) state.model.model = null;
        showError('WebGPU device lost', `${message}\nThe next run opens a new device.`);
      },
    }).then((lrp) => {
      state.lrp = lrp;
      ui.adapter.textContent = `WebGPU adapter: ${lrp.adapter}`;
      return lrp;
    }, (e: unknown) => {
      state.lrpPromise = null;
      ui.adapter.textContent = 'no WebGPU adapter';
      throw e;
    });
  }
  return state.lrpPromise;
}

/** The model on the current device, with the page's preprocessing and labels. */
async function ensureModel(m: LoadedModel): Promise<Model> {
  const lrp = await ensureLrp();
  if (!m.model) m.model = await lrp.loadModel(m.bytes, { name: m.name, output: m.facts.output });
  m.model.preprocess = effectivePreprocess(m).spec;
  m.model.labels = m.labels;
  return m.model;
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

const IMAGE_EXT = /\.(png|jpe?g|webp|gif|bmp|avif)$/i;

/** What the model takes per sample, as C×H×W, or null for inputs that are not images. */
function imageShape(facts: ModelInfo): [number, number, number] | null {
  const s = facts.inputShape;
  return s.length === 3 ? [s[0], s[1], s[2]] : null;
}

/** The model's preprocessing, or a plain guess (pixels / 255) when it came without one. */
function effectivePreprocess(model: LoadedModel): { spec: PreprocessSpec | null; guessed: boolean } {
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

function refreshModelInfo(): void {
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

/** Reads a model (a bad file fails here, naming the file and the problem); it goes onto the GPU at the first run. */
function loadModelBytes(bytes: Uint8Array, name: string, key = `${name}:${bytes.byteLength}`): LoadedModel {
  const facts = inspectModel(bytes, { name });
  state.model?.model?.destroy();
  const model: LoadedModel = { name, bytes, facts, preprocess: null, preprocessSource: null, labels: null, model: null, key };
  if (state.pendingPreprocess) {
    model.preprocess = state.pendingPreprocess.spec;
    model.preprocessSource = state.pendingPreprocess.source;
  }
  model.labels = state.pendingLabels;
  state.pendingPreprocess = null;
  state.pendingLabels = null;
  state.model = model;
  state.last = null;
  refreshModelInfo();
  return model;
}

function setPreprocess(spec: PreprocessSpec, source: string): void {
  if (state.model) {
    state.model.preprocess = spec;
    state.model.preprocessSource = source;
    refreshModelInfo();
  } else {
    state.pendingPreprocess = { spec, source };
  }
}

function setLabels(labels: string[]): void {
  if (state.model) {
    state.model.labels = labels;
    refreshModelInfo();
  } else {
    state.pendingLabels = labels;
  }
}

function setInput(input: InputData): void {
  state.input = input;
  state.last = null;
  ui.inputInfo.textContent = input.kind === 'image'
    ? `${input.name}: ${input.rgba.width}×${input.rgba.height} image`
    : `${input.name}: ${input.shape.join('×')} float32`;
  ui.sampleRow.hidden = true;
  ui.sample.value = '0';
  // The original image's geometry exists only for images.
  ui.size.disabled = input.kind !== 'image';
  if (input.kind !== 'image') ui.size.value = 'input';
  refreshModelInfo();
  drawInputPreview();
}

function tensorInput(bytes: Uint8Array, name: string): InputData {
  const t = npyToTensor(bytes, name);
  return { kind: 'tensor', name, shape: t.shape, data: t.data };
}

/** Routes files by kind: models first, then their preprocessing and labels, then the input. */
async function handleFiles(files: readonly File[]): Promise<void> {
  const ext = (f: File) => f.name.toLowerCase();
  const models = files.filter((f) => ext(f).endsWith('.onnx'));
  const jsons = files.filter((f) => ext(f).endsWith('.json'));
  const texts = files.filter((f) => ext(f).endsWith('.txt'));
  const npys = files.filter((f) => ext(f).endsWith('.npy'));
  const images = files.filter((f) => IMAGE_EXT.test(f.name) || (f.type.startsWith('image/') && !ext(f).endsWith('.npy')));
  const known = new Set([...models, ...jsons, ...texts, ...npys, ...images]);
  const unknown = files.filter((f) => !known.has(f));
  if (unknown.length) {
    throw new Error(`${unknown.map((f) => f.name).join(', ')}: not a model (.onnx), image, .npy, preprocessing/composite .json or labels .txt`);
  }
  if (models.length > 1) throw new Error(`drop one model at a time (got ${models.map((f) => f.name).join(', ')})`);
  if (models.length) {
    setStatus(`loading ${models[0].name}…`);
    loadModelBytes(new Uint8Array(await models[0].arrayBuffer()), models[0].name);
  }
  for (const f of jsons) {
    const text = await f.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`${f.name}: not valid JSON (${messageOf(e)})`);
    }
    if (json && typeof json === 'object' && !Array.isArray(json) && 'size' in json) {
      setPreprocess(parsePreprocessSpec(json, f.name), f.name);
    } else if (json && typeof json === 'object' && !Array.isArray(json) && ('rules' in json || 'method' in json)) {
      Composite.parse(json as CompositeJson, { source: f.name }); // fail now, with the file's name, if it is not a composite
      ui.compositeJson.value = JSON.stringify(json, null, 2);
      ui.preset.value = CUSTOM;
      refreshPresetHelp();
    } else {
      setLabels(parseLabels(text, f.name));
    }
  }
  for (const f of texts) setLabels(parseLabels(await f.text(), f.name));
  const inputs = [...npys, ...images];
  if (inputs.length > 1) throw new Error(`drop one input at a time (got ${inputs.map((f) => f.name).join(', ')})`);
  if (npys.length) setInput(tensorInput(new Uint8Array(await npys[0].arrayBuffer()), npys[0].name));
  if (images.length) setInput({ kind: 'image', name: images[0].name, rgba: await readImage(images[0]) });
  setStatus('');
}

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

// ---------------------------------------------------------------------------------------------
// Composite controls
// ---------------------------------------------------------------------------------------------

const CUSTOM = 'custom';
const DEFAULT_PRESET = 'cmp-alpha2-flat';
const EXAMPLE_COMPOSITE = {
  name: 'my-composite',
  rules: [
    { layers: 'dense', rule: 'epsilon', epsilon: 0.1 },
    { layers: 'conv', rule: 'alpha-beta', alpha: 2, beta: 1 },
    { layers: '#0', rule: 'flat' },
  ],
};

const PRESETS = Composite.presets;
const presetDescription = (name: string): string => PRESETS.find((p) => p.name === name)?.description ?? '';

function fillPresets(): void {
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

function refreshPresetHelp(): void {
  ui.presetHelp.textContent = ui.preset.value === CUSTOM
    ? 'The JSON below: rules for layers picked by kind (conv, dense, linear, maxpool, avgpool), index (#0, #-1, #k-m) or name:NAME.'
    : presetDescription(ui.preset.value);
}

/** The composite the controls describe, parsed (errors name the control), and its run-time options. */
function compositeFromControls(): { composite: Composite; options: CompositeOptions } {
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

function targetsFromControls(): Target[] {
  return ui.target.value.split(',').map((s) => {
    const t = s.trim();
    if (t === '' || t === 'predicted') return 'predicted';
    const n = Number(t);
    if (!Number.isInteger(n) || n < 0) throw new Error(`target '${t}' is neither a class index nor 'predicted'`);
    return n;
  });
}

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

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

let queue: Promise<unknown> = Promise.resolve();
/** Runs one GPU job at a time: error scopes and buffers of two interleaved runs would mix. */
function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const p = queue.then(fn, fn);
  queue = p.catch(() => undefined);
  return p;
}

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
async function runAndShow(): Promise<RunResult> {
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

function errorTitle(e: unknown): string {
  const msg = messageOf(e);
  if (e instanceof Error && (e.name === 'NoWebGpuError')) return 'No WebGPU';
  if (e instanceof Error && e.name === 'GpuError') return 'WebGPU error';
  if (/^(preset|composite JSON)|--flat-layers|--epsilon|flat layers|epsilon must/.test(msg)) return 'Bad composite';
  if (/^target/.test(msg)) return 'Bad target';
  return 'Could not explain';
}

let autoPending = false;
/** Re-runs after a change once a model and an input are there; changes during a run coalesce. */
function autoRun(): void {
  if (!state.model || !state.input || autoPending) return;
  autoPending = true;
  exclusive(async () => {
    autoPending = false;
    await runAndShow();
  }).catch(() => undefined); // shown by runAndShow
}

function runFromButton(): void {
  exclusive(runAndShow).catch(() => undefined);
}

/**
 * The shown sample explained by every ticked preset, one forward pass shared, drawn side by side
 * with the current rendering (each map on its own scale).
 */
async function compareComposites(): Promise<void> {
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

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

function draw(canvas: HTMLCanvasElement, img: RgbaImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.classList.toggle('smooth', img.width >= 160);
  const g = canvas.getContext('2d');
  if (!g) throw new Error('no 2D canvas context');
  g.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
}

/** A C×H×W sample as pixels: undoing the preprocessing when there is one, else min-max scaled. */
function tensorPixels(sample: Float32Array, c: number, h: number, w: number, spec: PreprocessSpec | null): RgbaImage {
  const plane = h * w;
  const out = new Uint8Array(4 * plane);
  const specFits = spec && (spec.channels === 'GRAY' ? c === 1 : c === 3) && spec.size[0] === h && spec.size[1] === w;
  let lo = Infinity;
  let hi = -Infinity;
  if (!specFits) for (const v of sample) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const range = hi > lo ? hi - lo : 1;
  const value = (ch: number, i: number): number => {
    const x = sample[ch * plane + i];
    if (specFits) return (x * spec.std[ch] + spec.mean[ch]) / spec.scale;
    return (255 * (x - lo)) / range;
  };
  const rgbFrom = spec?.channels === 'BGR' && specFits ? [2, 1, 0] : [0, 1, 2];
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) {
      let v: number;
      if (c === 3) v = value(rgbFrom[k], i);
      else if (c === 1) v = value(0, i);
      else { v = 0; for (let ch = 0; ch < c; ch++) v += value(ch, i) / c; }
      out[4 * i + k] = Math.max(0, Math.min(255, Math.round(v)));
    }
    out[4 * i + 3] = 255;
  }
  return { width: w, height: h, data: out };
}

/** The input as the model sees it (cropped and resized), sample `n` of a batch. */
function inputPixels(n: number): RgbaImage | null {
  const model = state.model;
  const input = state.input;
  if (!input) return null;
  const chw = model ? imageShape(model.facts) : null;
  if (input.kind === 'image') {
    const spec = model ? effectivePreprocess(model).spec : null;
    return spec ? croppedImage(input.rgba, spec) : input.rgba;
  }
  const s = chw ?? (input.shape.length === 4 ? [input.shape[1], input.shape[2], input.shape[3]] : input.shape.length === 3 ? input.shape : null);
  if (!s || s.length !== 3) return null;
  const [c, h, w] = s;
  const per = c * h * w;
  if (input.data.length < (n + 1) * per) return null;
  // Only a real preprocessing spec can be undone; a guessed one would clip the values.
  return tensorPixels(input.data.subarray(n * per, (n + 1) * per), c, h, w, model?.preprocess ?? null);
}

function drawInputPreview(): void {
  const px = inputPixels(0);
  if (px) draw(ui.inputCanvas, px);
}

function currentSample(): number {
  const n = Number(ui.sample.value);
  const batch = state.last?.batch ?? 1;
  return Number.isInteger(n) && n >= 0 && n < batch ? n : 0;
}

/** The rendering controls as options of relevancePicture. */
function renderOptions(): { cmap: string; mode: HeatmapMode; clip: number; size: PictureSize; overlay: boolean } {
  return {
    cmap: ui.cmap.value, mode: ui.mode.value as HeatmapMode, clip: Number(ui.clip.value),
    size: ui.size.value as PictureSize, overlay: ui.overlay.checked,
  };
}

/**
 * Sample `n`'s heatmap as the controls ask: the image and its preprocessing are there for image
 * inputs (overlay, original size); a tensor input falls back to a plain map at the input size.
 */
function picture(plane: Plane, n: number) {
  const opts = renderOptions();
  const model = state.model;
  const input = state.input;
  if (input?.kind === 'image' && model) {
    const spec = effectivePreprocess(model).spec;
    if (spec) return relevancePicture(plane, { ...opts, image: input.rgba, spec });
  }
  // A tensor: the map at the input size, over the de-normalised input when asked.
  const px = opts.overlay ? inputPixels(n) : null;
  const under = px && px.width === plane.width && px.height === plane.height ? px : null;
  const scale = heatmapScale(plane, { cmap: opts.cmap, mode: opts.mode, clip: opts.clip });
  return { image: drawHeatmap(plane, scale, { overlay: under }), scale };
}

let downloadUrls: string[] = [];
/** Points the download links at the shown heatmap (PNG) and the sample's relevance (.npy, 1×C×H×W float32). */
function refreshDownloads(r: RunResult, n: number): void {
  for (const u of downloadUrls) URL.revokeObjectURL(u);
  downloadUrls = [];
  const per = r.shape.reduce((a, b) => a * b, 1);
  const stem = `${(state.input?.name ?? 'input').replace(/\.[^.]*$/, '')}${r.batch > 1 ? `_${n}` : ''}.${r.composite}`;
  const npy = tensorToNpy({ data: r.relevance.slice(n * per, (n + 1) * per), shape: [1, ...r.shape] });
  const npyUrl = URL.createObjectURL(new Blob([npy as BlobPart], { type: 'application/octet-stream' }));
  downloadUrls.push(npyUrl);
  ui.downloadNpy.href = npyUrl;
  ui.downloadNpy.download = `${stem}.npy`;
  ui.downloadNpy.hidden = false;
  ui.heatmapCanvas.toBlob((blob) => {
    if (!blob) return;
    const url = URL.createObjectURL(blob);
    downloadUrls.push(url);
    ui.downloadPng.href = url;
    ui.downloadPng.download = `${stem}.png`;
    ui.downloadPng.hidden = false;
  }, 'image/png');
}

function render(): void {
  const r = state.last;
  const n = currentSample();
  const px = inputPixels(n);
  if (px) draw(ui.inputCanvas, px);
  if (!r) return;
  const shape = r.shape.length === 3 ? r.shape : [1, 1, r.shape.reduce((a, b) => a * b, 1)];
  const pic = picture(relevancePlane(r.relevance, shape, n), n);
  draw(ui.heatmapCanvas, pic.image);
  ui.colorbar.innerHTML = colorbarSvg(pic.scale, { width: 280 });
  ui.scaleText.textContent = `(${pic.scale.cmap.name}, ${pic.scale.mode}: colours span ${scaleDescription(pic.scale)})`;
  refreshDownloads(r, n);

  const labels = state.model?.labels ?? null;
  const label = (i: number) => (labels?.[i] !== undefined ? `${labels[i]} (${i})` : `class ${i}`);
  const row = r.logits.subarray(n * r.classes, (n + 1) * r.classes);
  const top = topClasses(row, Math.min(5, r.classes));
  const target = r.targets[n];
  if (!top.some((t) => t.index === target)) {
    top.push(...topClasses(row, r.classes).filter((t) => t.index === target));
  }
  const body = ui.topClasses.tBodies[0];
  body.replaceChildren(...top.map((t, k) => {
    const tr = document.createElement('tr');
    tr.dataset.class = String(t.index);
    tr.classList.toggle('target', t.index === target);
    tr.title = t.index === target ? 'the explained class' : 'explain this class';
    const rank = k < 5 ? String(k + 1) : '·';
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.max(1, Math.round(60 * t.probability))}px`;
    const cells = [rank, label(t.index), `${(100 * t.probability).toFixed(1)}%`, t.logit.toFixed(3)].map((text, i) => {
      const td = document.createElement('td');
      if (i === 2) td.append(bar);
      td.append(text);
      if (i >= 2) td.className = 'num';
      return td;
    });
    tr.append(...cells);
    tr.addEventListener('click', () => {
      ui.target.value = String(t.index);
      autoRun();
    });
    return tr;
  }));
  ui.summary.textContent = `explained ${label(target)} (logit ${r.targetLogits[n].toFixed(4)}, init ${ui.init.value}) `
    + `with ${r.composite}: sum of relevance ${r.relevanceSums[n].toPrecision(6)}`
    + (r.batch > 1 ? `; sample ${n} of ${r.batch}` : '') + ` — ${r.ms.toFixed(0)} ms`;
}

// ---------------------------------------------------------------------------------------------
// Start-up: WebGPU, then the demo model if the server has one
// ---------------------------------------------------------------------------------------------

interface DemoManifest { model: string | null; preprocess: string | null; labels: string | null; image?: string | null; note: string | null }

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  return res;
}

async function loadDemo(): Promise<void> {
  let manifest: DemoManifest;
  try {
    manifest = await (await fetchOk('demo/manifest.json')).json() as DemoManifest;
  } catch {
    return; // served by something other than lrp web: no demo, nothing to say
  }
  if (!manifest.model) {
    if (!state.model) setNotes([`No demo model: ${manifest.note ?? 'the server has none'}.`]);
    return;
  }
  if (state.model) return; // the user (or a test) was quicker
  setStatus('loading the demo model…');
  const bytes = new Uint8Array(await (await fetchOk(manifest.model)).arrayBuffer());
  const preprocess = manifest.preprocess
    ? { spec: parsePreprocessSpecText(await (await fetchOk(manifest.preprocess)).text(), manifest.preprocess), source: manifest.preprocess }
    : null;
  const labels = manifest.labels ? parseLabels(await (await fetchOk(manifest.labels)).text(), manifest.labels) : null;
  const modelPath = manifest.model;
  if (state.model) return; // the user (or a test) was quicker
  if (preprocess) state.pendingPreprocess = preprocess;
  if (labels) state.pendingLabels = labels;
  loadModelBytes(bytes, modelPath.split('/').pop() ?? 'demo.onnx', `demo:${bytes.byteLength}`);
  if (manifest.image && !state.input) {
    const blob = await (await fetchOk(manifest.image)).blob();
    setInput({ kind: 'image', name: manifest.image.split('/').pop() ?? 'image', rgba: await readImage(new File([blob], manifest.image)) });
  }
  setStatus(state.input ? '' : 'demo model loaded: pick or drop an image');
  autoRun();
}

const ready: Promise<{ adapter: string | null; error: string | null }> = ensureLrp().then(
  (lrp) => ({ adapter: lrp.adapter, error: null }),
  (e: unknown) => {
    showError(e instanceof Error && e.name === 'NoWebGpuError' ? 'No WebGPU' : 'WebGPU did not start', e);
    return { adapter: null, error: messageOf(e) };
  },
);
const demoLoaded = loadDemo().catch((e) => showError('Could not load the demo model', e));
refreshModelInfo();

// ---------------------------------------------------------------------------------------------
// window.lrpTest: the same path as the controls, for end-to-end tests
// ---------------------------------------------------------------------------------------------

export interface LrpTestRequest {
  /** The .onnx bytes, base64. */
  model: string;
  modelName?: string;
  /** Preprocessing spec JSON text. */
  preprocess?: string;
  /** N×C×H×W float32 little-endian, base64. */
  input: { shape: number[]; data: string };
  /** A preset name or composite JSON (text or object). */
  composite: unknown;
  targets: readonly Target[] | Target;
  init: Init;
  flatLayers?: number;
  epsilon?: number;
  /** Which sample the page shows. */
  sample?: number;
  /** Draw the heatmap over the input (the checkbox); unchanged when absent. */
  overlay?: boolean;
}

export interface LrpTestResponse {
  /** N×C×H×W float32, base64. */
  relevance: string;
  logits: number[];
  targets: number[];
  relevanceSums: number[];
  adapter: string | null;
  ms: number;
}

export interface LrpTestApi {
  ready: Promise<{ adapter: string | null; error: string | null }>;
  demoLoaded: Promise<unknown>;
  explain(req: LrpTestRequest): Promise<LrpTestResponse>;
}

function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const lrpTest: LrpTestApi = {
  ready,
  demoLoaded,
  async explain(req) {
    await demoLoaded;
    const name = req.modelName ?? 'model.onnx';
    const key = `test:${name}:${req.model.length}:${req.model.slice(0, 64)}:${req.model.slice(-64)}`;
    await exclusive(async () => {
      try {
        if (state.model?.key !== key) loadModelBytes(fromBase64(req.model), name, key);
        if (req.preprocess !== undefined) setPreprocess(parsePreprocessSpecText(req.preprocess, `${name}.json`), `${name}.json`);
      } catch (e) {
        showError('Could not load the file', e);
        throw e;
      }
    });
    const raw = fromBase64(req.input.data);
    setInput({ kind: 'tensor', name: 'input.npy', shape: req.input.shape, data: new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4) });
    const isPreset = typeof req.composite === 'string' && PRESETS.some((p) => p.name === (req.composite as string).trim());
    if (isPreset) {
      ui.preset.value = (req.composite as string).trim();
    } else {
      ui.preset.value = CUSTOM;
      ui.compositeJson.value = typeof req.composite === 'string' ? req.composite : JSON.stringify(req.composite, null, 2);
    }
    refreshPresetHelp();
    ui.flatLayers.value = req.flatLayers === undefined ? '' : String(req.flatLayers);
    ui.epsilon.value = req.epsilon === undefined ? '' : String(req.epsilon);
    ui.target.value = (Array.isArray(req.targets) ? req.targets : [req.targets]).join(',');
    ui.init.value = req.init;
    ui.sample.value = String(req.sample ?? 0);
    if (req.overlay !== undefined) ui.overlay.checked = req.overlay;
    const r = await exclusive(runAndShow);
    ui.sample.value = String(req.sample ?? 0);
    render();
    return {
      relevance: toBase64(new Uint8Array(r.relevance.buffer, r.relevance.byteOffset, r.relevance.byteLength)),
      logits: Array.from(r.logits),
      targets: r.targets,
      relevanceSums: r.relevanceSums,
      adapter: state.lrp?.adapter ?? null,
      ms: r.ms,
    };
  },
};

(window as unknown as { lrpTest: LrpTestApi }).lrpTest = lrpTest;
