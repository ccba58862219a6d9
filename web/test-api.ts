/** `window.lrpTest`, for end-to-end tests: the same path as the controls, driven by a request object. */
import { parsePreprocessSpecText, type ExplainOptions, type Target } from '../src/index.ts';
import { CUSTOM, PRESETS, refreshPresetHelp } from './composite-controls.ts';
import { render } from './drawing.ts';
import { loadModelBytes, setInput, setPreprocess } from './loading.ts';
import { showError, ui } from './page.ts';
import { runAndShow } from './running.ts';
import { exclusive, state } from './state.ts';

type Init = NonNullable<ExplainOptions['init']>;

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

/** `window.lrpTest`: drives the same code path as the controls. */
export function testApi(ready: LrpTestApi['ready'], demoLoaded: LrpTestApi['demoLoaded']): LrpTestApi {
  return {
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
}
