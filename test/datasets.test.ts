import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countPairs, fitVocBox, vocBoxProblem } from '../src/eval/pairs.ts';
import type { Skip } from '../src/eval/types.ts';
import { openDataset, parseAnnotation, parseDatasetSpec, readSynsets, VOC_CLASSES } from '../src/node/datasets/index.ts';
import { sharedPath } from './helpers/shared.ts';

const DATA = sharedPath('data/');
const VOC = join(DATA, 'voc2012-sample');
const IMAGENET = join(DATA, 'imagenet-val-sample');
const LABELS = join(DATA, 'labels');
const haveVoc = existsSync(join(VOC, 'Annotations'));
const haveImageNet = existsSync(join(IMAGENET, 'annotations')) && existsSync(join(LABELS, 'synset_words.txt'));
if (!haveVoc) console.warn(`datasets.test: ${VOC} is absent; skipping the tests on the real VOC sample`);
if (!haveImageNet) console.warn(`datasets.test: ${IMAGENET} or ${LABELS}/synset_words.txt is absent; skipping the tests on the real ImageNet sample`);

interface Obj { name: string; box: [number | string, number | string, number | string, number | string]; difficult?: boolean }

function xml(file: string, w: number, h: number, objects: Obj[]): string {
  const objs = objects.map((o) => `
  <object>
    <name>${o.name}</name>
    <pose>Unspecified</pose>
    <truncated>0</truncated>
    <difficult>${o.difficult ? 1 : 0}</difficult>
    <bndbox><xmin>${o.box[0]}</xmin><ymin>${o.box[1]}</ymin><xmax>${o.box[2]}</xmax><ymax>${o.box[3]}</ymax></bndbox>
  </object>`).join('');
  return `<annotation>
  <folder>VOC2007</folder>
  <filename>${file}</filename>
  <size><width>${w}</width><height>${h}</height><depth>3</depth></size>${objs}
</annotation>
`;
}

const reasonsOf = (skips: readonly Skip[], id: string) => skips.filter((s) => s.id === id).map((s) => s.reason);

describe('annotation parsing and box checks', () => {
  it('parses a VOC annotation: size, objects, difficult, boxes; nested <part> boxes are not objects', () => {
    const a = parseAnnotation(`<annotation><filename>x.jpg</filename><size><width>40</width><height>30</height></size>
      <object><name>person</name><difficult>1</difficult><bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20.5</xmax><ymax>30</ymax></bndbox>
        <part><name>head</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>8</xmax><ymax>8</ymax></bndbox></part></object>
      <object><name> dog </name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax></xmax><ymax>4</ymax></bndbox></object>
    </annotation>`);
    expect(a.width).toBe(40);
    expect(a.height).toBe(30);
    expect(a.filename).toBe('x.jpg');
    expect(a.objects).toHaveLength(2);
    expect(a.objects[0]).toMatchObject({ index: 1, name: 'person', difficult: true, box: { xmin: 2, ymin: 3, xmax: 20.5, ymax: 30 } });
    expect(a.objects[1]).toMatchObject({ index: 2, name: 'dog', difficult: false, box: null });
    expect(a.objects[1].boxError).toContain('<xmax>');
  });

  it('rejects malformed XML and a wrong root, and reads a missing size as unknown (0)', () => {
    expect(() => parseAnnotation('<annotation><object></annotation>')).toThrow(/malformed XML/);
    expect(() => parseAnnotation('<foo/>')).toThrow(/no <annotation>/);
    expect(parseAnnotation('<annotation><object><name>a</name></object></annotation>').width).toBe(0);
  });

  it('checks VOC boxes: 1-based inclusive, inside the image', () => {
    expect(vocBoxProblem({ xmin: 1, ymin: 1, xmax: 10, ymax: 5 }, 10, 5)).toBeNull();
    expect(vocBoxProblem({ xmin: 3, ymin: 3, xmax: 3, ymax: 3 }, 10, 5)).toBeNull(); // one pixel
    expect(vocBoxProblem({ xmin: 0, ymin: 1, xmax: 10, ymax: 5 }, 10, 5)).toMatch(/xmin < 1/);
    expect(vocBoxProblem({ xmin: 1, ymin: 1, xmax: 11, ymax: 5 }, 10, 5)).toMatch(/xmax > width 10/);
    expect(vocBoxProblem({ xmin: 5, ymin: 1, xmax: 4, ymax: 5 }, 10, 5)).toMatch(/xmin > xmax/);
    expect(vocBoxProblem({ xmin: 1, ymin: 1, xmax: 500, ymax: 5 }, 0, 0)).toBeNull(); // size unknown
  });

  it('clips a box one pixel past the image (0-based annotations), refuses anything further', () => {
    expect(fitVocBox({ xmin: 0, ymin: 0, xmax: 11, ymax: 6 }, 10, 5)).toEqual({ box: { xmin: 1, ymin: 1, xmax: 10, ymax: 5 }, clipped: true });
    expect(fitVocBox({ xmin: 2, ymin: 2, xmax: 3, ymax: 3 }, 10, 5)).toEqual({ box: { xmin: 2, ymin: 2, xmax: 3, ymax: 3 }, clipped: false });
    expect(fitVocBox({ xmin: -1, ymin: 1, xmax: 5, ymax: 5 }, 10, 5)).toEqual({ problem: expect.stringMatching(/xmin < 1/) });
    expect(fitVocBox({ xmin: 1, ymin: 1, xmax: 12, ymax: 5 }, 10, 5)).toEqual({ problem: expect.stringMatching(/xmax > width 10/) });
  });
});

describe('openDataset', () => {
  it('names the kinds and the missing folder', async () => {
    expect(parseDatasetSpec('voc:/a/b:c')).toEqual({ kind: 'voc', dir: '/a/b:c' });
    await expect(openDataset('coco:/tmp')).rejects.toThrow(/unknown dataset kind "coco".*voc, imagenet/);
    await expect(openDataset('/tmp/x')).rejects.toThrow(/no dataset kind/);
    await expect(openDataset('voc:')).rejects.toThrow(/no folder/);
    await expect(openDataset('voc:/no/such/folder')).rejects.toThrow(/\/no\/such\/folder: dataset folder not found/);
    await expect(openDataset(`imagenet:${tmpdir()}`)).rejects.toThrow(/--labels/);
  });
});

describe.skipIf(!haveVoc)('the real VOC 2012 sample', () => {
  it('reads 40 images, 58 (class, image) pairs, with a note on the missing ImageSets', async () => {
    const ds = await openDataset(`voc:${VOC}`);
    expect(ds.kind).toBe('voc');
    expect(ds.classNames).toEqual(VOC_CLASSES);
    expect(ds.samples).toHaveLength(40);
    expect(countPairs(ds.samples)).toBe(58);
    expect(ds.samples.flatMap((s) => s.classes).reduce((n, c) => n + c.boxes.length, 0)).toBe(86); // every <object>
    expect(ds.skips).toEqual([]);
    expect(ds.notes.join('\n')).toMatch(/no ImageSets\/Main: using all 40 annotations/);
    const ids = ds.samples.map((s) => s.id);
    expect(ids).toEqual([...ids].sort());
    expect(ids[0]).toBe('2007_000027');
    // 19 of the 20 classes occur (no motorbike)
    expect(new Set(ds.samples.flatMap((s) => s.classes.map((c) => c.className))).size).toBe(19);
  });

  it('groups a class\'s boxes into one pair: 2007_000032 is two aeroplanes and two persons', async () => {
    const ds = await openDataset(`voc:${VOC}`);
    const s = ds.samples.find((x) => x.id === '2007_000032')!;
    expect(s.imagePath).toBe(join(VOC, 'JPEGImages', '2007_000032.jpg'));
    expect(s.annotationPath).toBe(join(VOC, 'Annotations', '2007_000032.xml'));
    expect([s.width, s.height]).toEqual([500, 281]);
    expect(s.classes).toEqual([
      { classIndex: 0, className: 'aeroplane', boxes: [{ xmin: 104, ymin: 78, xmax: 375, ymax: 183 }, { xmin: 133, ymin: 88, xmax: 197, ymax: 123 }] },
      { classIndex: 14, className: 'person', boxes: [{ xmin: 195, ymin: 180, xmax: 213, ymax: 229 }, { xmin: 26, ymin: 189, xmax: 44, ymax: 238 }] },
    ]);
  });

  it('skipDifficult leaves out the 15 difficult boxes; classes with only difficult boxes become Skips', async () => {
    const ds = await openDataset(`voc:${VOC}`, { skipDifficult: true });
    expect(countPairs(ds.samples)).toBe(50);
    expect(ds.samples.flatMap((s) => s.classes).reduce((n, c) => n + c.boxes.length, 0)).toBe(86 - 15);
    expect(ds.skips).toHaveLength(8);
    expect(ds.skips.every((s) => s.classIndex !== undefined && /only difficult boxes/.test(s.reason))).toBe(true);
  });

  it('takes a labels file, and refuses a list with a duplicate', async () => {
    const ds = await openDataset(`voc:${VOC}`, { labels: join(LABELS, 'voc_classes.txt') });
    expect(ds.classNames).toEqual(VOC_CLASSES);
    const dir = await mkdtemp(join(tmpdir(), 'voc-labels-'));
    try {
      await writeFile(join(dir, 'l.txt'), 'person\ncat\nperson\n');
      await expect(openDataset(`voc:${VOC}`, { labels: join(dir, 'l.txt') })).rejects.toThrow(/"person" is listed twice/);
      // A shorter list: the other classes become per-pair Skips, and indices follow the file.
      await writeFile(join(dir, 'l.txt'), 'person\ncat\n');
      const two = await openDataset(`voc:${VOC}`, { labels: join(dir, 'l.txt') });
      expect(two.samples.every((s) => s.classes.every((c) => (c.className === 'person' ? 0 : 1) === c.classIndex))).toBe(true);
      expect(two.skips.some((s) => /class "aeroplane" is not in the label list/.test(s.reason))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!haveImageNet)('the real ImageNet validation sample', () => {
  it('reads 14 images, one pair each, the synset\'s index in the sorted list', async () => {
    const ds = await openDataset(`imagenet:${IMAGENET}`, { labels: join(LABELS, 'synset_words.txt') });
    expect(ds.kind).toBe('imagenet');
    expect(ds.samples).toHaveLength(14);
    expect(countPairs(ds.samples)).toBe(14);
    expect(ds.skips).toEqual([]);
    expect(ds.classNames).toHaveLength(1000);
    expect(ds.classNames).toEqual([...ds.classNames].sort());
    expect(ds.classNames[0]).toBe('n01440764');
    expect(ds.displayNames[0]).toBe('tench');
    const byId = new Map(ds.samples.map((s) => [s.id, s]));
    const tench = byId.get('ILSVRC2012_val_00000293')!;
    expect(tench.classes).toEqual([{ classIndex: 0, className: 'n01440764', boxes: [{ xmin: 175, ymin: 184, xmax: 499, ymax: 341 }, { xmin: 236, ymin: 129, xmax: 498, ymax: 280 }] }]);
    expect(tench.imagePath).toBe(join(IMAGENET, 'images', 'ILSVRC2012_val_00000293.JPEG'));
    const bakery = byId.get('ILSVRC2012_val_00000008')!;
    expect(bakery.classes[0]).toMatchObject({ classIndex: 415, className: 'n02776631' });
    expect(bakery.classes[0].boxes).toHaveLength(4);
    expect(ds.displayNames[415]).toBe('bakery');
    expect([bakery.width, bakery.height]).toEqual([500, 375]);
  });

  it('clips the boxes at coordinate 0 (ILSVRC is 0-based) and says so', async () => {
    const ds = await openDataset(`imagenet:${IMAGENET}`, { labels: join(LABELS, 'synset_words.txt') });
    const s = ds.samples.find((x) => x.id === 'ILSVRC2012_val_00002675')!;
    expect(s.classes[0].boxes).toEqual([{ xmin: 213, ymin: 1, xmax: 345, ymax: 498 }]);
    expect(ds.notes.join('\n')).toMatch(/2 box\(es\) in 2 image\(s\).*ILSVRC2012_val_00002675, ILSVRC2012_val_00038800/);
  });

  it('imagenet_class_index.json gives the same samples as synset_words.txt', async () => {
    const a = await openDataset(`imagenet:${IMAGENET}`, { labels: join(LABELS, 'synset_words.txt') });
    const b = await openDataset(`imagenet:${IMAGENET}`, { labels: join(LABELS, 'imagenet_class_index.json') });
    expect(b.samples).toEqual(a.samples);
    expect(b.classNames).toEqual(a.classNames);
    expect(readSynsets(join(LABELS, 'imagenet_class_index.json')).synsets).toEqual(readSynsets(join(LABELS, 'synset_words.txt')).synsets);
  });

  it('refuses a label file without synsets, naming it', async () => {
    await expect(openDataset(`imagenet:${IMAGENET}`, { labels: join(LABELS, 'voc_classes.txt') })).rejects.toThrow(/voc_classes\.txt:1: "aeroplane" is not a synset id/);
  });
});

describe('a VOC-format fixture with every kind of bad input', () => {
  let root: string;
  const W = 40, H = 30;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'voc-fixture-'));
    const voc = join(root, 'VOCdevkit', 'VOC2007');
    for (const d of ['JPEGImages', 'Annotations', 'ImageSets/Main']) await mkdir(join(voc, d), { recursive: true });
    const ann: Record<string, string> = {
      '000001': xml('000001.jpg', W, H, [
        { name: 'dog', box: [1, 1, 10, 10] },
        { name: 'person', box: [5, 5, 40, 30] },
        { name: 'dog', box: [20, 5, 30, 15], difficult: true },
      ]),
      '000002': '<annotation><size><width>40</width></size><object><name>dog</name></annotation>', // malformed
      '000003': xml('000003.jpg', W, H, [{ name: 'cat', box: [1, 1, 5, 5] }]), // its image is missing
      '000004': xml('000004.jpg', W, H, [{ name: 'unicorn', box: [1, 1, 5, 5] }, { name: 'cat', box: [2, 2, 6, 6] }, { name: 'unicorn', box: [3, 3, 7, 7] }]),
      '000005': xml('000005.jpg', W, H, [{ name: 'car', box: [10, 10, 45, 20] }, { name: 'car', box: [1, 1, 5, 5] }, { name: 'bird', box: [1, 1, 40, 30] }]),
      '000006': xml('000006.jpg', W, H, [{ name: 'chair', box: [1, 1, 5, 5], difficult: true }, { name: 'sofa', box: [1, 1, 5, 5] }]),
      '000007': xml('000007.jpg', W, H, [{ name: 'horse', box: [0, 3, 41, 30] }]), // 0-based: clipped
      '000008': xml('000008.jpg', W, H, [{ name: 'cow', box: [1, 1, 5, 5] }]), // trainval only
      '000010': xml('000010.jpg', W, H, [{ name: 'boat', box: [9, 1, 5, 5] }, { name: 'train', box: ['x', 1, 5, 5] }, { name: 'sheep', box: [1, 1, 5, 5] }]),
      '000011': xml('000011.jpg', W, H, [{ name: '', box: [1, 1, 5, 5] }, { name: 'cat', box: [1, 1, 5, 5] }]),
      '000012': xml('000012.jpg', W, H, []),
    };
    for (const [id, text] of Object.entries(ann)) {
      await writeFile(join(voc, 'Annotations', `${id}.xml`), text);
      if (id !== '000003') await writeFile(join(voc, 'JPEGImages', `${id}.jpg`), 'not read by the reader');
    }
    // 000009 is listed but has no annotation; the split is deliberately unsorted.
    await writeFile(join(voc, 'ImageSets/Main/test.txt'), ['000012', '000001', '000002', '000003', '000004', '000005', '000006', '000007', '000009', '000010', '000011'].join('\n') + '\n');
    await writeFile(join(voc, 'ImageSets/Main/trainval.txt'), '000008\n');
    await writeFile(join(voc, 'ImageSets/Main/dog_test.txt'), '000001  1\n');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('gives one Sample per usable image and a Skip, naming the file, for each problem', async () => {
    const voc = join(root, 'VOCdevkit', 'VOC2007');
    const ds = await openDataset(`voc:${voc}`);
    expect(ds.root).toBe(voc);
    expect(ds.samples.map((s) => s.id)).toEqual(['000001', '000004', '000005', '000006', '000007', '000010']);
    const get = (id: string) => ds.samples.find((s) => s.id === id)!;

    // multi-label, difficult included by default, classes in label order
    expect(get('000001').classes).toEqual([
      { classIndex: 11, className: 'dog', boxes: [{ xmin: 1, ymin: 1, xmax: 10, ymax: 10 }, { xmin: 20, ymin: 5, xmax: 30, ymax: 15 }] },
      { classIndex: 14, className: 'person', boxes: [{ xmin: 5, ymin: 5, xmax: 40, ymax: 30 }] },
    ]);
    expect(reasonsOf(ds.skips, '000001')).toEqual([]);

    const a = (id: string) => join(voc, 'Annotations', `${id}.xml`);
    expect(reasonsOf(ds.skips, '000002')).toEqual([expect.stringMatching(new RegExp(`^${a('000002')}: malformed XML`))]);
    expect(reasonsOf(ds.skips, '000003')).toEqual([`${join(voc, 'JPEGImages', '000003.jpg')}: image file not found (annotation ${a('000003')})`]);

    // unknown class: one Skip per distinct name, the known class stays
    expect(get('000004').classes.map((c) => c.className)).toEqual(['cat']);
    expect(ds.skips.filter((s) => s.id === '000004')).toEqual([{ id: '000004', className: 'unicorn', reason: `${a('000004')}: class "unicorn" is not in the label list` }]);

    // a box outside the image skips its pair (not the image): the other car box does not save it
    expect(get('000005').classes.map((c) => c.className)).toEqual(['bird']);
    const car = ds.skips.find((s) => s.id === '000005')!;
    expect(car).toMatchObject({ classIndex: 6, className: 'car' });
    expect(car.reason).toBe(`${a('000005')}: object #1 (car): box (xmin 10, ymin 10, xmax 45, ymax 20) is not inside the 40x30 image: xmax > width 40`);

    expect(get('000006').classes.map((c) => c.className)).toEqual(['chair', 'sofa']);
    expect(get('000007').classes[0].boxes).toEqual([{ xmin: 1, ymin: 3, xmax: 40, ymax: 30 }]);
    expect(ds.notes.join('\n')).toMatch(/1 box\(es\) in 1 image\(s\) reach one pixel past the image.*000007/);

    expect(reasonsOf(ds.skips, '000009')).toEqual([expect.stringMatching(new RegExp(`^${a('000009')}: cannot read the annotation`))]);

    expect(get('000010').classes.map((c) => c.className)).toEqual(['sheep']);
    expect(ds.skips.filter((s) => s.id === '000010').map((s) => [s.className, s.reason.slice(a('000010').length + 2)])).toEqual([
      ['boat', 'object #1 (boat): box (xmin 9, ymin 1, xmax 5, ymax 5) is not inside the 40x30 image: xmin > xmax'],
      ['train', 'object #2 (train): <bndbox> <xmin> missing or not a number'],
    ]);
    expect(reasonsOf(ds.skips, '000011')).toEqual([`${a('000011')}: object #1 has no <name>`]);
    expect(reasonsOf(ds.skips, '000012')).toEqual([`${a('000012')}: no <object> in the annotation`]);
    // image-level skips carry no class
    for (const id of ['000002', '000003', '000009', '000011', '000012']) expect(ds.skips.find((s) => s.id === id)!.classIndex).toBeUndefined();
    expect(ds.skips.map((s) => s.id)).toEqual([...ds.skips.map((s) => s.id)].sort());
    expect(ds.notes.join('\n')).not.toMatch(/ImageSets/);
  });

  it('skipDifficult drops difficult boxes; a class left without boxes is a Skip', async () => {
    const ds = await openDataset(`voc:${join(root, 'VOCdevkit', 'VOC2007')}`, { skipDifficult: true });
    const s1 = ds.samples.find((s) => s.id === '000001')!;
    expect(s1.classes[0]).toEqual({ classIndex: 11, className: 'dog', boxes: [{ xmin: 1, ymin: 1, xmax: 10, ymax: 10 }] });
    expect(ds.samples.find((s) => s.id === '000006')!.classes.map((c) => c.className)).toEqual(['sofa']);
    expect(ds.skips.find((s) => s.id === '000006')).toMatchObject({ classIndex: 8, className: 'chair', reason: expect.stringMatching(/only difficult boxes \(1\)/) });
  });

  it('reads other splits, unions of splits, and a VOCdevkit folder; refuses an unknown split naming the known ones', async () => {
    const voc = join(root, 'VOCdevkit', 'VOC2007');
    expect((await openDataset(`voc:${voc}`, { split: 'trainval' })).samples.map((s) => s.id)).toEqual(['000008']);
    const all = await openDataset(`voc:${voc}`, { split: 'trainval+test' });
    expect(all.samples.map((s) => s.id)).toEqual(['000001', '000004', '000005', '000006', '000007', '000008', '000010']);
    const devkit = await openDataset(`voc:${join(root, 'VOCdevkit')}`);
    expect(devkit.root).toBe(voc);
    expect(devkit.notes.join('\n')).toMatch(/is a VOCdevkit: reading/);
    await expect(openDataset(`voc:${voc}`, { split: 'val' })).rejects.toThrow(/val\.txt: no such split \(known: test, trainval\)/);
  });
});

describe('an ImageNet fixture, images and XML side by side', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imagenet-fixture-'));
    const files: Record<string, string> = {
      'ILSVRC2012_val_00000001.xml': xml('ILSVRC2012_val_00000001', 50, 40, [{ name: 'n00000002', box: [1, 1, 10, 10] }, { name: 'n00000002', box: [20, 20, 50, 40] }]),
      // several synsets: the first object's is measured, the others' boxes are ignored (even a bad one)
      'ILSVRC2012_val_00000002.xml': xml('ILSVRC2012_val_00000002', 50, 40, [{ name: 'n00000003', box: [2, 2, 9, 9] }, { name: 'n00000001', box: [0, 0, 99, 99] }, { name: 'n00000003', box: [3, 3, 8, 8] }]),
      'ILSVRC2012_val_00000003.xml': xml('ILSVRC2012_val_00000003', 50, 40, [{ name: 'n09999999', box: [1, 1, 10, 10] }]),
    };
    for (const [f, text] of Object.entries(files)) await writeFile(join(dir, f), text);
    for (const id of ['00000001', '00000002', '00000003', '00000004']) await writeFile(join(dir, `ILSVRC2012_val_${id}.JPEG`), 'x');
    // deliberately unsorted: the index is the position in the sorted list
    await writeFile(join(dir, 'synsets.txt'), 'n00000003 three, trois\nn00000001 one\nn00000002 two\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('one pair per image, sorted synset indices, notes and Skips', async () => {
    const ds = await openDataset(`imagenet:${dir}`, { labels: join(dir, 'synsets.txt') });
    expect(ds.classNames).toEqual(['n00000001', 'n00000002', 'n00000003']);
    expect(ds.displayNames).toEqual(['one', 'two', 'three']);
    expect(ds.samples.map((s) => [s.id, s.classes.map((c) => [c.classIndex, c.className, c.boxes.length])])).toEqual([
      ['ILSVRC2012_val_00000001', [[1, 'n00000002', 2]]],
      ['ILSVRC2012_val_00000002', [[2, 'n00000003', 2]]],
    ]);
    expect(ds.skips.map((s) => [s.id, s.className, s.reason.replaceAll(dir, 'DIR')])).toEqual([
      ['ILSVRC2012_val_00000003', 'n09999999', 'DIR/ILSVRC2012_val_00000003.xml: class "n09999999" is not in the label list'],
      ['ILSVRC2012_val_00000004', undefined, 'DIR/ILSVRC2012_val_00000004.JPEG: no annotation DIR/ILSVRC2012_val_00000004.xml'],
    ]);
    const notes = ds.notes.join('\n');
    expect(notes).toMatch(/not in sorted synset order/);
    expect(notes).toMatch(/lists 3 synsets, not ImageNet's 1,000/);
    expect(notes).toMatch(/1 annotation\(s\) name several synsets.*ILSVRC2012_val_00000002/);
    expect(notes).toMatch(/side by side/);
  });
});
