/**
 * What the WebGPU adapter offers, with Dawn's `allow_unsafe_apis` toggle on (experimental
 * features are listed only then): its info, every feature, the limits that matter for the
 * kernels, subgroup sizes, and the subgroup-matrix configurations (the cooperative-matrix shapes
 * a tensor-core path would be built on). Each feature of interest is then asked for in a device of
 * its own, and a one-line shader using it is compiled, so "listed" and "works" are told apart.
 *
 *   npx tsx bench/adapter-probe.ts [--dawn OPT ...] [--json FILE]
 *
 * --dawn replaces the default options (`enable-dawn-features=allow_unsafe_apis`).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);

const { values: args } = parseArgs({
  options: {
    dawn: { type: 'string', multiple: true },
    json: { type: 'string' },
  },
});
const dawnOptions = args.dawn ?? ['enable-dawn-features=allow_unsafe_apis'];

/** A shader that needs each feature (compiled to check the feature is usable, not only listed). */
const PROBES: Record<string, string> = {
  'shader-f16': 'enable f16;\n@compute @workgroup_size(1) fn main() { var h: f16 = 1.0h; h = h * 2.0h; }',
  subgroups: 'enable subgroups;\n@group(0) @binding(0) var<storage, read_write> o: array<u32>;\n'
    + '@compute @workgroup_size(64) fn main(@builtin(subgroup_invocation_id) i: u32) { o[i] = subgroupAdd(i); }',
  'chromium-experimental-subgroup-matrix': 'enable chromium_experimental_subgroup_matrix;\n'
    + '@compute @workgroup_size(64) fn main() { var m: subgroup_matrix_result<f32, 8, 8>; }',
};

const LIMITS = [
  'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
] as const;

const gpu = create(dawnOptions);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.error('no WebGPU adapter');
  process.exit(3);
}
type Info = GPUAdapterInfo & {
  isFallbackAdapter?: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  subgroupMatrixConfigs?: readonly { componentType: string; resultComponentType: string; M: number; N: number; K: number }[];
};
const info = adapter.info as Info;
const features = [...adapter.features].sort();
const limits = Object.fromEntries(LIMITS.map((k) => [k, adapter.limits[k]]));
const matrixConfigs = (info.subgroupMatrixConfigs ?? []).map((c) => ({
  componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K,
}));

console.log(`dawn options: ${dawnOptions.join(' ') || '(none)'}`);
console.log(`adapter:      ${info.description || info.device} (vendor ${info.vendor}, architecture ${info.architecture}${info.isFallbackAdapter ? ', fallback' : ''})`);
console.log(`subgroups:    size ${info.subgroupMinSize ?? '?'} to ${info.subgroupMaxSize ?? '?'}`);
console.log(`features:     ${features.join(', ')}`);
console.log('limits:');
for (const [k, v] of Object.entries(limits)) console.log(`  ${k.padEnd(36)} ${v}`);
console.log(`subgroup-matrix configurations: ${matrixConfigs.length ? '' : 'none'}`);
for (const c of matrixConfigs) console.log(`  ${c.componentType} x ${c.componentType} -> ${c.resultComponentType}: M ${c.M}, N ${c.N}, K ${c.K}`);

const checks: Record<string, string> = {};
for (const [feature, code] of Object.entries(PROBES)) {
  if (!adapter.features.has(feature)) {
    checks[feature] = 'not offered';
    continue;
  }
  try {
    // An adapter makes one device: a fresh one per check.
    const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!a) throw new Error('no adapter the second time');
    const device = await a.requestDevice({ requiredFeatures: [feature as GPUFeatureName] });
    const mod = device.createShaderModule({ code });
    const errors = (await mod.getCompilationInfo()).messages.filter((m) => m.type === 'error');
    checks[feature] = errors.length ? `device ok, shader fails: ${errors[0].message}` : 'device and shader ok';
    device.destroy();
  } catch (e) {
    checks[feature] = `requestDevice fails: ${(e as Error).message}`;
  }
}
console.log('usable:');
for (const [k, v] of Object.entries(checks)) console.log(`  ${k.padEnd(40)} ${v}`);

if (args.json) {
  writeFileSync(args.json, `${JSON.stringify({
    dawnOptions, info: {
      vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
      isFallbackAdapter: info.isFallbackAdapter ?? null, subgroupMinSize: info.subgroupMinSize ?? null, subgroupMaxSize: info.subgroupMaxSize ?? null,
    }, features, limits, subgroupMatrixConfigs: matrixConfigs, checks,
  }, null, 2)}\n`);
}
