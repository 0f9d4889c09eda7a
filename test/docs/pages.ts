/**
 * The documentation pages the docs tests guard, and the pieces they look at: fenced code blocks,
 * prose (everything outside code blocks), tables, headings and links.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface Page {
  /** Path from the repository root, e.g. `docs/operations.md`. */
  readonly path: string;
  readonly text: string;
}

export interface CodeBlock {
  readonly page: string;
  /** The info string after the opening fence (`sh`, `yaml`, …), empty when none. */
  readonly lang: string;
  /** The block's lines with the fence's indentation removed. */
  readonly body: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
}

function read(path: string): Page {
  return { path, text: readFileSync(join(REPO, path), 'utf8') };
}

/** README.md, every docs/*.md page and deploy/README.md. */
export function pages(): readonly Page[] {
  const docs = readdirSync(join(REPO, 'docs'), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.md'))
    .map((e) => `docs/${e.name}`)
    .sort();
  return [read('README.md'), ...docs.map(read), read('deploy/README.md')];
}

export function page(path: string): Page {
  return read(path);
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;

/** Fenced code blocks, in order. */
export function codeBlocks(p: Page): readonly CodeBlock[] {
  const lines = p.text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '');
    if (open === null) continue;
    const [, indent = '', fence = '', lang = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j] ?? '';
      if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    blocks.push({ page: p.path, lang, body: body.join('\n'), line: i + 1 });
    i = j;
  }
  return blocks;
}

/** The page with every fenced code block blanked out (line numbers kept). */
export function prose(p: Page): string {
  const lines = p.text.split('\n');
  let inside: string | null = null;
  return lines
    .map((line) => {
      const open = FENCE.exec(line);
      if (inside === null && open !== null) {
        inside = open[2] ?? '```';
        return '';
      }
      if (inside !== null) {
        if (line.trim().startsWith(inside) && line.trim().replace(/[`~]/g, '') === '')
          inside = null;
        return '';
      }
      return line;
    })
    .join('\n');
}

/** Markdown tables of the prose: the header cells and the body rows, cells trimmed. */
export function tables(p: Page): readonly { header: string[]; rows: string[][] }[] {
  const out: { header: string[]; rows: string[][] }[] = [];
  const lines = prose(p).split('\n');
  const cells = (line: string): string[] =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i] ?? '';
    if (!head.trim().startsWith('|') || !/^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1] ?? '')) continue;
    const rows: string[][] = [];
    let j = i + 2;
    for (; j < lines.length && (lines[j] ?? '').trim().startsWith('|'); j++) {
      rows.push(cells(lines[j] ?? ''));
    }
    out.push({ header: cells(head), rows });
    i = j - 1;
  }
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors a page's headings define (duplicates get -1, -2, … as on GitHub). */
export function anchors(p: Page): ReadonlySet<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of prose(p).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(m[1] ?? '');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Markdown links and images of the prose: `[text](target)`. */
export function links(p: Page): readonly string[] {
  return [...prose(p).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] ?? '');
}

/** Path of `target` (relative to `from`'s folder) from the repository root. */
export function resolveFrom(from: string, target: string): string {
  return relative(REPO, join(REPO, from, '..', target));
}
