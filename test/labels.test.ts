import { describe, expect, it } from 'vitest';
import { parseLabels } from '../src/io/labels.ts';

describe('parseLabels', () => {
  it('takes synset_words.txt lines without their synset, and plain lines as they are', () => {
    expect(parseLabels('n01440764 tench, Tinca tinca\n\nn01443537 goldfish\r\n', 'synset_words.txt')).toEqual(['tench, Tinca tinca', 'goldfish']);
    expect(parseLabels('cat\n  dog \n', 'classes.txt')).toEqual(['cat', 'dog']);
  });

  it("takes a JSON list and Keras' index map, by name or by content", () => {
    expect(parseLabels('["a", "b"]', 'names')).toEqual(['a', 'b']);
    expect(parseLabels('{"1": ["n2", "dog"], "0": ["n1", "cat"]}', 'imagenet_class_index.json')).toEqual(['cat', 'dog']);
  });

  it('names the file when JSON is broken or of the wrong shape', () => {
    expect(() => parseLabels('{"0": ', 'l.json')).toThrow(/^l\.json: not valid JSON/);
    expect(() => parseLabels('7', 'l.json')).toThrow(/^l\.json: expected a list of class names/);
  });
});
