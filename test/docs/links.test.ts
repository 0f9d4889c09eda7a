/**
 * Every relative link of the docs resolves (file, and heading anchor in a Markdown page), no page
 * announces as future what exists or may never come ("being built", "not yet", …), and the
 * README fits a terminal: at most 300 lines, none wider than 120 characters outside tables.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, anchors, codeBlocks, links, page, pages, prose, resolveFrom } from './pages.ts';

/** Phrases that date a page: each says something is missing, which the docs must not leave standing. */
const STALE = [/being built/i, /not yet/i, /reserved for/i, /coming soon/i, /\bTODO\b/, /\bTBD\b/];

const all = pages();

describe('docs/', () => {
  it('holds no docs/pending/: notes left there are folded into the pages, never left to linger', () => {
    expect(existsSync(join(REPO, 'docs/pending'))).toBe(false);
  });
});

describe('relative links in the docs', () => {
  it('resolve to a file, and to a heading when they name one', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const p of all) {
      for (const target of links(p)) {
        if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
        checked++;
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? p.path : resolveFrom(p.path, path);
        if (!existsSync(join(REPO, file))) {
          broken.push(`${p.path}: ${target} (no ${file})`);
          continue;
        }
        if (anchor !== undefined && file.endsWith('.md') && !anchors(page(file)).has(anchor)) {
          broken.push(`${p.path}: ${target} (no heading #${anchor} in ${file})`);
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
    expect(broken).toEqual([]);
  });

  it('every docs page is linked from the README', () => {
    const readme = links(page('README.md'));
    for (const p of all.filter((x) => x.path.startsWith('docs/'))) expect(readme).toContain(p.path);
  });
});

describe('stale phrases', () => {
  it.each(all.map((p) => [p.path, p.text] as const))('%s has none', (_, text) => {
    const found = text
      .split('\n')
      .flatMap((line, i) =>
        STALE.filter((re) => re.test(line)).map((re) => `${i + 1}: ${re.source}: ${line.trim()}`),
      );
    expect(found).toEqual([]);
  });
});

describe('README.md', () => {
  const readme = page('README.md');

  it('is at most 300 lines', () => {
    expect(readme.text.trimEnd().split('\n').length).toBeLessThanOrEqual(300);
  });

  it('has no line over 120 characters outside tables', () => {
    const wide = readme.text
      .split('\n')
      .map((line, i) => ({ line, n: i + 1 }))
      .filter(({ line }) => Array.from(line).length > 120 && !line.trimStart().startsWith('|'));
    expect(wide.map((w) => `${w.n}: ${w.line}`)).toEqual([]);
  });

  it('shows the status page and both commands', () => {
    expect(links(readme)).toContain('docs/status-page.png');
    const sh = codeBlocks(readme)
      .filter((b) => b.lang === 'sh')
      .map((b) => b.body)
      .join('\n');
    expect(sh).toMatch(/^npm ci && npm start/m);
    expect(sh).toMatch(/^npm ci && npm test/m);
  });
});

describe('docs pages', () => {
  it('have no prose line over 120 characters outside tables', () => {
    const wide: string[] = [];
    for (const p of all) {
      prose(p)
        .split('\n')
        .forEach((line, i) => {
          if (Array.from(line).length > 120 && !line.trimStart().startsWith('|'))
            wide.push(`${p.path}:${i + 1}`);
        });
    }
    expect(wide).toEqual([]);
  });
});
