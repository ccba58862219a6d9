/** The page's WebGPU device (opened once, reopened after a loss) and the model on it. */
import type { Lrp, Model } from '../src/index.ts';
import { startLrp } from './gpu.ts';
import { effectivePreprocess } from './model-info.ts';
import { setStatus, showError, ui } from './page.ts';
import { state, type LoadedModel } from './state.ts';

export function ensureLrp(): Promise<Lrp> {
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
export async function ensureModel(m: LoadedModel): Promise<Model> {
  const lrp = await ensureLrp();
  if (!m.model) m.model = await lrp.loadModel(m.bytes, { name: m.name, output: m.facts.output });
  m.model.preprocess = effectivePreprocess(m).spec;
  m.model.labels = m.labels;
  return m.model;
}
