// Explains an image with LRP and writes its heatmap (and, if asked, the raw relevance as .npy):
//   node explain.mjs MODEL.onnx IMAGE.jpg [heatmap.png] [relevance.npy]
// MODEL.onnx.json beside the model says how images are resized and normalised.
import { Lrp, readImage, writeNpy, writePng } from 'webgpu-lrp/node';

const [modelPath, imagePath, heatmapPath = 'heatmap.png', relevancePath] = process.argv.slice(2);
const lrp = await Lrp.create();                                   // your GPU through Dawn, or lavapipe on the CPU
const model = await lrp.loadModel(modelPath);
const explainer = await model.explainer('cmp-alpha2-flat');       // the paper's best composite
const explanation = await explainer.explain(await readImage(imagePath), { target: 'predicted' });
await writePng(heatmapPath, explanation.heatmap(0));
if (relevancePath) await writeNpy(relevancePath, explanation.relevance);
console.log(`class ${explanation.targets[0]} (logit ${explanation.targetLogits[0].toFixed(3)}), relevance sum ${explanation.relevanceSums[0].toFixed(3)}; wrote ${heatmapPath}`);
lrp.destroy();
