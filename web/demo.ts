/**
 * The demo model (and image) that `lrp web` serves, loaded at start-up unless the user was quicker,
 * and its trained siblings (an EfficientNet, a ViT) offered as examples with the same labels.
 */
import { parseLabels, parsePreprocessSpecText, readImage } from '../src/index.ts';
import { loadModelBytes, setInput } from './loading.ts';
import { setNotes, setStatus, ui } from './page.ts';
import { autoRun } from './running.ts';
import { state } from './state.ts';

interface DemoExample { name: string; model: string; preprocess: string | null }
interface DemoManifest {
  model: string | null; preprocess: string | null; labels: string | null; image?: string | null; note: string | null;
  examples?: DemoExample[];
}

async function fetchOk(url: string): Promise<Response> {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText}`);
  return res;
}

/** The example's model, preprocessing and the shared labels, as the page's model; null when the user was quicker. */
async function loadExample(example: DemoExample, labelsUrl: string | null, unlessLoaded: boolean): Promise<boolean> {
  const bytes = new Uint8Array(await (await fetchOk(example.model)).arrayBuffer());
  const preprocess = example.preprocess
    ? { spec: parsePreprocessSpecText(await (await fetchOk(example.preprocess)).text(), example.preprocess), source: example.preprocess }
    : null;
  const labels = labelsUrl ? parseLabels(await (await fetchOk(labelsUrl)).text(), labelsUrl) : null;
  if (unlessLoaded && state.model) return false; // the user (or a test) was quicker
  if (preprocess) state.pendingPreprocess = preprocess;
  if (labels) state.pendingLabels = labels;
  loadModelBytes(bytes, example.model.split('/').pop() ?? 'demo.onnx', `${example.name}:${bytes.byteLength}`);
  return true;
}

/** The example picker, shown when the server has more than the demo model; `pick` loads one (inside the GPU queue). */
function offerExamples(manifest: DemoManifest, pick: (load: () => Promise<void>) => void): void {
  const examples = manifest.examples ?? [];
  if (examples.length < 2) return;
  ui.example.replaceChildren(...examples.map((e) => new Option(e.name, e.name)));
  ui.exampleRow.hidden = false;
  ui.example.addEventListener('change', () => {
    const example = examples.find((e) => e.name === ui.example.value);
    if (!example) return;
    setStatus(`loading ${example.name}…`);
    pick(async () => {
      await loadExample(example, manifest.labels, false);
      setStatus('');
    });
  });
}

export async function loadDemo(pick: (load: () => Promise<void>) => void): Promise<void> {
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
  offerExamples(manifest, pick);
  if (state.model) return; // the user (or a test) was quicker
  setStatus('loading the demo model…');
  const demo = manifest.examples?.[0] ?? { name: 'demo', model: manifest.model, preprocess: manifest.preprocess };
  if (!await loadExample(demo, manifest.labels, true)) return;
  if (manifest.image && !state.input) {
    const blob = await (await fetchOk(manifest.image)).blob();
    setInput({ kind: 'image', name: manifest.image.split('/').pop() ?? 'image', rgba: await readImage(new File([blob], manifest.image)) });
  }
  setStatus(state.input ? '' : 'demo model loaded: pick or drop an image');
  autoRun();
}
