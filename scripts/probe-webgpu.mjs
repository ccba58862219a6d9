// Prints the WebGPU adapter Dawn finds, or exits 3 when there is none.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.log('no WebGPU adapter');
  process.exit(3);
}
const i = adapter.info;
console.log(`WebGPU adapter: ${i.description || i.device} (${i.vendor}, ${i.architecture})`);
const device = await adapter.requestDevice();
device.destroy();
