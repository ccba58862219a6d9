/** The page's elements, looked up once (a missing one fails at load, by id), and its messages: the error box, notes and status line. */

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page element #${id} is missing`);
  return el as T;
};

export const ui = {
  adapter: $<HTMLParagraphElement>('adapter'),
  error: $<HTMLDivElement>('error'),
  errorTitle: $<HTMLElement>('error-title'),
  errorText: $<HTMLPreElement>('error-text'),
  errorClose: $<HTMLButtonElement>('error-close'),
  notes: $<HTMLUListElement>('notes'),
  modelFile: $<HTMLInputElement>('model-file'),
  modelInfo: $<HTMLParagraphElement>('model-info'),
  exampleRow: $<HTMLLabelElement>('example-row'),
  example: $<HTMLSelectElement>('example'),
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

export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}

export function showError(title: string, e: unknown): void {
  ui.errorTitle.textContent = title;
  ui.errorText.textContent = messageOf(e);
  ui.error.hidden = false;
  console.error(`${title}:`, e);
}

export function clearError(): void {
  ui.error.hidden = true;
  ui.errorText.textContent = '';
}

export function setNotes(lines: readonly string[]): void {
  ui.notes.replaceChildren(...lines.map((l) => {
    const li = document.createElement('li');
    li.textContent = l;
    return li;
  }));
}

export function setStatus(text: string): void {
  ui.status.textContent = text;
}
