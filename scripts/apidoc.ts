/**
 * `npm run docs`: the API reference (docs/api.md) from the declarations `tsc` emits for the two
 * public entries, src/index.ts (`webgpu-lrp`) and src/node/index.ts (`webgpu-lrp/node`). With
 * --check it writes nothing and fails when docs/api.md differs or an exported symbol (or a public
 * member of one of the API's own types, see API_FILES) has no TSDoc; test/apidoc.test.ts runs that.
 *
 * Why not TypeDoc: it drives the TypeScript 5 compiler API, which TypeScript 7 (this project's
 * compiler) no longer has. The declarations tsc 7 writes are regular enough to read directly: a
 * top-level statement starts in column 0, a member of a class or interface at 4 spaces, and
 * anything deeper (or a closing bracket at the same depth) continues the statement above; TSDoc
 * comments sit right before what they document.
 *
 * What it does: follows the entries' re-exports (`export { a as b } from`, `export *`) to each
 * declaration, and writes per entry, in export order, every symbol's TSDoc, its declaration, and
 * for classes and interfaces their public members with theirs. `{@link X}` becomes a link to X's
 * section; `@example` blocks are kept as they are. Private and protected members and @internal
 * ones (stripped at emit) are left out.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const API_DOC = 'docs/api.md';

/**
 * Where the API's own types live: their members must have TSDoc too. Types the API re-exports from
 * the internals (a Box, a PairRecord) need TSDoc on the type, their fields where they say more than
 * the name.
 */
const API_FILES = /^src\/(api\/|node\/index\.d\.ts$|index\.d\.ts$)/;

/** The public entries: import path, source file. */
export const ENTRIES: readonly { readonly name: string; readonly source: string }[] = [
  { name: 'webgpu-lrp', source: 'src/index.ts' },
  { name: 'webgpu-lrp/node', source: 'src/node/index.ts' },
];

interface Decl {
  /** The statement, without `export`/`declare`, as one block of text. */
  readonly text: string;
  readonly doc: string | null;
  readonly kind: 'class' | 'interface' | 'type' | 'function' | 'const' | 'enum';
  readonly name: string;
  /** Public members of a class or interface, in order. */
  readonly members: readonly Member[];
}

interface Member {
  readonly text: string;
  readonly doc: string | null;
  readonly name: string;
}

interface Module {
  /** Local declarations by name (exported or not: `export { x }` may export a local). */
  readonly decls: Map<string, Decl>;
  /** Exported name → where it comes from. */
  readonly exports: { name: string; from: { file: string; name: string } | { local: string } }[];
  /** `export * from` targets. */
  readonly stars: string[];
  /** Imported name → where it comes from, for `import { x } from ...; export { x };`. */
  readonly imports: Map<string, { file: string; name: string }>;
}

/** Splits lines into statements at `indent`: a line at that indent starts one unless it closes a bracket. */
function blocks(lines: readonly string[], indent: number): { doc: string | null; lines: string[] }[] {
  const out: { doc: string | null; lines: string[] }[] = [];
  let doc: string[] | null = null;
  let current: string[] | null = null;
  const pad = ' '.repeat(indent);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const at = line.startsWith(pad) && line[indent] !== ' ';
    const body = line.slice(indent);
    if (at && body.startsWith('/**')) {
      current = null;
      doc = [body];
      while (!doc[doc.length - 1].includes('*/')) doc.push(lines[++i].slice(indent));
      continue;
    }
    if (at && !/^[)}\]>]/.test(body)) {
      current = [body];
      out.push({ doc: doc ? doc.join('\n') : null, lines: current });
      doc = null;
    } else if (current) {
      current.push(line.startsWith(pad) ? line.slice(indent) : line);
    }
  }
  return out;
}

/** A TSDoc comment's text, without the comment markers. */
function docText(doc: string): string {
  return doc.replace(/^\/\*\*\s?/, '').replace(/\s*\*\/$/, '').split('\n').map((l) => l.replace(/^\s*\* ?/, '')).join('\n').trim()
    .replace(/^@example\s*$/gm, '*Example:*');
}

const DECL = /^(?:export\s+)?(?:declare\s+)?(?:abstract\s+)?(class|interface|type|function|const|let|enum)\s+([A-Za-z_$][\w$]*)/;

function parseModule(file: string): Module {
  const text = readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/, '');
  const decls = new Map<string, Decl>();
  const exports: Module['exports'] = [];
  const stars: string[] = [];
  const imports = new Map<string, { file: string; name: string }>();
  const target = (spec: string) => resolve(dirname(file), spec.replace(/\.ts$/, '.d.ts').replace(/\.js$/, '.d.ts'));
  for (const b of blocks(text.split('\n'), 0)) {
    const stmt = b.lines.join('\n');
    let m: RegExpExecArray | null;
    if ((m = /^import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+['"]([^'"]+)['"]/.exec(stmt))) {
      for (const part of m[1].split(',').map((x) => x.trim()).filter(Boolean)) {
        const [orig, alias] = part.replace(/^type\s+/, '').split(/\s+as\s+/);
        imports.set(alias ?? orig, { file: target(m[2]), name: orig });
      }
    } else if ((m = /^export\s+\*\s+from\s+['"]([^'"]+)['"]/.exec(stmt))) {
      stars.push(target(m[1]));
    } else if ((m = /^export\s+(?:type\s+)?\{([^}]*)\}(?:\s+from\s+['"]([^'"]+)['"])?/.exec(stmt))) {
      for (const part of m[1].split(',').map((s) => s.trim()).filter(Boolean)) {
        const [orig, alias] = part.replace(/^type\s+/, '').split(/\s+as\s+/);
        exports.push({ name: alias ?? orig, from: m[2] ? { file: target(m[2]), name: orig } : { local: orig } });
      }
    } else if ((m = DECL.exec(stmt))) {
      const kind = (m[1] === 'let' ? 'const' : m[1]) as Decl['kind'];
      const exported = stmt.startsWith('export ');
      const clean = stmt.replace(/^export\s+/, '').replace(/^declare\s+/, '');
      const members = kind === 'class' || kind === 'interface' ? parseMembers(b.lines.slice(1, -1)) : [];
      decls.set(m[2], { text: kind === 'class' || kind === 'interface' ? clean.split('\n')[0].replace(/\s*\{$/, '') : clean, doc: b.doc, kind, name: m[2], members });
      if (exported) exports.push({ name: m[2], from: { local: m[2] } });
    }
  }
  return { decls, exports, stars, imports };
}

function parseMembers(lines: readonly string[]): Member[] {
  const out: Member[] = [];
  for (const b of blocks(lines, 4)) {
    const text = b.lines.join('\n').trim();
    if (/^(private|protected)\b/.test(text)) continue;
    const name = /^(?:static\s+)?(?:readonly\s+)?(?:get\s+|set\s+)?(constructor|\[[^\]]+\]|'[^']*'|"[^"]*"|[A-Za-z_$][\w$]*)/.exec(text)?.[1] ?? text;
    out.push({ text: text.replace(/;$/, ''), doc: b.doc, name });
  }
  return out;
}

interface Symbol {
  readonly name: string;
  readonly decl: Decl;
  /** The module that declares it, relative to the declaration root (e.g. src/api/lrp.d.ts). */
  readonly file: string;
}

/** The exported symbols of an entry, in export order, each with its declaration. */
function entrySymbols(entry: string, root: string): Symbol[] {
  const cache = new Map<string, Module>();
  const mod = (f: string) => {
    let m = cache.get(f);
    if (!m) {
      if (!existsSync(f)) throw new Error(`apidoc: ${relative(root, f)} is missing`);
      m = parseModule(f);
      cache.set(f, m);
    }
    return m;
  };
  const find = (file: string, name: string, seen: Set<string>): { decl: Decl; file: string } | null => {
    const key = `${file}#${name}`;
    if (seen.has(key)) return null;
    seen.add(key);
    const m = mod(file);
    const e = m.exports.find((x) => x.name === name);
    if (e) {
      if ('local' in e.from) {
        const d = m.decls.get(e.from.local);
        if (d) return { decl: d, file };
        const imported = m.imports.get(e.from.local);
        if (imported) return find(imported.file, imported.name, seen);
        throw new Error(`apidoc: ${relative(root, file)} re-exports local '${e.from.local}' without declaring it`);
      }
      return find(e.from.file, e.from.name, seen);
    }
    for (const s of m.stars) {
      const r = find(s, name, seen);
      if (r) return r;
    }
    return null;
  };
  const names = (file: string, seen = new Set<string>()): string[] => {
    if (seen.has(file)) return [];
    seen.add(file);
    const m = mod(file);
    const own = m.exports.map((e) => e.name);
    const starred = m.stars.flatMap((s) => names(s, seen)).filter((n) => !own.includes(n));
    return [...own, ...starred];
  };
  const file = join(root, entry.replace(/\.ts$/, '.d.ts'));
  return [...new Set(names(file))].map((name) => {
    const r = find(file, name, new Set());
    if (!r) throw new Error(`apidoc: cannot find the declaration of '${name}' exported by ${entry}`);
    return { name, decl: r.decl, file: relative(root, r.file).split('\\').join('/') };
  });
}

const anchor = (entry: string, name: string) => `${entry.replace(/[^a-z]+/g, '-')}-${name.toLowerCase()}`;

/** The reference as markdown, and the symbols and members that lack TSDoc. */
export function renderReference(root: string): { markdown: string; undocumented: string[] } {
  const undocumented: string[] = [];
  const perEntry = ENTRIES.map((e) => ({ entry: e, symbols: entrySymbols(e.source, root) }));
  const core = new Set(perEntry[0].symbols.map((s) => `${s.file}#${s.decl.name}`));
  const linkTargets = new Map<string, string>();
  for (const { entry, symbols } of perEntry) {
    for (const s of symbols) if (!linkTargets.has(s.name) || entry.name === ENTRIES[0].name) linkTargets.set(s.name, anchor(entry.name, s.name));
  }
  const prose = (doc: string) => docText(doc).replace(/\{@link\s+([\w$]+)(?:\.([\w$]+))?\s*\}/g, (_, a: string, b?: string) => {
    const target = linkTargets.get(a);
    const label = b ? `${a}.${b}` : a;
    return target ? `[\`${label}\`](#${target})` : `\`${label}\``;
  });
  const out: string[] = [
    '# API reference',
    '',
    '<!-- Generated by `npm run docs` (scripts/apidoc.ts) from the declarations of src/index.ts and src/node/index.ts: do not edit. -->',
    '',
    'Two import paths, nothing else: `webgpu-lrp`, the core, which runs in a browser and anywhere a `GPUDevice` is, and',
    '`webgpu-lrp/node`, which re-exports all of it with an `Lrp` that starts Dawn and reads files, and adds the file',
    'helpers. The [README](../README.md#library) shows both in use.',
    '',
  ];
  for (const { entry } of perEntry) out.push(`- [\`${entry.name}\`](#${anchor(entry.name, 'entry')})`);
  out.push('');
  for (const { entry, symbols } of perEntry) {
    out.push(`<a id="${anchor(entry.name, 'entry')}"></a>`, `## ${entry.name}`, '');
    const own = entry.name === ENTRIES[0].name ? symbols : symbols.filter((s) => !core.has(`${s.file}#${s.decl.name}`));
    if (own !== symbols) out.push(`Everything of [\`${ENTRIES[0].name}\`](#${anchor(ENTRIES[0].name, 'entry')}), and:`, '');
    out.push(own.map((s) => `[\`${s.name}\`](#${anchor(entry.name, s.name)})`).join(' · '), '');
    for (const s of own) {
      const { decl } = s;
      const title = s.name === decl.name ? s.name : `${s.name} (${decl.name})`;
      out.push(`<a id="${anchor(entry.name, s.name)}"></a>`, `### ${decl.kind} ${title}`, '');
      if (decl.doc) out.push(prose(decl.doc), '');
      else undocumented.push(`${entry.name}: ${s.name}`);
      const signature = s.name === decl.name ? decl.text : decl.text.replace(new RegExp(`\\b${decl.name}\\b`), s.name);
      out.push('```ts', signature, '```', '', `<sub>Declared in \`${s.file.replace(/\.d\.ts$/, '.ts')}\`.</sub>`, '');
      for (const m of decl.members) {
        out.push(`- \`${m.text.replace(/\s*\n\s*/g, ' ')}\``);
        if (m.doc) out.push('', ...prose(m.doc).split('\n').map((l) => (l ? `  ${l}` : '')), '');
        else if (API_FILES.test(s.file)) undocumented.push(`${entry.name}: ${s.name}.${m.name}`);
      }
      if (decl.members.length) out.push('');
    }
  }
  return { markdown: `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`, undocumented };
}

/** Emits the declarations into a temporary folder and renders the reference from them. */
export function generateReference(): { markdown: string; undocumented: string[] } {
  const out = mkdtempSync(join(tmpdir(), 'lrp-apidoc-'));
  try {
    const tsc = join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc');
    const r = spawnSync(tsc, ['-p', 'tsconfig.build.json', '--emitDeclarationOnly', '--declarationMap', 'false', '--outDir', out], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`apidoc: tsc failed:\n${r.stdout}${r.stderr}`);
    return renderReference(out);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function main(argv: string[]): number {
  const { markdown, undocumented } = generateReference();
  const path = join(ROOT, API_DOC);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : null;
  if (undocumented.length) console.error(`docs: no TSDoc on ${undocumented.length} exported symbols or members:\n  ${undocumented.join('\n  ')}`);
  if (argv.includes('--check')) {
    if (current !== markdown) console.error(`docs: ${API_DOC} differs from what \`npm run docs\` writes`);
    return current === markdown && undocumented.length === 0 ? 0 : 1;
  }
  if (current !== markdown) writeFileSync(path, markdown);
  console.log(`docs: ${current === markdown ? `${API_DOC} is up to date` : `wrote ${API_DOC}`}`);
  return undocumented.length ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
