/**
 * VOC annotation XML for a synthetic image, and the other text files of a VOC-format folder:
 * browser-safe string builders (the CLI writes them to disk).
 */
import type { SynthSample } from './generate.ts';
import { SYNTH_CLASSES } from './shapes.ts';

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The `Annotations/NAME.xml` of a sample whose image file is `filename` (e.g. `synth_000001.png`). */
export function vocXml(sample: SynthSample, filename: string, folder = 'synth'): string {
  const { width, height } = sample.image;
  const lines = [
    '<annotation>',
    `\t<folder>${escapeXml(folder)}</folder>`,
    `\t<filename>${escapeXml(filename)}</filename>`,
    '\t<source>',
    '\t\t<database>webgpu-lrp synthetic boxes</database>',
    '\t</source>',
    '\t<size>',
    `\t\t<width>${width}</width>`,
    `\t\t<height>${height}</height>`,
    '\t\t<depth>3</depth>',
    '\t</size>',
    '\t<segmented>0</segmented>',
  ];
  for (const o of sample.objects) {
    lines.push(
      '\t<object>',
      `\t\t<name>${o.name}</name>`,
      '\t\t<pose>Unspecified</pose>',
      '\t\t<truncated>0</truncated>',
      '\t\t<difficult>0</difficult>',
      '\t\t<bndbox>',
      `\t\t\t<xmin>${o.box.xmin}</xmin>`,
      `\t\t\t<ymin>${o.box.ymin}</ymin>`,
      `\t\t\t<xmax>${o.box.xmax}</xmax>`,
      `\t\t\t<ymax>${o.box.ymax}</ymax>`,
      '\t\t</bndbox>',
      '\t</object>',
    );
  }
  lines.push('</annotation>', '');
  return lines.join('\n');
}

/** `classes.txt`: one class name per line, in class-index order. */
export function classesText(): string {
  return `${SYNTH_CLASSES.join('\n')}\n`;
}

/** The multi-hot label vector of a sample (1 where a class occurs). */
export function labelVector(sample: SynthSample): Uint8Array {
  const y = new Uint8Array(SYNTH_CLASSES.length);
  for (const o of sample.objects) y[o.classIndex] = 1;
  return y;
}
