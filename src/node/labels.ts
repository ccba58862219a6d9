/** Reads a labels file (formats: src/io/labels.ts). */
import { readFileSync } from 'node:fs';
import { parseLabels } from '../io/labels.ts';

export function readLabels(path: string): string[] {
  return parseLabels(readFileSync(path, 'utf8'), path);
}
