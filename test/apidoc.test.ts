/**
 * The API reference (docs/api.md) is what `npm run docs` writes from the declarations of the two
 * public entries, and every exported symbol has TSDoc (scripts/apidoc.ts says what is checked).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_DOC, generateReference } from '../scripts/apidoc.ts';

describe('npm run docs', () => {
  const { markdown, undocumented } = generateReference();

  it('documents every exported symbol', () => {
    expect(undocumented, 'exported symbols without TSDoc').toEqual([]);
  });

  it(`changes nothing in the committed ${API_DOC}`, () => {
    expect(readFileSync(new URL(`../${API_DOC}`, import.meta.url), 'utf8') === markdown, `${API_DOC} differs: run \`npm run docs\``).toBe(true);
  });

  it("the README's Library section holds the examples as they are (what a newcomer copies runs)", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const library = readme.slice(readme.indexOf('## Library'), readme.indexOf('\n## ', readme.indexOf('## Library') + 1));
    for (const f of ['examples/node/explain.mjs', 'examples/browser/main.ts']) {
      const code = readFileSync(new URL(`../${f}`, import.meta.url), 'utf8').trimEnd();
      expect(library.includes(`\n${code}\n\`\`\``), `README's Library section differs from ${f}`).toBe(true);
    }
  });

  it('covers both entries, the Node example\'s names and the explain path', () => {
    for (const heading of ['## webgpu-lrp', '## webgpu-lrp/node', '### class Lrp', '### class Explainer', '### class Explanation',
      '### class Composite', '### class Evaluator', '### function readImage', '### function writePng', '### function localization']) {
      expect(markdown, heading).toContain(`${heading}\n`);
    }
    // Links resolve to anchors that exist.
    const anchors = new Set([...markdown.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]));
    const links = [...markdown.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
    expect(links.filter((l) => !anchors.has(l))).toEqual([]);
  });
});
