import { argumentError } from './arguments.ts';

/**
 * Class names for printing, from the text of a labels file: `synset_words.txt` ("n01440764 tench,
 * Tinca tinca" gives "tench, Tinca tinca"), Keras' `imagenet_class_index.json` ({"0": ["n01440764",
 * "tench"]} gives "tench"), a JSON list of names, or any text with one name per line. Node reads
 * the file (src/node/labels.ts), the page takes it from a file picker; both parse it here.
 *
 * The text is JSON when `source` ends in `.json` or the text starts with `[` or `{` (a page's file
 * may come without a telling name); blank lines are skipped. `source` names the text in errors
 * (a file name; default `parseLabels`).
 */
export function parseLabels(text: string, source = 'parseLabels'): string[] {
  if (typeof text !== 'string') throw argumentError('parseLabels', 'text', 'the text of a labels file (a string)', text);
  if (typeof source !== 'string') throw argumentError('parseLabels', 'source', 'a name for messages (a string, or left out)', source);
  if (source.endsWith('.json') || /^\s*[[{]/.test(text)) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
    }
    if (Array.isArray(json)) return json.map(String);
    if (json && typeof json === 'object') {
      const out: string[] = [];
      for (const [k, v] of Object.entries(json as Record<string, unknown>)) out[Number(k)] = Array.isArray(v) ? String(v[v.length - 1]) : String(v);
      return out;
    }
    throw new Error(`${source}: expected a list of class names or an index → name object`);
  }
  return text.split(/\r?\n/).filter((l) => l.trim()).map((l) => {
    const m = /^n\d{8}\s+(.*)$/.exec(l.trim());
    return m ? m[1] : l.trim();
  });
}
