/**
 * Generated regions in hand-written WGSL. WGSL has no include, so a piece several kernels share
 * (or one unrolled by hand) is written into each file between markers:
 *
 *   // <generated: SNIPPET key=value key="a value with spaces">
 *   ...lines `npm run shaders` writes...
 *   // </generated>
 *
 * The markers are comments: the file stays plain WGSL that the browser and Dawn load as is. The
 * region's lines take the opening marker's indentation. Everything outside the regions is the
 * author's and is never touched.
 */
import { SNIPPETS } from './snippets.ts';

const OPEN = /^(\s*)\/\/ <generated: ([\w-]+)((?:\s+\w+=(?:"[^"]*"|\S+))*)\s*>\s*$/;
const CLOSE = /^\s*\/\/ <\/generated>\s*$/;

function parseArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const m of text.matchAll(/(\w+)=("[^"]*"|\S+)/g)) args[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
  return args;
}

/**
 * The file's text with every generated region rewritten; throws naming file and line on a bad marker.
 * `extra` adds arguments to the regions of the snippets it names (a variant's, see variants.ts).
 */
export function fillRegions(text: string, file: string, extra: Readonly<Record<string, Readonly<Record<string, string>>>> = {}): { text: string; regions: number } {
  const lines = text.split('\n');
  const out: string[] = [];
  let regions = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (CLOSE.test(line)) throw new Error(`${file}:${i + 1}: '// </generated>' without an opening marker`);
    if (!line.includes('<generated')) {
      out.push(line);
      continue;
    }
    const m = OPEN.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: cannot read the marker (expected '// <generated: SNIPPET key=value ...>')`);
    const [, indent, name, argText] = m;
    const where = `${file}:${i + 1}: <generated: ${name}>`;
    const snippet = SNIPPETS[name];
    if (!snippet) throw new Error(`${where}: no such snippet (snippets: ${Object.keys(SNIPPETS).join(', ')})`);
    let end = i + 1;
    while (end < lines.length && !CLOSE.test(lines[end])) {
      if (lines[end].includes('<generated')) throw new Error(`${file}:${end + 1}: a marker inside the region opened at line ${i + 1}`);
      end++;
    }
    if (end === lines.length) throw new Error(`${where}: no '// </generated>' closes it`);
    out.push(line, ...snippet({ ...parseArgs(argText), ...extra[name] }, where).map((l) => (l ? indent + l : l)), lines[end]);
    regions++;
    i = end;
  }
  return { text: out.join('\n'), regions };
}
