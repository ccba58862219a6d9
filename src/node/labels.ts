/**
 * Class names for printing: `synset_words.txt` ("n01440764 tench, Tinca tinca"), Keras'
 * `imagenet_class_index.json`, or any text file with one name per line.
 */
import { readFileSync } from 'node:fs';

export function readLabels(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  if (path.endsWith('.json')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
    }
    if (Array.isArray(json)) return json.map(String);
    if (json && typeof json === 'object') {
      const entries = Object.entries(json as Record<string, unknown>);
      const out: string[] = [];
      for (const [k, v] of entries) out[Number(k)] = Array.isArray(v) ? String(v[v.length - 1]) : String(v);
      return out;
    }
    throw new Error(`${path}: expected a list of names or an index → name object`);
  }
  return text.split(/\r?\n/).filter((l) => l.trim()).map((l) => {
    const m = /^n\d{8}\s+(.*)$/.exec(l.trim());
    return m ? m[1] : l.trim();
  });
}
