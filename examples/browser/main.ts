// Explains an image on this browser's WebGPU. Bundle it (the package's WGSL comes along, nothing
// to configure) and serve this folder with the model beside it:
//   npx esbuild main.ts --bundle --format=esm --outfile=bundle.js --servedir=.
// then open http://127.0.0.1:8000/?model=model.onnx&image=image.png (model.onnx.json beside the
// model says how images are resized and normalised).
import { Lrp, readImage, type Explanation, type ImageSource, type RgbaImage } from 'webgpu-lrp';

const params = new URLSearchParams(location.search);
const status = document.getElementById('status')!;

function draw(id: string, image: RgbaImage): void {
  const canvas = document.getElementById(id) as HTMLCanvasElement;
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
}

try {
  const lrp = await Lrp.create();
  const model = await lrp.loadModel(new URL(params.get('model') ?? 'model.onnx', location.href));
  const explainer = await model.explainer(params.get('composite') ?? 'cmp-alpha2-flat');
  const explain = async (source: ImageSource) => {
    const image = await readImage(source);
    const explanation = await explainer.explain(image);
    draw('image', image);
    draw('heatmap', explanation.heatmap(0));
    status.textContent = `class ${explanation.targets[0]} (logit ${explanation.targetLogits[0].toFixed(3)}) on ${lrp.adapter}`;
    (window as { explanation?: Explanation }).explanation = explanation; // for the console (and the package test)
  };
  document.getElementById('file')!.addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) explain(file).catch((err: Error) => (status.textContent = err.message));
  });
  await explain(new URL(params.get('image') ?? 'image.png', location.href));
} catch (e) {
  status.textContent = (e as Error).message;
  (window as { explanationError?: string }).explanationError = (e as Error).message;
}
