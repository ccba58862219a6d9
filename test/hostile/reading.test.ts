// Hostile cases, class "reading where it should not" (issue 25, findings 3 and 4): a path named
// inside a file (patterns.json's `file`, an ONNX tensor's external-data location, a VOC ImageSets
// id) is resolved inside the folder the file speaks for and refused when it leaves it
// (src/node/contained-path.ts); a pattern file, .npy or model that is not a regular file (a FIFO,
// a symlink to /dev/zero) is refused instead of being read forever. The endless cases run in a
// child process with a time limit, so a reader that blocks fails the test instead of hanging it.
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../src/io/npy.ts';
import { readVoc } from '../../src/node/datasets/voc.ts';
import { loadModel } from '../../src/node/model-file.ts';
import { readPatterns } from '../../src/node/patterns/files.ts';
import { writeSynthDataset } from '../../src/node/synth-dataset.ts';
import { modelProto, node } from '../helpers/onnx-writer.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DEMO = join(ROOT, 'models', 'demo', 'demo.onnx');

const tmp = mkdtempSync(join(tmpdir(), 'lrp-hostile-read-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => {
  const d = join(tmp, `${name}-${n++}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A patterns.json naming `file` for the demo model's first linear node. */
function patternsFolder(file: string): { dir: string; node: string } {
  const dir = fresh('patterns');
  const graph = loadModel(DEMO).graph;
  const first = graph.layers.find((l) => l.kind === 'conv' || l.kind === 'dense')!;
  writeFileSync(join(dir, 'patterns.json'), JSON.stringify({
    format: 'webgpu-lrp/patterns@1', model: 'demo.onnx', weights: 'x', pattern_type: 'relu', layers: [{ node: first.name, file, shape: [1], rows: 1 }],
  }));
  return { dir, node: first.name };
}

/**
 * Runs `body` (an async function body with `src(path)` to import a module of src/node) in a child
 * process, at most `seconds`: what it printed, or 'timeout' when it never returned (a reader that
 * blocks on a FIFO or reads /dev/zero must fail the test, not hang or exhaust the runner).
 */
function inChild(body: string, seconds: number): Promise<string> {
  const code = `const src = (p) => import(${JSON.stringify(join(ROOT, 'src/node/'))} + p);
    try { ${body} } catch (e) { console.log(e.message); }`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--max-old-space-size=256', '--import', 'tsx', '--input-type=module', '-e', code],
      { cwd: ROOT, timeout: seconds * 1000, encoding: 'utf8' },
      (err, stdout) => resolve(err && (err as { killed?: boolean }).killed ? 'timeout' : stdout.trim()));
  });
}

/** `readPatterns(dir, demo graph)` in a child process (inChild). */
function readPatternsInChild(dir: string, seconds: number): Promise<string> {
  return inChild(`const { loadModel } = await src('model-file.ts');
    const { readPatterns } = await src('patterns/files.ts');
    readPatterns(${JSON.stringify(dir)}, loadModel(${JSON.stringify(DEMO)}).graph); console.log('read');`, seconds);
}

describe('patterns.json entries stay in the patterns folder', () => {
  it('refuses a file entry that climbs out with ..', () => {
    const { dir } = patternsFolder('../../../../../../etc/passwd');
    expect(() => readPatterns(dir, loadModel(DEMO).graph))
      .toThrow(/patterns\.json: the pattern file of node '.*' "\.\.\/\.\.\/.*etc\/passwd" lies outside/);
  });

  it('refuses an absolute file entry', () => {
    const { dir } = patternsFolder('/etc/passwd');
    expect(() => readPatterns(dir, loadModel(DEMO).graph)).toThrow(/patterns\.json: .*"\/etc\/passwd" is an absolute path/);
  });

  it('refuses an entry that is a symlink to a file outside the folder', () => {
    const outside = join(fresh('outside'), 'secret.npy');
    writeFileSync(outside, encodeNpy([1], new Float32Array(1)));
    const { dir } = patternsFolder('p.npy');
    symlinkSync(outside, join(dir, 'p.npy'));
    expect(() => readPatterns(dir, loadModel(DEMO).graph)).toThrow(/patterns\.json: .*"p\.npy" is a link to .*secret\.npy, outside/);
  });
});

describe('endless pattern files are refused, not read forever', () => {
  it('a pattern file that is a FIFO', async () => {
    const { dir, node: name } = patternsFolder('p.npy');
    execFileSync('mkfifo', [join(dir, 'p.npy')]);
    const msg = await readPatternsInChild(dir, 30);
    expect(msg).toBe(`${join(dir, 'p.npy')}: the pattern file of node '${name}' is a FIFO, not a regular file`);
  }, 60_000);

  it('a pattern file that is a symlink to /dev/zero', async () => {
    // A folder without patterns.json is read by node names: the node's file is the link.
    const dir = fresh('patterns');
    const graph = loadModel(DEMO).graph;
    const first = graph.layers.find((l) => l.kind === 'conv' || l.kind === 'dense')!;
    const file = `${first.name.replace(/[^\w.-]+/g, '_')}.npy`;
    symlinkSync('/dev/zero', join(dir, file));
    // /dev/zero lies outside the folder: refused as such, before anything is read.
    expect(await readPatternsInChild(dir, 30)).toMatch(/is a link to \/dev\/zero, outside/);
  }, 60_000);

  it('a pattern file larger than its node could need', () => {
    const { dir, node: name } = patternsFolder('p.npy');
    writeFileSync(join(dir, 'p.npy'), Buffer.alloc(64 << 20));
    expect(() => readPatterns(dir, loadModel(DEMO).graph)).toThrow(new RegExp(`the pattern file of node '${name}' has ${64 << 20} bytes, more than the \\d+ it can have`));
  });

  it('a model or an image that is a FIFO, an input .npy that is a link to /dev/zero (lrp explain, predict, patterns)', async () => {
    const d = fresh('fifo');
    execFileSync('mkfifo', [join(d, 'model.onnx')]);
    expect(await inChild(`const { loadModel } = await src('model-file.ts'); loadModel(${JSON.stringify(join(d, 'model.onnx'))});`, 30))
      .toBe(`${join(d, 'model.onnx')}: the model file is a FIFO, not a regular file`);
    symlinkSync('/dev/zero', join(d, 'zero.npy'));
    expect(await inChild(`const { readNpy } = await src('npy-file.ts'); await readNpy(${JSON.stringify(join(d, 'zero.npy'))});`, 30))
      .toBe(`${join(d, 'zero.npy')}: the .npy file is a device, not a regular file`);
    execFileSync('mkfifo', [join(d, 'image.png')]);
    expect(await inChild(`const { readImage } = await src('image-decode.ts'); await readImage(${JSON.stringify(join(d, 'image.png'))});`, 30))
      .toBe(`${join(d, 'image.png')}: cannot read image: the image is a FIFO, not a regular file`);
  }, 90_000);
});

describe('ImageSets ids stay in the dataset', () => {
  it('refuses an id that climbs out of Annotations/, naming the split file and the id', async () => {
    const d = fresh('voc');
    writeSynthDataset(d, { images: 2, size: 32, seed: 1, split: 'test' });
    const outside = fresh('elsewhere');
    writeFileSync(join(outside, 'stolen.xml'), '<annotation><object><name>circle</name></object></annotation>');
    const split = join(d, 'ImageSets', 'Main', 'test.txt');
    writeFileSync(split, `synth_000001\n../../${outside.slice(tmp.length + 1)}/stolen\n`);
    await expect(readVoc(d, { labels: join(d, 'classes.txt') }))
      .rejects.toThrow(new RegExp(`${split.replace(/[.]/g, '\\.')}: image id "\\.\\./\\.\\./elsewhere-\\d+/stolen" .*lies outside`));
  });

  it('refuses an absolute id', async () => {
    const d = fresh('voc');
    writeSynthDataset(d, { images: 1, size: 32, seed: 1, split: 'test' });
    writeFileSync(join(d, 'ImageSets', 'Main', 'test.txt'), '/etc/passwd\n');
    await expect(readVoc(d, { labels: join(d, 'classes.txt') })).rejects.toThrow(/test\.txt: image id "\/etc\/passwd" .*absolute path/);
  });
});

describe('ONNX external data stays beside the model', () => {
  const model = (location: string) => modelProto({
    inputs: [{ name: 'x', dims: ['N', 2] }], outputs: [{ name: 'y', dims: ['N', 2] }],
    initializers: [{ name: 'W', dims: [2, 2], external: { location } }, { name: 'C', dims: [2], data: [0, 0] }],
    nodes: [node('Gemm', ['x', 'W', 'C'], ['y'], { transB: { i: 1 } }, 'fc')],
  });

  it('refuses a location that climbs out, and a symlink beside the model that points outside', () => {
    const d = fresh('onnx');
    writeFileSync(join(d, 'up.onnx'), model('../w.bin'));
    expect(() => loadModel(join(d, 'up.onnx'))).toThrow(/up\.onnx: external data location "\.\.\/w\.bin" lies outside/);
    const outside = join(fresh('outside'), 'w.bin');
    writeFileSync(outside, Buffer.alloc(16));
    symlinkSync(outside, join(d, 'w.bin'));
    writeFileSync(join(d, 'link.onnx'), model('w.bin'));
    expect(() => loadModel(join(d, 'link.onnx'))).toThrow(/link\.onnx: external data location "w\.bin" is a link to .*w\.bin, outside/);
  });

  it('still reads external data that stays in the folder', () => {
    const d = fresh('onnx');
    mkdirSync(join(d, 'weights'));
    writeFileSync(join(d, 'weights', 'w.bin'), Buffer.from(new Float32Array([1, 0, 0, 1]).buffer));
    writeFileSync(join(d, 'ok.onnx'), model('weights/w.bin'));
    expect(loadModel(join(d, 'ok.onnx')).externalData).toEqual(['weights/w.bin']);
  });
});
