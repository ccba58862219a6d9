/** The demo model (and image) that `lrp web` serves, loaded at start-up unless the user was quicker. */
import { parseLabels, parsePreprocessSpecText, readImage } from '../src/index.ts';
import { loadModelBytes, setInput } from './loading.ts';
import { setNotes, setStatus } from './page.ts';
import { autoRun } from './running.ts';
import { state } from './state.ts';

interface DemoManifest { model: string | null; preprocess: string | null; labels: string | null; image?: string | null; note: string | null }

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  return res;
}

export async function loadDemo(): Promise<void> {
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
