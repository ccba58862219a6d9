/** Reads a labels file (formats: src/io/labels.ts). */
import { readFileNamed } from './file-errors.ts';
import { parseLabels } from '../io/labels.ts';

/** Class names from a labels file: synset_words.txt, a JSON list or index → name object, or one name per line. */
export function readLabels(path: string): string[] {
  return parseLabels(readFileNamed(path, 'read the labels file'), path);
}
