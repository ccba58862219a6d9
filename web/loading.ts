/** Files into page state: a model, its preprocessing and labels, a composite, an image or .npy input. */
import { Composite, inspectModel, npyToTensor, parseLabels, parsePreprocessSpec, readImage, type CompositeJson, type PreprocessSpec } from '../src/index.ts';
import { CUSTOM, refreshPresetHelp } from './composite-controls.ts';
import { drawInputPreview } from './drawing.ts';
import { refreshModelInfo } from './model-info.ts';
import { messageOf, setStatus, ui } from './page.ts';
import { state, type InputData, type LoadedModel } from './state.ts';

const IMAGE_EXT = /\.(png|jpe?g|webp|gif|bmp|avif)$/i;

/** Reads a model (a bad file fails here, naming the file and the problem); it goes onto the GPU at the first run. */
export function loadModelBytes(bytes: Uint8Array, name: string, key = `${name}:${bytes.byteLength}`): LoadedModel {
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

export function setPreprocess(spec: PreprocessSpec, source: string): void {
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

export function setInput(input: InputData): void {
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
export async function handleFiles(files: readonly File[]): Promise<void> {
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
